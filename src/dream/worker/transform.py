"""The worker's transform steps for one batch: resolve raw outputs → decode → parse → scrub.

Resolving and decoding are the blob store's (dream/blobs/raw.py: claim-checked outputs fetched,
inline ones stored, bytes decoded to text); parsing and scrubbing are ``process_snapshot``'s.
Each parse runs in a span whose parent is the api's (the delivery's trace context), so one
trace follows a snapshot from the request to its rows.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from opentelemetry.context import Context

from dream.blobs.raw import RawOutputs
from dream.observability.tracing import extract_context, tracer
from dream.security.pii import Scrubber
from dream.snapshots import Snapshot
from dream.storage.writer import ProcessedSnapshot
from dream.transport.base import Batch
from dream.worker.health import Progress
from dream.worker.processing import process_snapshot


def trace_contexts(batch: Batch) -> dict[uuid.UUID, Context]:
    """Each snapshot's trace context, as the api's request left it (the delivery carries it)."""
    return {
        d.snapshot.snapshot_id: extract_context(d.trace_context)
        for d in batch.deliveries
        if d.trace_context
    }


class Transform:
    """Turns a fetched batch into processed snapshots, ready for the write."""

    def __init__(
        self,
        *,
        scrubber: Scrubber | None,
        raw: RawOutputs | None,
        telemetry: bool,
        stopping: threading.Event,
        progress: Progress,
    ) -> None:
        self.scrubber = scrubber
        self.raw = raw  # the blob store for raw outputs; None: raw text stays in the row
        self.telemetry = telemetry
        self.stopping = stopping
        self.progress = progress

    def __call__(self, batch: Batch) -> list[ProcessedSnapshot] | None:
        """The batch processed, in order; None if stopped while the blob store was away (the
        batch must then be abandoned, unacknowledged)."""
        one = self._traced(batch) if self.telemetry else self._plain
        if self.raw is None:
            return [one(s) for s in batch.snapshots]
        return self.raw.process_all(batch.snapshots, one, self.stopping, self.progress)

    def _plain(self, snapshot: Snapshot) -> ProcessedSnapshot:
        return process_snapshot(snapshot, self.scrubber)

    def _traced(self, batch: Batch) -> Callable[[Snapshot], ProcessedSnapshot]:
        contexts = trace_contexts(batch)

        def one(snapshot: Snapshot) -> ProcessedSnapshot:
            parent = contexts.get(snapshot.snapshot_id)
            with tracer().start_as_current_span("parse snapshot", context=parent) as span:
                span.set_attribute("dream.snapshot_id", str(snapshot.snapshot_id))
                processed = process_snapshot(snapshot, self.scrubber)
                span.set_attribute("dream.format", processed.format or "")
                span.set_attribute("dream.processes", len(processed.processes))
                return processed

        return one
