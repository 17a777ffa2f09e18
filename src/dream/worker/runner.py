"""The worker loop, one batch at a time through explicit steps:

fetch → resolve raw outputs (blob store) → decode → parse → scrub → write (one transaction) →
dead-letter what cannot be stored → acknowledge. ``step`` runs them; transform.py, writing.py
and accounting.py hold the steps, this module their order and the acknowledgement rules.

The worker knows the transport only through the ``Source`` contract (dream/transport/base.py):
``Delivery`` values with typed positions, never a client library's objects.

Parsing (CPU in this process) and writing (mostly PostgreSQL's work) overlap: while batch N is
being written by the writer thread, batch N+1 is fetched and parsed. Batches are still
acknowledged strictly in order, each only after its own transaction committed (and after the
snapshots in it that failed to parse reached the dead-letter topic).

Faults: while the database is away the writer retries the batch in hand with backoff, and the
source is paused and polled (so the worker stays in its consumer group) until the write goes
through. When partitions are revoked the batch being written is finished and acknowledged
first (bounded by ``rebalance_wait_s``; past that its revoked partitions are given up, never
committed), and fetched-but-unwritten snapshots of those partitions are dropped for the new
owner. On ``stop()`` the batch in hand is finished, or, if the database is away, abandoned
unacknowledged, and nothing after it is acknowledged either.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass

import structlog

from dream.blobs.raw import RawOutputs
from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.runtime import GC_THRESHOLDS
from dream.catalog import Catalog
from dream.security.pii import Scrubber
from dream.storage.database import Database
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter, WriteSummary
from dream.transport.base import Batch, DeadLetter, Lane, Source, output_bytes
from dream.worker.accounting import WorkerTotals, observe
from dream.worker.health import Progress
from dream.worker.transform import Transform
from dream.worker.writing import RetryingWrite

__all__ = ["Worker", "WorkerTotals"]

log = structlog.get_logger(__name__)

# How long a fetch that tops up the next batch waits while the writer is busy: short, so the
# next write starts soon after the previous one ends.
TOP_UP_WAIT_S = 0.02


@dataclass(slots=True)
class _Parsed:
    batch: Batch
    processed: list[ProcessedSnapshot]


@dataclass(slots=True)
class _InFlight:
    batch: Batch
    processed: list[ProcessedSnapshot]
    written: Future[WriteSummary | None]
    settled: bool = False
    summary: WriteSummary | None = None


class Worker:
    """Moves snapshots from a transport source into PostgreSQL.

    Acknowledges a batch only after its transaction committed. When the database is down, the
    batch in hand is retried with backoff, so the worker resumes where it was.
    """

    def __init__(
        self,
        source: Source,
        db: Database,
        *,
        batch_size: int = 1000,
        batch_wait_s: float = 0.2,
        batch_max_bytes: int | None = None,
        writer: SnapshotWriter | None = None,
        max_backoff_s: float = 10.0,
        rebalance_wait_s: float = 10.0,
        keepalive_after_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        scrubber: Scrubber | None = None,
        raw: RawOutputs | None = None,
        sensor: Sensor = NULL_SENSOR,
        progress: Progress | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.source = source
        self.db = db
        self.sensor = sensor  # what telemetry sees (observability/sensors.py)
        self.raw = raw  # the blob store for raw outputs; None: raw text stays in the row
        self.progress = progress or Progress()  # what readiness probes report
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.batch_max_bytes = batch_max_bytes  # a batch topped up stops past this much output
        self.rebalance_wait_s = rebalance_wait_s
        self.keepalive_after_s = keepalive_after_s
        self.totals = WorkerTotals()
        self.stopping = threading.Event()
        # The steps, in order: fetch (the source) → transform → write → settle (below).
        self.transform = Transform(scrubber=scrubber, raw=raw, sensor=sensor,
                                   stopping=self.stopping, progress=self.progress,
                                   catalog=catalog)  # fmt: skip
        self.write = RetryingWrite(
            db, writer or SnapshotWriter(), stopping=self.stopping, progress=self.progress,
            max_backoff_s=max_backoff_s, connect_timeout_s=connect_timeout_s, sensor=sensor,
        )  # fmt: skip
        self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dream-write")
        self._in_flight: _InFlight | None = None
        self._next: _Parsed | None = None  # fetched and parsed, waiting for the writer
        self._abandoned = False  # a batch was given up: acknowledge nothing from now on
        source.set_revoke_listener(self._on_revoked)

    def run(self, until: Callable[[], bool] | None = None) -> None:
        """Run until ``stop()`` (or ``until()``); the batch in hand is finished first."""
        log.info("worker started", batch_size=self.batch_size)
        # runtime.py's thresholds while the loop runs, whoever runs it (the `dream worker`
        # process, `dream serve`'s thread, a tool): a batch keeps every parsed row alive.
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            while not self.stopping.is_set() and not self._abandoned:
                if until is not None and until():
                    break
                self.step()
            self.drain()
        except Exception as exc:
            self.progress.stopped(f"crashed: {exc!r}")
            raise
        finally:
            self.progress.stopped("the loop has ended")
            self._write_thread.shutdown(wait=True)
            gc.set_threshold(*thresholds)
        log.info(
            "worker stopped",
            snapshots=self.totals.snapshots,
            rows=self.totals.process_rows,
            abandoned_batch=self._abandoned,
        )

    def stop(self) -> None:
        """Ask ``run`` to finish (safe from a signal handler)."""
        self.stopping.set()
        self.source.interrupt()

    def run_once(self) -> WriteSummary | None:
        """Fetch, parse and store one batch, waiting for its write (for tools and tests)."""
        self.step()
        return self.drain()

    def step(self) -> None:
        """Fetch and parse a batch, then hand it to the writer once the previous one is done."""
        batch = self.source.fetch(self.batch_size, self.batch_wait_s)
        self.progress.started(batch, len(batch.snapshots))
        if batch.abandoned:
            self._abandon("the source gave the batch up")
        processed = self.transform(batch)
        if processed is None:  # stopped while the blob store was away
            self.drain()  # the batch before this one is stored: acknowledge it first
            self._abandon("stopped before the raw outputs could be stored")
            return
        self._next = _Parsed(batch, processed)  # a revocation during drain() may trim it
        if not self._top_up():  # stopped while the blob store was away
            self.drain()
            self._abandon("stopped before the raw outputs could be stored")
            return
        self.drain()
        parsed, self._next = self._next, None
        if self._abandoned:
            return
        if not parsed.batch.snapshots:
            self.source.ack(parsed.batch)  # may carry offsets of dead-lettered messages
            self.progress.finished(parsed.batch)
            return
        future = self._write_thread.submit(self.write, parsed.processed)
        self._in_flight = _InFlight(parsed.batch, parsed.processed, future)

    def _top_up(self) -> bool:
        """While the previous batch is still being written, fetch and parse more into the next
        one (up to ``batch_size``): a busy writer gets bigger batches instead of waiting
        fetches, and a running session is written once per batch, so fewer versions of each
        (docs/capacity.md). It stops once it holds ``batch_max_bytes`` of output (the fetch
        that passes it adds at most the source's own bound). False if stopped while the blob
        store was away."""
        parsed, in_flight = self._next, self._in_flight
        limit = self.batch_max_bytes
        size = 0 if limit is None or parsed is None else output_bytes(parsed.batch.deliveries)
        while (
            parsed is not None and parsed is self._next
            and in_flight is not None and not in_flight.written.done()
            and len(parsed.batch.deliveries) < self.batch_size
            and (limit is None or size < limit)
            and not self.stopping.is_set() and not self._abandoned
        ):  # fmt: skip
            more = self.source.fetch(self.batch_size - len(parsed.batch.deliveries),
                                     TOP_UP_WAIT_S)  # fmt: skip
            processed = self.transform(more)
            if processed is None:
                return False
            batch = parsed.batch  # (a revocation in that fetch may have trimmed it)
            batch.extend(more)
            parsed.processed += processed
            size += output_bytes(more.deliveries)
            self.progress.started(batch, len(batch.deliveries))  # (if it came empty: in hand now)
            if more.abandoned:
                self._abandon("the source gave the batch up")
        return True

    def drain(self) -> WriteSummary | None:
        """Wait for the batch being written, and acknowledge it if it was stored."""
        in_flight = self._in_flight
        if in_flight is None:
            return None
        self._wait_for(in_flight)
        if self._in_flight is in_flight:
            self._in_flight = None
        if not in_flight.settled:  # (a revocation may have settled it while we waited)
            self._settle(in_flight)
        return in_flight.summary

    def _wait_for(self, in_flight: _InFlight) -> None:
        """Wait for a write; if it takes long or keeps failing, pause the source and poll it."""
        paused = False
        started = time.monotonic()
        try:
            while not in_flight.written.done() and not in_flight.settled:
                if (
                    not paused
                    and (
                        self.write.failing.is_set()
                        or time.monotonic() - started > self.keepalive_after_s
                    )
                ):
                    self.source.pause()
                    paused = True
                    log.warning("database write pending; consumption paused")
                if paused:
                    self.source.idle(0.2)  # serves rebalances; may settle in_flight through _on_revoked
                else:
                    wait_futures([in_flight.written], timeout=0.05)
        finally:
            if paused:
                self.source.resume()
                log.info("consumption resumed")

    def _settle(self, in_flight: _InFlight) -> None:
        """The write is done: dead-letter the failed snapshots, then acknowledge the batch."""
        in_flight.settled = True
        summary = in_flight.written.result()
        if summary is None:  # stopped while the database was away
            self._abandon("stopped before the batch could be stored")
            return
        in_flight.summary = summary
        # Rejected snapshots (never storable as they are) were not written: the source records
        # them (Kafka: dead-letter topic; direct: the row marked failed) and the batch moves on.
        # Parse failures were stored as failed; the source also keeps their originals if it can.
        letters = [DeadLetter(i, f"rejected: {why}") for i, why in summary.rejected]
        letters += [
            DeadLetter(i, f"parse failed: {p.error}", "parse")
            for i, p in enumerate(in_flight.processed)
            if p.status == "failed"
        ]
        if letters:
            sent = self.source.dead_letter(in_flight.batch, sorted(letters, key=lambda d: d.index))
            if sent is None:
                self._abandon("stopped before the dead letters were acknowledged")
                return
            self.totals.dead_lettered += sent
        self.totals.rejected += len(summary.rejected)
        if self._abandoned:
            return
        self.source.ack(in_flight.batch)
        if self.raw is not None:  # DREAM_STORE_RAW=false: outputs in transit go, now stored
            self.raw.release(in_flight.batch.snapshots, in_flight.processed)
        self.progress.finished(in_flight.batch)
        self.totals.add(in_flight.processed, summary)
        observe(self.sensor, in_flight.batch, in_flight.processed, summary)

    def _abandon(self, why: str) -> None:
        if not self._abandoned:
            log.warning("batch abandoned unacknowledged; it will be read again", reason=why)
        self._abandoned = True

    def _on_revoked(self, lanes: list[Lane]) -> None:
        """Partitions are being taken away (called inside the source's poll, on our thread)."""
        revoked = set(lanes)
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.settled:
            try:
                in_flight.written.result(timeout=self.rebalance_wait_s)
            except FutureTimeout:
                # Leave it to the writer: if it lands, ``ack`` commits only partitions still
                # owned since the fetch; the new owner re-reads the rest (idempotent).
                log.warning(
                    "rebalance: batch still being written; giving its revoked partitions up",
                    partitions=sorted(str(lane) for lane in revoked),
                )
            else:
                self._in_flight = None
                self._settle(in_flight)  # commits while we still own the partitions
        if self._next is not None:
            keep = self._next.batch.drop_lanes(revoked)
            if len(keep) < len(self._next.processed):
                log.info(
                    "rebalance: dropped fetched snapshots of revoked partitions",
                    dropped=len(self._next.processed) - len(keep),
                )
                self._next.processed = [self._next.processed[i] for i in keep]
