"""The transform step: raw snapshot → parsed snapshot (or a failed one with its reason)."""

from __future__ import annotations

import structlog

from dream.catalog import Catalog, builtin
from dream.errors import ParseError
from dream.parsing import parse
from dream.parsing.users import snapshot_user
from dream.security.pii import Scrubber
from dream.snapshots import MAX_SKIPPED_KEPT, ProcessedSnapshot, SkippedRow, Snapshot

log = structlog.get_logger(__name__)


def process_snapshot(snapshot: Snapshot, scrubber: Scrubber | None = None,
                     catalog: Catalog | None = None) -> ProcessedSnapshot:
    """Parse one snapshot, then scrub personal data. Never raises: an unparseable snapshot is
    kept as ``failed``, and so is one that sets off a bug (the same bug every time it is read:
    it must not stall its partition). The reasons rows were skipped are scrubbed like the
    warnings: a CSV reader's complaint may quote the row. ``catalog`` names the products
    (default: built-in)."""
    try:
        return _process(snapshot, scrubber, catalog)
    except Exception as exc:
        log.exception("snapshot processing crashed", snapshot_id=str(snapshot.snapshot_id))
        # The type only: the message may quote what was not scrubbed yet.
        return ProcessedSnapshot(snapshot, "failed", error=f"internal error: {type(exc).__name__}")


def _process(snapshot: Snapshot, scrubber: Scrubber | None,
             catalog: Catalog | None) -> ProcessedSnapshot:  # fmt: skip
    processed = _parse(snapshot, catalog)
    # Who the snapshot counts for is decided here, once, before the scrubber names them.
    user = snapshot_user(snapshot.user, snapshot.os, processed.processes)
    if user != snapshot.user:
        processed.snapshot = snapshot = snapshot.model_copy(update={"user": user})
    if scrubber is not None and scrubber.mode != "off":
        warned, skipped = len(processed.warnings), processed.skipped
        messages = [*processed.warnings, *(row.reason for row in skipped),
                    *([processed.error] if processed.error else [])]  # fmt: skip
        processed.snapshot, scrubbed = scrubber.scrub(snapshot, processed.processes, messages)
        processed.warnings = scrubbed[:warned]
        processed.skipped = [
            SkippedRow(row.line, reason)
            for row, reason in zip(skipped, scrubbed[warned:], strict=False)
        ]
        if processed.error is not None:
            processed.error = scrubbed[-1]
    return processed


def _parse(snapshot: Snapshot, catalog: Catalog | None) -> ProcessedSnapshot:
    try:
        # The worker fetched a claim-checked output before this; None would be a bug upstream.
        result = parse(snapshot.output or "", os=snapshot.os, command=snapshot.command,
                       catalog=catalog or builtin())
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
        warnings=_bounded_warnings(result.warnings, result.skipped),
        skipped=result.skipped[:MAX_SKIPPED_KEPT],
        skipped_count=len(result.skipped),
        catalog=(catalog or builtin()).version,
    )


def _bounded_warnings(warnings: list[str], skipped: list[SkippedRow]) -> list[str]:
    """The warnings without those of the skipped rows beyond ``MAX_SKIPPED_KEPT`` (one line
    said how many instead): one garbage upload must not bloat its row through them either."""
    if len(skipped) <= MAX_SKIPPED_KEPT:
        return warnings
    beyond = {row.warning for row in skipped[MAX_SKIPPED_KEPT:]}
    kept = [warning for warning in warnings if warning not in beyond]
    kept.append(f"{len(skipped) - MAX_SKIPPED_KEPT} more lines skipped: only the first "
                f"{MAX_SKIPPED_KEPT} are listed")  # fmt: skip
    return kept
