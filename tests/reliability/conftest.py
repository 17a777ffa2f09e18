"""Fault-injection fixtures: brokers and databases of the test's own, to stop and restart.

The shared services of tests/conftest.py are never stopped; a test that kills a broker or a
PostgreSQL starts its own here (same ports and data on restart) and removes it afterwards.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import services  # scripts/services.py (put on sys.path by tests/conftest.py)
from psycopg.conninfo import make_conninfo

from helpers import unavailable


class OwnKafka:
    """A single-node broker only this test uses."""

    def __init__(self) -> None:
        self.name = f"test-kafka-faults-{uuid.uuid4().hex[:8]}"
        self.state = services.start_kafka(self.name)

    @property
    def bootstrap(self) -> str:
        return self.state["bootstrap"]

    def stop(self, *, kill: bool = False) -> None:
        services.stop_kafka(self.state, kill=kill)

    def restart(self) -> None:
        self.state = services.restart_kafka(self.state)

    def remove(self) -> None:
        services.stop_kafka(self.state, kill=True)
        shutil.rmtree(self.state["workdir"], ignore_errors=True)


class OwnPostgres:
    """A PostgreSQL server only this test uses, with one migrated database in it."""

    def __init__(self) -> None:
        self.name = f"test-pg-faults-{uuid.uuid4().hex[:8]}"
        self.state = services.start_postgres(self.name)
        from dream.storage.migrate import migrate

        with psycopg.connect(self.state["url"], autocommit=True) as conn:
            conn.execute('CREATE DATABASE "dream_faults"')
        self.url = make_conninfo(self.state["url"], dbname="dream_faults")
        migrate(self.url)

    def stop(self) -> None:
        services.stop_postgres(self.state)

    def restart(self) -> None:
        state = services.restart_postgres(self.state)
        assert state["url"] == self.state["url"], "PostgreSQL came back under another address"

    def remove(self) -> None:
        services.stop_postgres(self.state)
        shutil.rmtree(self.state["pgdata"], ignore_errors=True)


@pytest.fixture
def own_kafka() -> Iterator[OwnKafka]:
    try:
        broker = OwnKafka()
    except Exception as exc:  # any failure means "no broker of our own"
        unavailable(f"could not start a Kafka broker for fault injection: {exc}")
    try:
        yield broker
    finally:
        broker.remove()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    try:
        server = OwnPostgres()
    except Exception as exc:  # any failure means "no PostgreSQL of our own"
        unavailable(f"could not start PostgreSQL for fault injection: {exc}")
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
