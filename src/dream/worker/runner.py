"""The worker loop: fetch a batch → parse each snapshot → write in one transaction → ack.

Parsing (CPU in this process) and writing (mostly PostgreSQL's work) overlap: while batch N is
being written by the writer thread, batch N+1 is fetched and parsed. Batches are still
acknowledged strictly in order, each only after its own transaction committed.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
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


@dataclass(slots=True)
class _InFlight:
    batch: Batch
    processed: list[ProcessedSnapshot]
    written: Future[WriteSummary | None]


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
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dream-write")
        self._in_flight: _InFlight | None = None

    def run(self) -> None:
        """Run until ``stop()``; the batch being written when it is called is finished first."""
        log.info("worker started", batch_size=self.batch_size)
        try:
            while not self.stopping.is_set():
                self.step()
            self.drain()
        finally:
            self._write_thread.shutdown(wait=True)
        log.info("worker stopped", snapshots=self.totals.snapshots, rows=self.totals.process_rows)

    def stop(self) -> None:
        self.stopping.set()

    def run_once(self) -> WriteSummary | None:
        """Fetch, parse and store one batch, waiting for its write (for tools and tests)."""
        self.step()
        return self.drain()

    def step(self) -> None:
        """Fetch and parse a batch, then hand it to the writer once the previous one is done."""
        batch = self.source.fetch(self.batch_size, self.batch_wait_s)
        processed = [process_snapshot(s) for s in batch.snapshots]
        self.drain()
        if not batch.snapshots:
            self.source.ack(batch)  # may carry offsets of dead-lettered messages
            return
        future = self._write_thread.submit(self._write_with_retry, processed)
        self._in_flight = _InFlight(batch, processed, future)

    def drain(self) -> WriteSummary | None:
        """Wait for the batch being written, and acknowledge it if it was stored."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return None
        summary = in_flight.written.result()
        if summary is None:  # stopped while the database was away: leave the batch unacked
            return None
        self.source.ack(in_flight.batch)
        self._count(in_flight.batch, in_flight.processed, summary)
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
