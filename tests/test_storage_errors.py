"""Storage's driver errors, as callers above it see them: transient (retryable) or refused,
raised by a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from dream.errors import StatementTimeout, StorageRefused, StorageUnavailable
from dream.storage.errors import storage_errors


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1 / 0",  # 22012 division by zero
        "SELECT 'not a number'::int",  # 22P02 invalid text representation
        "SELECT 40000::smallint",  # 22003 numeric value out of range
        "CREATE TEMP TABLE t (x int CHECK (x > 0)); INSERT INTO t VALUES (-1)",  # 23514
        # 54000 index row size exceeds the maximum: the same value fails however often it is sent
        "CREATE TEMP TABLE t (x text PRIMARY KEY);"
        " INSERT INTO t SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g",
    ],
)
def test_data_the_database_refuses_is_not_retryable(database_url: str, statement: str) -> None:
    with (
        psycopg.connect(database_url) as conn,
        pytest.raises(StorageRefused, match="^checking: ") as raised,
        storage_errors("checking"),
    ):
        conn.execute(statement)
    assert not raised.value.retryable
    assert isinstance(raised.value.__cause__, psycopg.Error)


def test_a_cancelled_statement_is_a_retryable_timeout(database_url: str) -> None:
    with (
        psycopg.connect(database_url, options="-c statement_timeout=50") as conn,
        pytest.raises(StatementTimeout) as raised,
        storage_errors(),
    ):
        conn.execute("SELECT pg_sleep(2)")
    assert raised.value.retryable


def test_a_terminated_connection_is_retryable(database_url: str) -> None:
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        psycopg.connect(database_url, autocommit=True) as admin,
    ):
        pid = conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StorageUnavailable) as raised, storage_errors():
            conn.execute("SELECT 1")
    assert raised.value.retryable and not isinstance(raised.value, StatementTimeout)


def test_an_exhausted_pool_is_retryable(database_url: str) -> None:
    with (
        ConnectionPool(database_url, min_size=1, max_size=1, open=True) as pool,
        pool.connection(),
        pytest.raises(StorageUnavailable) as raised,
        storage_errors(),
        pool.connection(timeout=0.1),
    ):
        pass
    assert raised.value.retryable
