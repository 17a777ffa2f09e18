"""Sessions and seconds of use as the writer keeps them, on a real PostgreSQL: hours within one
sampling interval whatever the cadence, launches exact, replays and late arrivals harmless."""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
import pytest

from dream.snapshots import ProcessedSnapshot
from sessions_helpers import (
    T0,
    clear,
    host_days,
    hours,
    hours_from_sessions,
    sessions,
    snapshot,
    write,
    wrong_ended,
)


def _per_app(url: str) -> dict[str, tuple[float, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT app, sum(seconds), sum(launches)::int FROM usage_hours_daily GROUP BY app"
        ).fetchall()
    return {app: (seconds, launches) for app, seconds, launches in rows}


def test_an_hour_is_an_hour_at_one_and_ten_minute_cadence(database_url: str) -> None:
    """The issue's example: 60 one-minute samples of Stata, 6 ten-minute samples of SPSS."""
    stata = [snapshot("econ-01", T0 + timedelta(minutes=i), [(400, "StataMP-64.exe", "stata")],
                      interval_s=60) for i in range(60)]  # fmt: skip
    spss = [snapshot("psy-02", T0 + timedelta(minutes=10 * i), [(700, "spss.exe", "spss")],
                     interval_s=600) for i in range(6)]  # fmt: skip
    write(database_url, stata + spss)
    # Open for [T0, T0 + 1 h) on both: the estimate is exact here, and within one cadence always.
    assert _per_app(database_url) == {"stata": (3600.0, 1), "spss": (3600.0, 1)}
    rows = sessions(database_url)
    assert [(r[0], r[3], r[11]) for r in rows] == [("econ-01", "StataMP-64.exe", 60),
                                                   ("psy-02", "spss.exe", 6)]  # fmt: skip


@pytest.mark.parametrize("cadence", [60, 600])
def test_hours_within_one_cadence_and_launches_exact(database_url: str, cadence: int) -> None:
    """Random true sessions (start, length) of one app, sampled at ``cadence``: each estimate is
    within one cadence of the truth, and each launch counted once."""
    rng = random.Random(cadence)
    step = timedelta(seconds=cadence)
    truths, samples = [], []
    start = T0
    for pid in range(1, 9):
        start += timedelta(seconds=rng.uniform(3 * cadence, 20 * cadence))  # closed meanwhile
        length = timedelta(seconds=rng.uniform(cadence, 30 * cadence))
        truths.append(length.total_seconds())
        # Sampled at the host's ticks (multiples of the cadence) that fall inside the session.
        tick = T0 + step * -(-(start - T0) // step)
        while tick < start + length:
            samples.append((tick, pid))
            tick += step
        start += length
    by_tick: dict = {}
    for tick, pid in samples:
        by_tick.setdefault(tick, []).append((pid, "matlab.exe", "matlab"))
    write(database_url, [snapshot("eng-07", t, procs, interval_s=cadence)
                         for t, procs in sorted(by_tick.items())])  # fmt: skip
    rows = sessions(database_url)
    assert len(rows) == len(truths)  # one session per launch
    for row, truth in zip(rows, truths, strict=True):
        estimate = (row[5] - row[4]).total_seconds() + row[6]
        assert abs(estimate - truth) <= cadence
    assert _per_app(database_url)["matlab"][1] == len(truths)


def test_a_gap_longer_than_one_and_a_half_cadences_ends_the_session(database_url: str) -> None:
    at = [0, 5, 10, 25, 30]  # minutes, 5-minute cadence: 10 → 25 is a 15-minute gap
    write(database_url, [snapshot("law-03", T0 + timedelta(minutes=m), [(9, "WINWORD.EXE", "word")],
                                  interval_s=300) for m in at])  # fmt: skip
    rows = sessions(database_url)
    assert [(r[4] - T0, r[5] - T0, r[11]) for r in rows] == [
        (timedelta(0), timedelta(minutes=10), 3), (timedelta(minutes=25), timedelta(minutes=30), 2)
    ]
    assert _per_app(database_url)["word"] == (15 * 60 + 10 * 60, 2)


def test_without_interval_the_default_cadence_applies(database_url: str) -> None:
    snaps = [snapshot("law-04", T0 + timedelta(minutes=m), [(3, "excel.exe", "excel")])
             for m in (0, 7, 14)]  # fmt: skip
    write(database_url, snaps, default_cadence_s=600)
    (row,) = sessions(database_url)
    assert (row[6], row[11]) == (600.0, 3)
    assert _per_app(database_url)["excel"] == (14 * 60 + 600, 1)


def test_late_snapshot_bridges_two_sessions_into_one(database_url: str) -> None:
    """Arrival order does not matter: the 10:10 snapshot, late, joins 10:00-10:05 and 10:15-."""
    def at(m: int) -> ProcessedSnapshot:
        return snapshot("arts-1", T0 + timedelta(minutes=m), [(5, "gimp", "gimp")], interval_s=300)

    write(database_url, [at(0), at(5)], [at(20), at(15)])
    assert len(sessions(database_url)) == 2
    assert _per_app(database_url)["gimp"] == (20 * 60, 2)
    write(database_url, [at(10)])
    (row,) = sessions(database_url)
    assert (row[4], row[5], row[11]) == (T0, T0 + timedelta(minutes=20), 5)
    assert _per_app(database_url)["gimp"] == (25 * 60, 1)
    assert hours(database_url) == [(*r[:6], r[6], r[7], r[6], r[7])
                                   for r in hours_from_sessions(database_url)]  # fmt: skip


def test_replaying_a_batch_changes_nothing(database_url: str) -> None:
    batch = [snapshot("sci-9", T0 + timedelta(minutes=m), [(1, "R.exe", "r"), (2, "svchost.exe",
             "svchost")], interval_s=60) for m in range(0, 10)]  # fmt: skip
    write(database_url, batch)
    before = sessions(database_url), hours(database_url)
    write(database_url, batch, batch[3:5])  # the same messages again: already final
    assert (sessions(database_url), hours(database_url)) == before
    # system processes count in seconds, not in the u_* (user) counters
    assert [(r[1], r[6], r[8]) for r in before[1]] == [("r", 600.0, 600.0),
                                                       ("svchost", 600.0, 0.0)]  # fmt: skip


def test_instances_of_one_app_extended_alike_each_count(database_url: str) -> None:
    """Two matlab processes and a system one, each listing in its own batch (one per host, as
    in production): every batch extends each running session by the same five minutes, which
    the writer counts per key and adds once, times the sessions (storage/hours.py)."""
    procs = [(11, "matlab.exe", "matlab"), (15, "matlab.exe", "matlab"),
             (16, "svchost.exe", "svchost")]  # fmt: skip
    write(database_url, *[[snapshot("eng-3", T0 + timedelta(minutes=5 * k), procs,
                                    interval_s=300)] for k in range(4)])  # fmt: skip
    assert [r[:8] for r in hours(database_url)] == hours_from_sessions(database_url)
    assert [(r[1], r[6], r[7], r[8]) for r in hours(database_url)] == [
        ("matlab", 2 * 1200.0, 2, 2 * 1200.0), ("svchost", 1200.0, 1, 0.0)]
    with psycopg.connect(database_url) as conn:  # the hourly table the writer keeps likewise
        hourly = conn.execute("SELECT app, sum(seconds), sum(launches)::int, sum(u_seconds)"
                              " FROM usage_hours_hourly GROUP BY app ORDER BY app").fetchall()
    assert hourly == [("matlab", 2 * 1200.0, 2, 2 * 1200.0), ("svchost", 1200.0, 1, 0.0)]


def test_sessions_across_midnight_split_their_seconds_by_day(database_url: str) -> None:
    late = T0.replace(hour=23, minute=30)
    write(database_url, [snapshot("lib-1", late + timedelta(minutes=10 * i), [(8, "zotero", "zotero")],
                                  interval_s=600) for i in range(6)])  # fmt: skip
    rows = hours(database_url)
    assert [(r[0] - late.replace(hour=0, minute=0), r[6], r[7]) for r in rows] == [
        (timedelta(0), 1800.0, 1), (timedelta(days=1), 1800.0, 0)
    ]
    assert [r[:8] for r in rows] == hours_from_sessions(database_url)


def test_per_sample_rows_follow_their_retention_and_sessions_do_not(database_url: str) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC).replace(microsecond=0)
    recent = snapshot("lab-1", now - timedelta(hours=1), [(1, "matlab", "matlab")], interval_s=60)
    old = snapshot("lab-1", now - timedelta(days=30), [(1, "matlab", "matlab")], interval_s=60)
    write(database_url, [recent, old], raw_rows_retention_days=7)

    def counts() -> tuple[int, int, int]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT count(*) FROM processes").fetchone()
            built = conn.execute("SELECT count(*) FROM sessions").fetchone()
            # The hourly rollups count the old snapshot's process as the recent one's.
            rolled = conn.execute("SELECT coalesce(sum(processes), 0)::int FROM usage_hourly"
                                  " WHERE app = 'matlab'").fetchone()  # fmt: skip
        return rows[0], built[0], rolled[0]

    assert counts() == (1, 2, 2)  # the old snapshot built its session and rollup, no sample row
    clear(database_url)
    write(database_url, [recent, old], raw_rows_retention_days=0)
    assert counts() == (0, 2, 2)


@pytest.mark.parametrize("order", [(0, 1, 2), (0, 2, 1), (2, 1, 0), (1, 0, 2)])
def test_a_session_reaches_as_far_as_its_longest_cadence(database_url: str, order: tuple) -> None:
    """The cadence changed (10 min, then 1 min): the 10-minute sample still reaches 15 minutes
    on, so 0, 5 and 10 are one session however they arrive."""
    snaps = [snapshot("lab-8", T0 + timedelta(minutes=m), [(4, "stata", "stata")], interval_s=c)
             for m, c in ((0, 600), (5, 60), (10, 60))]  # fmt: skip
    write(database_url, *[[snaps[i]] for i in order])
    (row,) = sessions(database_url)
    assert (row[4], row[5], row[6], row[7], row[11]) == (
        T0, T0 + timedelta(minutes=10), 60.0, T0 + timedelta(minutes=15), 3
    )
    assert _per_app(database_url)["stata"] == (10 * 60 + 60, 1)


def test_host_days_count_stored_and_failed_snapshots_once(database_url: str) -> None:
    """Coverage counts a host reporting, whether its listing parsed or not, and a replayed
    snapshot (already final) adds nothing."""
    stored = [snapshot("lab-9", T0 + timedelta(minutes=m), [(4, "stata", "stata")], interval_s=c)
              for m, c in ((0, 60), (1, None), (2, 90.5))]  # fmt: skip
    bad = snapshot("lab-9", T0 + timedelta(minutes=3), [], interval_s=60)
    failed = ProcessedSnapshot(bad.snapshot, "failed", error="no parser")
    write(database_url, stored[:2], [failed, stored[2]], [stored[0], failed])
    day = T0.replace(hour=0)
    assert host_days(database_url) == [
        (day, "lab-9", "windows", "law", 4, T0, T0 + timedelta(minutes=3), 60 + 90.5 + 60, 3)
    ]


def test_ended_is_last_seen_plus_cadence_whoever_writes_the_row(database_url: str) -> None:
    """The worker writes ``ended`` itself (the trigger then skips its function); any other
    writer, with no ``ended`` or a wrong one, still gets it set by the trigger."""
    write(database_url, [snapshot("h1", T0, [(1, "a.exe", "a")], interval_s=60.0)],
          [snapshot("h1", T0 + timedelta(minutes=1), [(1, "a.exe", "a")], interval_s=60.0)])
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO sessions (host, user_name, pid, name, first_seen, last_seen, cadence_s,"
            " open_until, os, faculty, app, is_system, samples)"
            " VALUES ('h2', 'u', 1, 'b', %(t)s, %(t)s, 90.5, %(t)s + interval '1 hour', 'linux',"
            " 'law', 'b', false, 1)", {"t": T0})  # fmt: skip
        conn.execute("UPDATE sessions SET ended = first_seen WHERE host = 'h1'")
        conn.execute("UPDATE sessions SET last_seen = last_seen + interval '1 minute'"
                     " WHERE host = 'h2'")  # fmt: skip
        ended = dict(conn.execute("SELECT host, ended FROM sessions").fetchall())
    assert ended == {"h1": T0 + timedelta(minutes=2),
                     "h2": T0 + timedelta(minutes=1, seconds=90.5)}  # fmt: skip
    assert wrong_ended(database_url) == 0
