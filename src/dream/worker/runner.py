"""The worker loop: fetch a batch → parse each snapshot → write in one transaction → ack."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg
import structlog

from dream.errors import StorageError
from dream.pipeline.base import Batch, Source
from dream.storage.database import Database
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter, WriteSummary
from dream.worker.processing import process_snapshot

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class WorkerTotals:
    batches: int = 0
    snapshots: int = 0
    process_rows: int = 0
    failed_snapshots: int = 0


class Worker:
    """Moves snapshots from a pipeline source into PostgreSQL.

    Acknowledges a batch only after its transaction committed. When the database is down, the
    batch in hand is retried with backoff, so the worker resumes where it was.
    """

    def __init__(
        self,
        source: Source,
        db: Database,
        *,
        batch_size: int = 200,
        batch_wait_s: float = 0.2,
        writer: SnapshotWriter | None = None,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.source = source
        self.db = db
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.writer = writer or SnapshotWriter()
        self.max_backoff_s = max_backoff_s
        self.totals = WorkerTotals()
        self.stopping = threading.Event()

    def run(self) -> None:
        """Run until ``stop()``."""
        log.info("worker started", batch_size=self.batch_size)
        while not self.stopping.is_set():
            self.run_once()
        log.info("worker stopped", snapshots=self.totals.snapshots, rows=self.totals.process_rows)

    def stop(self) -> None:
        self.stopping.set()

    def run_once(self) -> WriteSummary | None:
        """Process one batch, if one comes within the wait; returns what was written."""
        batch = self.source.fetch(self.batch_size, self.batch_wait_s)
        if not batch.snapshots:
            self.source.ack(batch)  # may hold offsets of dead-lettered messages
            return None
        processed = [process_snapshot(s) for s in batch.snapshots]
        summary = self._write_with_retry(processed)
        if summary is None:  # stopping while the database was away: leave the batch unacked
            return None
        self.source.ack(batch)
        self._count(batch, processed, summary)
        return summary

    def _write_with_retry(self, processed: list[ProcessedSnapshot]) -> WriteSummary | None:
        delay = 0.2
        while True:
            try:
                with self.db.pool.connection() as conn:
                    return self.writer.write(conn, processed)
            except (StorageError, psycopg.Error, OSError) as exc:  # PoolTimeout is a psycopg.Error
                if self.stopping.is_set():
                    return None
                log.warning("database write failed; retrying", error=str(exc), retry_in_s=delay)
                if self.stopping.wait(delay):
                    return None
                delay = min(delay * 2, self.max_backoff_s)

    def _count(self, batch: Batch, processed: list[ProcessedSnapshot], s: WriteSummary) -> None:
        self.totals.batches += 1
        self.totals.snapshots += s.snapshots_written
        self.totals.process_rows += s.process_rows
        self.totals.failed_snapshots += sum(1 for p in processed if p.status == "failed")
        log.debug(
            "batch stored",
            snapshots=len(batch.snapshots),
            written=s.snapshots_written,
            skipped=s.snapshots_skipped,
            rows=s.process_rows,
        )
