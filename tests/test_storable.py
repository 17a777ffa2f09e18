"""Rows the database cannot hold are set aside and the rest of their snapshot stored
(storage/storable.py), through the real writer and PostgreSQL, with and without the
per-sample rows (whose COPY, or else the sessions', is the first to meet the values)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from dream.parsing.model import ProcessRecord
from dream.snapshots import ProcessedSnapshot, Snapshot
from dream.storage.writer import SnapshotWriter

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)
NAME = secrets.token_hex(1500)  # random: no compression brings it into an index entry
GOOD = ProcessRecord(pid=10, name="bash", app="bash", rss_kb=4000, cpu_percent=0.5)


def listing(*records: ProcessRecord) -> ProcessedSnapshot:
    snap = Snapshot(snapshot_id=uuid.uuid4(), host=f"lab-{uuid.uuid4().hex[:6]}", os="linux",
                    user="asmith", faculty="law", collected_at=AT, received_at=AT,
                    command="ps aux", output="(raw)")  # fmt: skip
    return ProcessedSnapshot(snap, "stored", format="ps-aux", processes=list(records))


CASES = [
    (ProcessRecord(pid=2**31, name="odd", app="odd"), "pid 2147483648 is out of range"),
    (ProcessRecord(pid=11, name="odd", app="odd", rss_kb=2**70), "rss_kb"),
    (ProcessRecord(pid=11, name="n\x00pad", app="n\x00pad"), "its name holds a NUL"),
    (ProcessRecord(pid=11, name=NAME, app=NAME), "3000 characters long"),  # an index entry's
]
# Only the per-sample rows hold a %CPU or a command line: without them nothing refuses these.
ROWS_ONLY = [
    (ProcessRecord(pid=11, name="odd", app="odd", cpu_percent=1e39), "cpu_percent 1e+39"),
    (ProcessRecord(pid=11, name="odd", app="odd", command="a\ud800b"), "unpaired surrogate"),
]


@pytest.mark.parametrize(
    ("rows_kept", "bad", "why"),
    [*((None, *case) for case in CASES + ROWS_ONLY), *((0, *case) for case in CASES)],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_a_row_the_database_cannot_hold_is_set_aside_and_the_rest_stored(
    database_url: str, rows_kept: int | None, bad: ProcessRecord, why: str
) -> None:
    """``rows_kept`` None: per-sample rows written (their COPY meets the values first); 0:
    sessions and rollups only."""
    item = listing(GOOD, bad, ProcessRecord(pid=12, name="vim", app="vim"))
    after = listing(GOOD)
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = SnapshotWriter(raw_rows_retention_days=rows_kept).write(conn, [item, after])
        stored = conn.execute(
            "SELECT status, process_count, skipped_count, skipped_rows, warnings FROM snapshots"
            " WHERE snapshot_id = %s", (item.snapshot.snapshot_id,)).fetchone()  # fmt: skip
        pids = [r[0] for r in conn.execute("SELECT pid FROM sessions WHERE host = %s ORDER BY"
                                           " pid", (item.snapshot.host,))]  # fmt: skip
    assert summary.rejected == [] and summary.snapshots_written == 2
    status, count, skipped_count, skipped, warnings = stored
    assert (status, count, skipped_count) == ("stored", 2, 1)
    assert skipped[0]["line"] == 2 and why in skipped[0]["reason"], skipped
    assert any(w.startswith("line 2: skipped process its") for w in warnings), warnings
    assert pids == [10, 12]


def test_sizes_whose_sums_overflow_the_rollups_are_set_aside(database_url: str) -> None:
    """Two RSS of 4 EiB each fit ``bigint``, their sum in the rollups does not: refused, and
    each is more than a pebibyte, which no machine has."""
    huge = [ProcessRecord(pid=p, name="odd", app="odd", rss_kb=2**62) for p in (11, 13)]
    item = listing(GOOD, *huge)
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = SnapshotWriter(raw_rows_retention_days=0).write(conn, [item])
    assert summary.rejected == [] and summary.snapshots_written == 1
    assert [p.pid for p in item.processes] == [10]
    assert [(r.line, "more than a pebibyte" in r.reason) for r in item.skipped] == [(2, True),
                                                                                   (3, True)]


def test_a_snapshot_with_no_row_the_database_holds_stays_refused_whole(
    database_url: str,
) -> None:
    item = listing(ProcessRecord(pid=2**31, name="odd", app="odd"))
    with psycopg.connect(database_url, autocommit=True) as conn:
        summary = SnapshotWriter().write(conn, [listing(GOOD), item])
    assert [i for i, _ in summary.rejected] == [1] and summary.snapshots_written == 1
    assert "out of range" in summary.rejected[0][1]
    assert item.processes and not item.skipped  # nothing moved: it is failed as it came
