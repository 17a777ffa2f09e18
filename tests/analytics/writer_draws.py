"""Snapshots drawn for property tests of what the writer keeps: a few hosts and users, each
listing a set of processes from a pool, at minutes after a base instant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, UTC

import psycopg
from hypothesis import strategies as st

from dream.parsing.model import ProcessRecord
from dream.snapshots import ProcessedSnapshot, Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.writer import SnapshotWriter

Pool = Sequence[tuple[int | None, str, str]]  # (pid, name, app); app "svchost" is a system one


def snapshot(base: datetime, pool: Pool, host: str, minute: int, cadence: float | None,
             user: str, procs: set[int]) -> ProcessedSnapshot:  # fmt: skip
    """A stored snapshot of ``host`` at ``base + minute`` listing ``pool``'s ``procs``."""
    snap = Snapshot(
        snapshot_id=uuid.uuid4(), host=host, os="windows", user=user, faculty="law",
        collected_at=base + timedelta(minutes=minute), received_at=datetime.now(UTC),
        command="tasklist /v", output="(raw)", interval_s=cadence,
    )  # fmt: skip
    records = [ProcessRecord(pid=pool[i][0], name=pool[i][1], app=pool[i][2], user=user,
                             is_system=pool[i][2] == "svchost") for i in sorted(procs)]  # fmt: skip
    return ProcessedSnapshot(snap, "stored", format="tasklist", processes=records)


def specs(hosts: Sequence[str], pool: Pool) -> st.SearchStrategy[list[tuple]]:
    """Lists of ``snapshot``'s arguments after ``pool``, over 150 minutes and mixed cadences."""
    return st.lists(
        st.tuples(
            st.sampled_from(list(hosts)),
            st.integers(0, 150),  # minutes after the base
            st.sampled_from([None, 60.0, 90.5, 600.0]),
            st.sampled_from(["ann", "bob"]),
            st.sets(st.integers(0, len(pool) - 1), min_size=1),
        ),
        min_size=1,
        max_size=25,
    )


def write_checked(url: str, snaps: Sequence[ProcessedSnapshot], batch: int,
                  check: Callable[[psycopg.Connection], None]) -> None:  # fmt: skip
    """From empty tables, writes ``snaps`` ``batch`` at a time as a worker would, calling
    ``check`` on the empty tables and after each write."""
    writer = SnapshotWriter(PartitionManager())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE snapshots, processes, sessions, usage_hours_daily,"
                     " usage_hours_daily_apps")  # fmt: skip
        check(conn)
        for i in range(0, len(snaps), batch):
            assert not writer.write(conn, snaps[i : i + batch]).rejected
            check(conn)
