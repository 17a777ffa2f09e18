"""Writes processed snapshots: snapshot rows upserted, process rows COPYed, one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from dream.analytics.rollups import RollupBatch
from dream.errors import StorageError
from dream.parsing.model import ProcessRecord
from dream.snapshots import Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.queries import query
from dream.storage.database import snapshot_params

PROCESS_COLUMNS: tuple[str, ...] = (
    "snapshot_id", "collected_at", "host", "os", "user_name", "faculty",
    "pid", "ppid", "process_user", "name", "command", "app", "is_system",
    "cpu_percent", "mem_percent", "rss_kb", "vsz_kb", "state", "tty", "started",
    "cpu_seconds", "threads", "session", "session_name", "status", "window_title",
)  # fmt: skip

COPY_PROCESSES = ("COPY processes (" + ", ".join(PROCESS_COLUMNS) + ") FROM STDIN").encode()


@dataclass(slots=True)
class ProcessedSnapshot:
    """A snapshot after parsing: ready to be written, whether parsing succeeded or not."""

    snapshot: Snapshot
    status: Literal["stored", "failed"]
    format: str | None = None
    processes: list[ProcessRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class WriteSummary:
    snapshots_written: int = 0
    snapshots_skipped: int = 0  # already final: a replay or a retry
    process_rows: int = 0
    written_ids: set = field(default_factory=set)  # the snapshots this write made final


def process_row(snapshot: Snapshot, p: ProcessRecord) -> tuple[object, ...]:
    """One ``processes`` row, in ``PROCESS_COLUMNS`` order."""
    return (
        snapshot.snapshot_id, snapshot.collected_at, snapshot.host, snapshot.os, snapshot.user,
        snapshot.faculty, p.pid, p.ppid, p.user, p.name, p.command, p.app, p.is_system,
        p.cpu_percent, p.mem_percent, p.rss_kb, p.vsz_kb, p.state, p.tty, p.started,
        p.cpu_seconds, p.threads, p.session, p.session_name, p.status, p.window_title,
    )  # fmt: skip


class SnapshotWriter:
    """Writes batches of processed snapshots idempotently on ``snapshot_id``."""

    def __init__(self, partitions: PartitionManager | None = None) -> None:
        self.partitions = partitions or PartitionManager()

    def write(self, conn: psycopg.Connection, batch: Sequence[ProcessedSnapshot]) -> WriteSummary:
        """Write ``batch`` in one transaction. ``conn`` must be in autocommit mode.

        A snapshot already final in the database (stored or failed) is left untouched and its
        process rows are not written again: replaying a message changes nothing.
        """
        summary = WriteSummary()
        if not batch:
            return summary
        try:
            self.partitions.ensure(conn, (item.snapshot.collected_at for item in batch))
            with conn.transaction():
                final_now = self._upsert_snapshots(conn, batch)
                to_copy = set(final_now)  # a message twice in one batch is written once
                rollups = RollupBatch()  # usage rollups, kept in this same transaction
                with conn.cursor().copy(COPY_PROCESSES) as copy:
                    for item in batch:
                        if item.snapshot.snapshot_id not in to_copy:
                            continue
                        to_copy.discard(item.snapshot.snapshot_id)
                        snapshot = item.snapshot
                        for proc in item.processes:
                            copy.write_row(process_row(snapshot, proc))
                        summary.process_rows += len(item.processes)
                        rollups.add(snapshot, item.processes)
                if rollups:
                    rollups.write(conn)
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.errors.CheckViolation):  # "no partition ... for row":
                self.partitions.forget()  # dropped by retention; the retry creates it again
            raise StorageError(f"could not write batch of {len(batch)} snapshots: {exc}") from exc
        summary.written_ids = final_now
        summary.snapshots_written = len(final_now)
        summary.snapshots_skipped = len(batch) - len(final_now)
        return summary

    @staticmethod
    def _upsert_snapshots(conn: psycopg.Connection, batch: Sequence[ProcessedSnapshot]) -> set:
        params = []
        for item in batch:
            row = snapshot_params(item.snapshot)
            row.update(
                status=item.status,
                format=item.format,
                process_count=len(item.processes) if item.status == "stored" else None,
                warnings=Jsonb(item.warnings),
                error=item.error,
            )
            params.append(row)
        cur = conn.cursor()
        cur.executemany(query("upsert_processed_snapshot"), params, returning=True)
        final_now = set()
        while True:
            returned = cur.fetchone()
            if returned is not None:
                final_now.add(returned[0])
            if not cur.nextset():
                break
        return final_now
