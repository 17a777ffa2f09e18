"""Schema, migrations, partitions and the idempotent COPY writer, on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from dream.parsing.model import ProcessRecord
from dream.snapshots import ProcessedSnapshot, Snapshot
from dream.storage.migrate import available_migrations, migrate
from dream.storage.partitions import PartitionManager, next_month, month_of
from dream.storage.queries import parse_named_queries, queries
from dream.storage.writer import SnapshotWriter


def make_snapshot(collected_at: datetime, host: str = "med-pc-02") -> Snapshot:
    return Snapshot(
        snapshot_id=uuid.uuid4(), host=host, os="linux", user="asmith", faculty="medicine",
        collected_at=collected_at, received_at=datetime.now(UTC), command="ps aux",
        output="(raw)",
    )  # fmt: skip


def processes(n: int) -> list[ProcessRecord]:
    return [
        ProcessRecord(pid=100 + i, ppid=1, user="asmith", name="python3", command=f"python3 job{i}.py",
                      app="python3", cpu_percent=1.5, mem_percent=0.1, rss_kb=2048 + i)
        for i in range(n)
    ]  # fmt: skip


def test_migrations_apply_once(database_url: str) -> None:
    assert migrate(database_url) == []  # the fixture already migrated
    with psycopg.connect(database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in available_migrations()]


def test_named_queries_are_split_and_unique() -> None:
    assert {"upsert_processed_snapshot", "get_snapshot", "fetch_pending_snapshots"} <= set(
        queries()
    )
    parsed = parse_named_queries("-- name: a\n-- a comment\nSELECT 1\n\n-- name: b\nSELECT 2\n")
    assert parsed == {"a": "SELECT 1", "b": "SELECT 2"}
    with pytest.raises(ValueError, match="twice"):
        parse_named_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_month_arithmetic() -> None:
    assert month_of(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)).isoformat() == "2026-12-01"
    assert next_month(month_of(datetime(2026, 12, 5, tzinfo=UTC))).isoformat() == "2027-01-01"


def test_writer_is_idempotent_and_partitions_by_month(database_url: str) -> None:
    writer = SnapshotWriter(PartitionManager())
    november = ProcessedSnapshot(make_snapshot(datetime(2025, 12, 27, 10, tzinfo=UTC)), "stored",
                                 format="ps-aux", processes=processes(5))  # fmt: skip
    january = ProcessedSnapshot(make_snapshot(datetime(2026, 1, 2, 8, tzinfo=UTC)), "stored",
                                format="ps-aux", processes=processes(3))  # fmt: skip
    failed = ProcessedSnapshot(make_snapshot(datetime(2025, 12, 27, 11, tzinfo=UTC)), "failed",
                               error="line 1: no known header")  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        first = writer.write(conn, [november, january, failed, november])
        assert (first.snapshots_written, first.snapshots_skipped, first.process_rows) == (3, 1, 8)
        # A replay of the whole batch changes nothing, even through a fresh partition cache.
        again = SnapshotWriter(PartitionManager()).write(conn, [november, january, failed])
        assert (again.snapshots_written, again.snapshots_skipped, again.process_rows) == (0, 3, 0)

        partitions = sorted(
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'processes'"
            )
        )
        assert partitions == ["processes_2025_12", "processes_2026_01"]
        assert conn.execute("SELECT count(*) FROM processes_2025_12").fetchone()[0] == 5
        assert conn.execute("SELECT count(*) FROM processes_2026_01").fetchone()[0] == 3
        status = dict(conn.execute("SELECT snapshot_id, status FROM snapshots").fetchall())
        assert status[failed.snapshot.snapshot_id] == "failed"
        row = conn.execute(
            "SELECT host, faculty, user_name, pid, app, rss_kb, is_system FROM processes"
            " WHERE snapshot_id = %s AND pid = 102",
            (november.snapshot.snapshot_id,),
        ).fetchone()
        assert row == ("med-pc-02", "medicine", "asmith", 102, "python3", 2050, False)


def test_pending_snapshot_is_completed_once(database_url: str) -> None:
    from dream.storage.database import Database

    db = Database(database_url)
    db.open()
    try:
        snapshot = make_snapshot(datetime(2025, 12, 27, 10, tzinfo=UTC))
        db.insert_pending(snapshot)
        db.insert_pending(snapshot)  # a client retry
        assert [s.snapshot_id for s in db.fetch_pending(10)] == [snapshot.snapshot_id]
        assert db.get_snapshot(snapshot.snapshot_id)["status"] == "pending"
        done = ProcessedSnapshot(snapshot, "stored", format="ps-aux", processes=processes(4))
        with db.pool.connection() as conn:
            assert SnapshotWriter().write(conn, [done]).process_rows == 4
            assert SnapshotWriter().write(conn, [done]).process_rows == 0
        assert db.fetch_pending(10) == []
        assert db.get_snapshot(snapshot.snapshot_id)["process_count"] == 4
    finally:
        db.close()


def test_process_rows_keep_every_value_the_copy_text_must_escape(database_url: str) -> None:
    """The writer renders COPY text itself: tabs, newlines, backslashes, \\N look-alikes,
    non-ASCII, None, floats and large integers come back as they went in."""
    from dream.snapshots import PROCESS_FIELDS
    from dream.storage.writer import TABLE_COLUMNS

    odd = ProcessRecord(
        pid=2**31 - 1, ppid=None, user="dom\\user", name="a\tb", command="x\\Ny\nz\r\\N",
        app="Ünïcode ☃", is_system=True, cpu_percent=0.1, mem_percent=1e-7, rss_kb=2**40,
        vsz_kb=0, state="\\", tty=None, started="Dec05", cpu_seconds=123456.789, threads=7,
        session=None, session_name="", status="\\N", window_title="t\\tab",
    )  # fmt: skip
    plain = ProcessRecord()
    snap = make_snapshot(datetime(2026, 1, 3, 8, 30, 15, 123456, tzinfo=UTC), host="host\\tab")
    item = ProcessedSnapshot(snap, "stored", format="ps-aux", processes=[odd, plain])
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert SnapshotWriter(PartitionManager()).write(conn, [item]).process_rows == 2
        columns = ", ".join(TABLE_COLUMNS[-len(PROCESS_FIELDS):])
        rows = conn.execute(f"SELECT collected_at, host, {columns} FROM processes ORDER BY pid NULLS LAST"
                            ).fetchall()  # fmt: skip
        # Sessions are COPYed in binary (storage/copying.py): the same values come back.
        sessions = conn.execute("SELECT host, user_name, pid, name, first_seen, app, is_system,"
                                " process_user, cpu_first, rss_peak_kb FROM sessions ORDER BY pid"
                                ).fetchall()  # fmt: skip
    assert sessions == [
        ("host\\tab", "asmith", -1, "", snap.collected_at, "", False, None, None, None),
        ("host\\tab", "asmith", 2**31 - 1, "a\tb", snap.collected_at, "Ünïcode ☃", True,
         "dom\\user", 123456.789, 2**40),
    ]
    assert [r[:2] for r in rows] == [(snap.collected_at, "host\\tab")] * 2
    assert [r[2:] for r in rows] == [
        tuple(getattr(p, name) for name in PROCESS_FIELDS) for p in (odd, plain)
    ]
