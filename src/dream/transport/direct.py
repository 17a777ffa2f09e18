"""The direct transport: PostgreSQL itself is the queue (``snapshots`` rows with status pending).

Used by the embedded default. The api's hand-over is the commit of the pending row, so a crash
after the 202 loses nothing: the worker finds pending rows again when it starts.

While the database is away, a circuit breaker (breaker.py, as for the broker) refuses posts at
once with 503 and ``Retry-After`` instead of each waiting for a connection; a background ping
closes it again.

The queue's SQL is the storage layer's (``Database`` satisfies ``PendingQueue``); it is handed in
by the app, so the transport does not reach sideways into storage.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import anyio.to_thread
import structlog

from dream.errors import StorageError
from dream.observability.tracing import inject_headers
from dream.snapshots import Snapshot
from dream.transport.base import Batch, DeadLetter, Delivery, Lane, Position, Publisher, Source
from dream.transport.breaker import CircuitBreaker, InFlightLimit, admitted

log = structlog.get_logger(__name__)
_MAX_TRACES = 100_000
# One lane: the pending rows, read oldest first.
LANE = Lane("pending")


class PendingQueue(Protocol):
    """The pending rows of the ``snapshots`` table (implemented by ``storage.Database``)."""

    def insert_pending(self, snapshot: Snapshot, timeout_s: float | None = None) -> None: ...

    def fetch_pending(
        self, limit: int, exclude: list[uuid.UUID] | None = None, max_bytes: int | None = None
    ) -> list[Snapshot]: ...

    def fail_pending(self, snapshot_id: uuid.UUID, reason: str) -> None: ...

    def ping(self, timeout_s: float = 2.0) -> bool: ...


class DirectTransport(Publisher, Source):
    """Both ends of the direct transport; the publisher wakes the source up."""

    # A post waits at most this for a database connection; the breaker spares the ones after.
    INSERT_TIMEOUT_S = 5.0

    def __init__(
        self,
        db: PendingQueue,
        *,
        max_batch_bytes: int | None = None,
        max_in_flight: int = 256,
        breaker_failures: int = 3,
        breaker_reset_s: float = 5.0,
    ) -> None:
        self.db = db
        self.breaker = CircuitBreaker(
            failure_threshold=breaker_failures, reset_timeout_s=breaker_reset_s,
            probe=lambda: self.db.ping(timeout_s=2.0), name="database",
        )  # fmt: skip
        self.in_flight = InFlightLimit(max_in_flight)
        self.max_batch_bytes = max_batch_bytes  # a batch closes at this much output, or its count
        self._wake = threading.Event()
        # Fetched but not yet acknowledged: not to be fetched again while being written.
        self._in_flight: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # The api's trace context of each pending snapshot (api and worker share this process),
        # bounded: a snapshot past the bound, or pending across a restart, starts a new trace.
        self._traces: OrderedDict[uuid.UUID, list[tuple[str, bytes]]] = OrderedDict()

    # Publisher side
    @contextmanager
    def admit(self) -> Iterator[None]:
        """Guards a whole post (body read included), as ``KafkaPublisher.admit`` does: refused
        at once while the database is known down or ``max_in_flight`` posts are in progress."""
        with admitted(self.breaker, self.in_flight):
            yield

    async def publish(self, snapshot: Snapshot) -> None:
        headers = inject_headers()  # the request's trace, for the worker's spans
        try:
            await anyio.to_thread.run_sync(self._insert, snapshot)
        except StorageError as exc:
            self.breaker.record_failure(str(exc))
            raise
        self.breaker.record_success()
        if headers:
            with self._lock:
                self._traces[snapshot.snapshot_id] = headers
                if len(self._traces) > _MAX_TRACES:
                    self._traces.popitem(last=False)
        self._wake.set()

    def _insert(self, snapshot: Snapshot) -> None:
        try:
            self.db.insert_pending(snapshot, timeout_s=self.INSERT_TIMEOUT_S)
        except StorageError as exc:
            if not self.db.ping(timeout_s=1.0):  # the database is gone, not this one row
                self.breaker.trip(str(exc))
            raise

    def ready(self) -> tuple[bool, str]:
        if self.breaker.state != "closed":
            return False, f"circuit {self.breaker.state}: {self.breaker.reason}"
        return True, "direct (in-process)"

    # Source side
    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        snapshots = self._fetch(max_snapshots)
        if not snapshots:
            # Sleep until a publish wakes us (or wait_s passes, to pick up rows left by others).
            self._wake.wait(wait_s)
            self._wake.clear()
            snapshots = self._fetch(max_snapshots)
        batch = Batch()
        with self._lock:
            for snapshot in snapshots:
                trace = self._traces.get(snapshot.snapshot_id, [])
                batch.deliveries.append(Delivery(snapshot, Position(LANE), trace))
        return batch

    def _fetch(self, max_snapshots: int) -> list[Snapshot]:
        with self._lock:
            exclude = list(self._in_flight)
        snapshots = self.db.fetch_pending(
            max_snapshots, exclude=exclude, max_bytes=self.max_batch_bytes
        )
        with self._lock:
            self._in_flight.update(s.snapshot_id for s in snapshots)
        return snapshots

    def ack(self, batch: Batch) -> None:
        """The status change in the write transaction was the real acknowledgement."""
        with self._lock:
            self._in_flight.difference_update(s.snapshot_id for s in batch.snapshots)
            for snapshot in batch.snapshots:
                self._traces.pop(snapshot.snapshot_id, None)

    def dead_letter(self, batch: Batch, letters: list[DeadLetter]) -> int | None:
        """Mark the rejected snapshots failed: they can never be stored. (Parse failures are
        already stored as ``failed`` rows: this table is their dead-letter destination.)

        Retried while the database is away; None if closed before that.
        """
        delay = 0.2
        rejected = [letter for letter in letters if letter.kind == "rejected"]
        for letter in rejected:
            snapshot_id, reason = batch.deliveries[letter.index].snapshot.snapshot_id, letter.reason
            log.error("snapshot marked failed", snapshot_id=str(snapshot_id), reason=reason[:500])
            while True:
                try:
                    self.db.fail_pending(snapshot_id, reason)
                    break
                except StorageError as exc:  # retried whatever the kind: the row must end final
                    log.warning("could not mark snapshot failed; retrying", error=str(exc))
                    if self._closed.wait(delay):
                        return None
                    delay = min(delay * 2, 10.0)
        return len(rejected)

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
