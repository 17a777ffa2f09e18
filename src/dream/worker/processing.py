"""The transform step: raw snapshot → parsed snapshot (or a failed one with its reason)."""

from __future__ import annotations

import structlog

from dream.errors import ParseError
from dream.parsing import parse
from dream.snapshots import Snapshot
from dream.storage.writer import ProcessedSnapshot

log = structlog.get_logger(__name__)


def process_snapshot(snapshot: Snapshot) -> ProcessedSnapshot:
    """Parse one snapshot. Never raises: an unparseable snapshot is kept as ``failed``."""
    try:
        result = parse(snapshot.output, os=snapshot.os, command=snapshot.command)
    except ParseError as exc:
        return ProcessedSnapshot(snapshot, "failed", error=str(exc))
    except Exception as exc:  # a parser bug must not lose the snapshot or stall the partition
        log.exception("parser crashed", snapshot_id=str(snapshot.snapshot_id))
        return ProcessedSnapshot(snapshot, "failed", error=f"internal parser error: {exc!r}")
    return ProcessedSnapshot(
        snapshot,
        "stored",
        format=result.format,
        processes=result.processes,
        warnings=result.warnings,
    )
