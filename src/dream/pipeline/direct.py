"""The direct pipeline: PostgreSQL itself is the queue (``snapshots`` rows with status pending).

Used by the embedded default. The api's hand-over is the commit of the pending row, so a crash
after the 202 loses nothing: the worker finds pending rows again when it starts.
"""

from __future__ import annotations

import threading
import uuid

import anyio.to_thread

from dream.pipeline.base import Batch
from dream.snapshots import Snapshot
from dream.storage.database import Database


class DirectPipeline:
    """Both ends of the direct pipeline; the publisher wakes the source up."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._wake = threading.Event()
        # Fetched but not yet acknowledged: not to be fetched again while being written.
        self._in_flight: set[uuid.UUID] = set()
        self._lock = threading.Lock()

    # Publisher side
    async def publish(self, snapshot: Snapshot) -> None:
        await anyio.to_thread.run_sync(self.db.insert_pending, snapshot)
        self._wake.set()

    def ready(self) -> tuple[bool, str]:
        return True, "direct (in-process)"

    # Source side
    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        snapshots = self._fetch(max_snapshots)
        if not snapshots:
            # Sleep until a publish wakes us (or wait_s passes, to pick up rows left by others).
            self._wake.wait(wait_s)
            self._wake.clear()
            snapshots = self._fetch(max_snapshots)
        return Batch(snapshots=snapshots)

    def _fetch(self, max_snapshots: int) -> list[Snapshot]:
        with self._lock:
            exclude = list(self._in_flight)
        snapshots = self.db.fetch_pending(max_snapshots, exclude=exclude)
        with self._lock:
            self._in_flight.update(s.snapshot_id for s in snapshots)
        return snapshots

    def ack(self, batch: Batch) -> None:
        """The status change in the write transaction was the real acknowledgement."""
        with self._lock:
            self._in_flight.difference_update(s.snapshot_id for s in batch.snapshots)

    def close(self) -> None:
        self._wake.set()
