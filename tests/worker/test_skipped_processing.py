"""The worker's transform keeps the rows a parser skipped: their line numbers and reasons, the
first ``MAX_SKIPPED_KEPT`` of them with the total, untouched by the PII scrubber's alignment."""

from __future__ import annotations

from dream.security.pii import Scrubber
from dream.snapshots import MAX_SKIPPED_KEPT, Snapshot, SnapshotIn
from dream.worker.processing import process_snapshot
from helpers import ps_aux_with_unreadable_lines, snapshot_body


def _snapshot(output: str) -> Snapshot:
    return Snapshot.accept(SnapshotIn.model_validate(snapshot_body(output)))


def test_skipped_lines_travel_with_the_processed_snapshot() -> None:
    processed = process_snapshot(_snapshot(ps_aux_with_unreadable_lines(good=4, bad=1)))
    assert processed.status == "stored"
    assert len(processed.processes) == 4
    assert processed.skipped_count == 1
    assert [(row["line"], row["reason"][:13]) for row in processed.skipped_rows()] == [
        (6, "malformed row")
    ]


def test_a_long_run_of_garbage_is_kept_up_to_the_cap_with_its_total() -> None:
    bad = MAX_SKIPPED_KEPT + 200
    processed = process_snapshot(_snapshot(ps_aux_with_unreadable_lines(good=bad, bad=bad)))
    assert processed.status == "stored"
    assert processed.skipped_count == bad
    assert len(processed.skipped) == MAX_SKIPPED_KEPT
    assert [row.line for row in processed.skipped[:2]] == [bad + 2, bad + 3]
    # Their warnings are bounded alike: the kept ones, then one line for the rest.
    assert len(processed.warnings) == MAX_SKIPPED_KEPT + 1
    assert processed.warnings[0] == processed.skipped[0].warning
    assert processed.warnings[-1] == (
        f"200 more lines skipped: only the first {MAX_SKIPPED_KEPT} are listed"
    )


def test_scrubbing_keeps_each_reason_with_its_line_and_the_warnings_apart() -> None:
    snapshot = _snapshot(ps_aux_with_unreadable_lines(good=3, bad=2))
    plain = process_snapshot(snapshot)
    scrubbed = process_snapshot(snapshot, Scrubber("pseudonymize", b"k"))
    assert scrubbed.skipped == plain.skipped
    assert scrubbed.skipped_count == 2
    assert scrubbed.warnings == plain.warnings
