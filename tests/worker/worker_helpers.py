"""The worker on the in-memory transport (its behaviour checked against Kafka and direct by
tests/transport/) and a real PostgreSQL, which a test can take away and give back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from dream.snapshots import Snapshot, SnapshotIn
from dream.storage.database import Database
from dream.transport.memory import MemoryBroker, MemoryPublisher, MemorySource
from dream.worker.runner import Worker

from helpers import snapshot_body


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(lanes=2)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=2)
    database.open()
    yield database
    database.close()


def publish(broker: MemoryBroker, output: str, host: str = "eng-lab-04") -> Snapshot:
    snapshot = Snapshot.accept(SnapshotIn.model_validate(snapshot_body(output, host=host)))
    anyio.run(MemoryPublisher(broker).publish, snapshot)
    return snapshot


def new_worker(broker: MemoryBroker, db: Database, **options: object) -> Worker:
    """A worker as `dream worker` runs it, minus the blob store, with short waits."""
    defaults: dict[str, object] = {"batch_size": 10, "batch_wait_s": 0.05, "max_backoff_s": 0.2,
                                   "connect_timeout_s": 0.5}  # fmt: skip
    return Worker(MemorySource(broker), db, **(defaults | options))  # type: ignore[arg-type]


@contextmanager
def running(worker: Worker) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=worker.run, name="worker-under-test", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(timeout=30)
        worker.source.close()
        assert not thread.is_alive(), "the worker did not stop"


def stored(database_url: str) -> dict[str, str]:
    """snapshot_id → status of every snapshot in the database."""
    with psycopg.connect(database_url) as conn:
        return {str(i): s for i, s in conn.execute("SELECT snapshot_id, status FROM snapshots")}


@pytest.fixture
def database_away(database_url: str, postgres_server_url: str) -> Iterator[Callable[[bool], None]]:
    """``database_away(True)``: the test database refuses connections and drops the open ones
    (a real outage, as the worker sees it); ``database_away(False)`` brings it back."""
    name = conninfo_to_dict(database_url)["dbname"]

    def switch(away: bool) -> None:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not away).lower()}')
            if away:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = %s AND pid <> pg_backend_pid()", [name])  # fmt: skip

    yield switch
    switch(False)
