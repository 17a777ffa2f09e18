"""Binary COPY (storage/copying.py) against a real PostgreSQL: values come back as they went
in, and a value too wide for its column is refused by PostgreSQL, never packed into it."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from dream.parsing.model import ProcessRecord
from dream.snapshots import ProcessedSnapshot, Snapshot
from dream.storage.copying import copy_binary
from dream.storage.writer import SnapshotWriter

COPY = b"COPY narrow (i, r, b, t, at) FROM STDIN"


@pytest.fixture
def conn(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute("CREATE TEMP TABLE narrow (i integer, r real, b bigint, t text,"
                  " at timestamptz)")  # fmt: skip
        yield c


def test_values_come_back_as_they_went_in(conn: psycopg.Connection) -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    rows = [(2**31 - 1, 0.5, 2**62, "tab\there\nnew\\N", at), (-(2**31), -2.5, None, "", None),
            (None, None, -(2**63), "Ünïcode ☃", at)]  # fmt: skip
    copy_binary(conn, COPY, rows)
    assert conn.execute("SELECT i, r, b, t, at FROM narrow ORDER BY t").fetchall() == sorted(
        rows, key=lambda r: r[3]
    )


@pytest.mark.parametrize(
    ("row", "refusal"),
    [
        ((99999999999, 0.0, 0, "", None), "out of range for type integer"),
        ((-(2**31) - 1, 0.0, 0, "", None), "out of range for type integer"),
        ((0, 1e40, 0, "", None), "out of range for type real"),
        ((0, -math.inf, 0, "", None), None),  # text stores it: what PostgreSQL's real holds
    ],
)
def test_a_value_wider_than_its_column_is_refused_not_wrapped(
    conn: psycopg.Connection, row: tuple, refusal: str | None
) -> None:
    rows = [(1, 1.0, 1, "fits", None), row]
    if refusal is None:
        copy_binary(conn, COPY, rows)
        assert conn.execute("SELECT r FROM narrow WHERE t = ''").fetchone() == (-math.inf,)
        return
    with pytest.raises(psycopg.errors.NumericValueOutOfRange, match=refusal):
        copy_binary(conn, COPY, rows)
    assert conn.execute("SELECT count(*) FROM narrow").fetchone() == (0,)


def test_a_session_whose_pid_no_integer_holds_is_refused_without_per_sample_rows(
    database_url: str,
) -> None:
    """With DREAM_RAW_ROWS_RETENTION_DAYS=0 the sessions are the first COPY that meets the
    listing's values: a PID past ``integer`` must make the snapshot refused (and dead-lettered),
    not stored under another PID."""
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)

    def snapshot(pid: int) -> ProcessedSnapshot:
        snap = Snapshot(snapshot_id=uuid.uuid4(), host=f"lab-{pid}", os="linux", user="asmith",
                        faculty="law", collected_at=at, received_at=at, command="ps aux",
                        output="(raw)")  # fmt: skip
        return ProcessedSnapshot(snap, "stored", format="ps-aux",
                                 processes=[ProcessRecord(pid=pid, name="odd", app="odd")])  # fmt: skip

    batch = [snapshot(4242), snapshot(99999999999), snapshot(4343)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = SnapshotWriter(raw_rows_retention_days=0).write(conn, batch)
        pids = [r[0] for r in conn.execute("SELECT pid FROM sessions ORDER BY pid")]
    assert [i for i, _ in summary.rejected] == [1]
    assert "out of range" in summary.rejected[0][1]
    assert pids == [4242, 4343]
