"""The worker's transform steps for one batch: resolve raw outputs → decode → parse → scrub.

Resolving and decoding are the blob store's (dream/blobs/raw.py: claim-checked outputs fetched,
inline ones stored, bytes decoded to text); parsing and scrubbing are ``process_snapshot``'s.
Each parse is surrounded by the sensor's ``parsing`` with the delivery's trace context (with
telemetry on, a span whose parent is the api's: one trace from the request to the rows).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from dream.blobs.raw import RawOutputs
from dream.observability.sensors import Sensor
from dream.catalog import Catalog
from dream.security.pii import Scrubber
from dream.snapshots import Snapshot
from dream.storage.writer import ProcessedSnapshot
from dream.transport.base import Batch, TraceHeaders
from dream.worker.health import Progress
from dream.worker.processing import process_snapshot


def trace_contexts(batch: Batch) -> dict[uuid.UUID, TraceHeaders]:
    """Each snapshot's trace context, as the api's request left it (the delivery carries it)."""
    return {d.snapshot.snapshot_id: d.trace_context for d in batch.deliveries if d.trace_context}


class Transform:
    """Turns a fetched batch into processed snapshots, ready for the write."""

    def __init__(
        self,
        *,
        scrubber: Scrubber | None,
        raw: RawOutputs | None,
        sensor: Sensor,
        stopping: threading.Event,
        progress: Progress,
        catalog: Catalog | None = None,
    ) -> None:
        self.scrubber = scrubber
        self.catalog = catalog  # names each process's product (None: the built-in catalog)
        self.raw = raw  # the blob store for raw outputs; None: raw text stays in the row
        self.sensor = sensor
        self.stopping = stopping
        self.progress = progress

    def __call__(self, batch: Batch) -> list[ProcessedSnapshot] | None:
        """The batch processed, in order; None if stopped while the blob store was away (the
        batch must then be abandoned, unacknowledged)."""
        one = self._observed(batch)
        if self.raw is None:
            return [one(s) for s in batch.snapshots]
        return self.raw.process_all(batch.snapshots, one, self.stopping, self.progress)

    def _observed(self, batch: Batch) -> Callable[[Snapshot], ProcessedSnapshot]:
        contexts = trace_contexts(batch)

        def one(snapshot: Snapshot) -> ProcessedSnapshot:
            trace = contexts.get(snapshot.snapshot_id)
            with self.sensor.parsing(snapshot.snapshot_id, trace) as notes:
                processed = process_snapshot(snapshot, self.scrubber, self.catalog)
                notes(processed.format, len(processed.processes))
                return processed

        return one
