"""The worker's write step: one batch in one transaction, retried while the database is away.

The batch in hand is retried with backoff (the worker resumes exactly where it was when the
database comes back) and its failure is reported to readiness; a stop while it fails gives up
and returns None, so the batch is abandoned, never acknowledged.
"""

from __future__ import annotations

import threading
import time

import structlog

from dream.errors import StorageError
from dream.observability.sensors import Sensor
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter, WriteSummary
from dream.worker.health import Progress

log = structlog.get_logger(__name__)


class RetryingWrite:
    """Writes batches through ``writer``; ``failing`` is set while writes fail."""

    def __init__(
        self,
        db: Database,
        writer: SnapshotWriter,
        *,
        stopping: threading.Event,
        progress: Progress,
        max_backoff_s: float,
        connect_timeout_s: float,
        sensor: Sensor,
    ) -> None:
        self.db = db
        self.writer = writer
        self.stopping = stopping
        self.progress = progress
        self.max_backoff_s = max_backoff_s
        self.connect_timeout_s = connect_timeout_s
        self.failing = threading.Event()
        self.sensor = sensor

    def __call__(self, processed: list[ProcessedSnapshot]) -> WriteSummary | None:
        """The batch's summary once committed; None if stopped while the database was away."""
        delay = 0.2
        while True:
            try:
                started = time.perf_counter()
                with (
                    storage_errors("could not write batch"),
                    self.db.pool.connection(timeout=self.connect_timeout_s) as conn,
                ):
                    summary = self.writer.write(conn, processed)
                self.sensor.on_batch_written(len(processed), time.perf_counter() - started)
                self.progress.recovered("database")
                if self.failing.is_set():
                    log.info("database writes succeed again")
                    self.failing.clear()
                return summary
            except (StorageError, OSError) as exc:
                if isinstance(exc, StorageError) and not exc.retryable:
                    raise  # the writer rejects refused data itself: this is a bug, not an outage
                self.failing.set()
                self.progress.failing("database", str(exc))
                if self.stopping.is_set():
                    return None
                log.warning("database write failed; retrying", error=str(exc), retry_in_s=delay)
                if self.stopping.wait(delay):
                    return None
                delay = min(delay * 2, self.max_backoff_s)
