"""What the worker counts once a batch is stored: its totals, and what it tells its sensor
(per batch, and per snapshot stored for the first time, with its trace and log details)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from dream.observability.sensors import Sensor
from dream.parsing.detect import format_from_command
from dream.storage.writer import ProcessedSnapshot, WriteSummary
from dream.transport.base import Batch
from dream.worker.transform import trace_contexts

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class WorkerTotals:
    batches: int = 0
    snapshots: int = 0
    skipped: int = 0  # already stored: replays, redeliveries
    process_rows: int = 0
    failed_snapshots: int = 0
    dead_lettered: int = 0
    rejected: int = 0  # could never be stored as they are (dead-lettered, not written)

    def add(self, processed: list[ProcessedSnapshot], s: WriteSummary) -> None:
        self.batches += 1
        self.snapshots += s.snapshots_written
        self.skipped += s.snapshots_skipped
        self.process_rows += s.process_rows
        self.failed_snapshots += sum(1 for p in processed if p.status == "failed")


def observe(
    sensor: Sensor, batch: Batch, processed: list[ProcessedSnapshot], s: WriteSummary
) -> None:
    """Tells ``sensor`` about a stored batch and each snapshot it made final."""
    sensor.on_batch_stored(len(batch.deliveries), s.process_rows)
    contexts = trace_contexts(batch)
    positions = {d.snapshot.snapshot_id: d.position for d in batch.deliveries}
    for item in processed:
        snapshot = item.snapshot
        if snapshot.snapshot_id not in s.written_ids:
            continue  # a replay: already counted when it was first stored
        at = positions.get(snapshot.snapshot_id)
        sensor.on_snapshot_stored(
            item.status,
            format_from_command(snapshot.command),
            contexts.get(snapshot.snapshot_id),
            {
                "snapshot_id": str(snapshot.snapshot_id),
                "host": snapshot.host,
                "processes": len(item.processes),
                **({"rows_skipped": item.skipped_count} if item.skipped_count else {}),
                **({"error": item.error} if item.error else {}),
                **({"topic": at.lane.name, "partition": at.lane.index, "offset": at.offset}
                   if at is not None and at.offset is not None else {}),
            },
        )  # fmt: skip
        if item.skipped_count:
            sensor.on_rows_skipped(item.format, item.skipped_count)
    log.debug(
        "batch stored",
        snapshots=len(batch.deliveries),
        written=s.snapshots_written,
        skipped=s.snapshots_skipped,
        rows=s.process_rows,
    )
