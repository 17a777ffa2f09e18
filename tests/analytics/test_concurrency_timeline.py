"""The apps' concurrency timeline (migration 0016): its spans always equal the union of the
sessions' use, whatever the writer did (opened, extended, merged, deleted sessions, in any
order and batches) or a hand wrote; and concurrency from it equals an exact brute force (peaks
and the time-weighted 95th percentile) and the sweep over the sessions, for days still marked
dirty and for days whose hours were computed."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

import analytics_dataset as ds
import sessions_data
import writer_draws
from dream.analytics import timeline
from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics

BASE = datetime(2026, 11, 30, 22, 40, tzinfo=UTC)  # the draws span hours and midnight
POOL = [(11, "matlab.exe", "matlab"), (12, "matlab.exe", "matlab"), (13, "spss.exe", "spss"),
        (14, "svchost.exe", "svchost"), (15, "kworker", "")]  # fmt: skip
DAY = timedelta(days=1)
STEP = {"hour": timedelta(hours=1), "day": DAY, "week": timedelta(weeks=1)}


def _union(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def spans(conn: psycopg.Connection) -> dict[tuple, list]:
    rows = conn.execute("SELECT app, day, host, user_name, r FROM concurrency_spans,"
                        " unnest(spans) r ORDER BY 1, 2, 3, 4, lower(r)").fetchall()  # fmt: skip
    out: dict[tuple, list] = defaultdict(list)
    for app, day, host, user, r in rows:
        out[(app, day, host, user)].append((r.lower, r.upper))
    return dict(out)


def spans_from_sessions(conn: psycopg.Connection) -> dict[tuple, list]:
    """The oracle: per app, UTC day, host and user, the union of its non-system sessions' use."""
    pieces: dict[tuple, list] = defaultdict(list)
    for app, host, user, first, ended in conn.execute(
        "SELECT app, host, user_name, first_seen, ended FROM sessions"
        " WHERE app <> '' AND NOT is_system"
    ):
        day = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < ended:
            pieces[(app, day, host, user)].append((max(first, day), min(ended, day + DAY)))
            day += DAY
    return {k: _union(v) for k, v in pieces.items()}


def brute_force(sessions: list[sessions_data.Session], bucket: str, start: datetime,
                end: datetime) -> list[tuple]:  # fmt: skip
    """Per bucket from the first to the last with use in [start, end): peak users and hosts at
    one instant, and the smallest count c of users running for >= 95% of the bucket's time in
    the range, counted between every two consecutive instants where anything changes."""
    clipped = [(max(s.first_seen, start), min(s.ended, end), s) for s in sessions
               if s.first_seen < end and s.ended > start]  # fmt: skip
    if not clipped:
        return []
    lo = ds.truncate(min(a for a, _, _ in clipped), bucket)
    hi = ds.truncate(max(b for _, b, _ in clipped) - timedelta(microseconds=1), bucket)
    edges, b = [], lo
    while b <= hi:
        edges.append(b)
        b += STEP[bucket]
    instants = sorted({max(start, min(end, t)) for t in [*edges, b]}
                      | {t for a, e, _ in clipped for t in (a, e)})  # fmt: skip
    time: dict[datetime, dict[int, timedelta]] = defaultdict(lambda: defaultdict(timedelta))
    peaks: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for t, nxt in itertools.pairwise(instants):
        running = [s for a, e, s in clipped if a <= t < e]
        users, hosts = len({s.user for s in running}), len({s.host for s in running})
        key = ds.truncate(t, bucket)
        time[key][users] += nxt - t
        peaks[key] = [max(peaks[key][0], users), max(peaks[key][1], hosts)]
    out = []
    for key in sorted(time):
        total, below = sum(time[key].values(), timedelta()), timedelta()
        for n in sorted(time[key]):
            below += time[key][n]
            if 20 * below >= 19 * total:
                out.append((key, *peaks[key], n))
                break
    return out


def _answer(items: list[dict[str, Any]]) -> list[tuple]:
    return [(i["bucket"], i["peak_users"], i["peak_hosts"], i["p95_users"]) for i in items]


def refresh_all(conn: psycopg.Connection) -> None:
    """Compute the hours of every dirty day (the writer does a few per statement)."""
    conn.execute("SELECT concurrency_refresh(1000000, 'infinity')")
    assert conn.execute("SELECT count(*) FROM concurrency_dirty").fetchone() == (0,)


def _check(url: str, sessions: list[sessions_data.Session], apps: Iterable[str],
           ranges: Iterable[tuple[datetime, datetime]], zone: str = "UTC") -> None:  # fmt: skip
    """Timeline, sweep and brute force agree for each app, bucket and range (asked from
    connections in time zone ``zone``)."""
    kwargs = {"autocommit": True, "options": f"-c TimeZone={zone}"}
    with ConnectionPool(url, min_size=1, max_size=1, kwargs=kwargs) as pool:
        analytics = Analytics(pool)
        for app in apps:
            for start, end in ranges:
                f = Filters.model_validate({"app": app, "from": start, "to": end})
                assert timeline.on_timeline(f)
                for bucket in STEP:
                    expected = brute_force(sessions_data.matching(sessions, {"app": app}),
                                           bucket, f.start, f.end)  # fmt: skip
                    answer = analytics.concurrency(f, bucket=bucket)
                    assert (_answer(answer.items), answer.source) == (expected, "rollup")
                    swept = timeline.concurrency(analytics._fetch, f, bucket, sweep=True)
                    assert _answer(swept) == expected
                    wider = f.model_copy(update={"include_system": True})  # the sessions'
                    assert analytics.concurrency(wider, bucket=bucket).source == "sessions"


def stored_sessions(conn: psycopg.Connection) -> list[sessions_data.Session]:
    rows = conn.execute("SELECT host, user_name, app, first_seen, last_seen, cadence_s, os,"
                        " faculty, is_system, pid FROM sessions").fetchall()  # fmt: skip
    return [sessions_data.Session(h, u, a, f, last, c, os, fac, system, pid)
            for h, u, a, f, last, c, os, fac, system, pid in rows]  # fmt: skip


snapshot_specs = writer_draws.specs(["h1", "h2", "h3"], POOL)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=snapshot_specs, batch=st.integers(1, 6))
def test_the_spans_are_the_union_of_the_sessions_whatever_the_order(
    module_database_url: str, specs: list, batch: int
) -> None:
    snaps = [writer_draws.snapshot(BASE, POOL, *spec) for spec in specs]

    def check(conn: psycopg.Connection) -> None:
        assert spans(conn) == spans_from_sessions(conn)  # the truncate emptied it too

    writer_draws.write_checked(module_database_url, snaps, batch, check)
    with psycopg.connect(module_database_url) as conn:
        stored = stored_sessions(conn)
    hour = BASE.replace(minute=0)
    whole = [(hour - timedelta(hours=1), hour + timedelta(hours=6))]
    _check(module_database_url, stored, ["matlab", "spss"], whole)
    with psycopg.connect(module_database_url, autocommit=True) as conn:
        refresh_all(conn)
    _check(module_database_url, stored, ["matlab", "spss"], whole)


def test_sessions_written_updated_and_deleted_by_hand(database_url: str) -> None:
    t = datetime(2026, 5, 4, 22, 20, tzinfo=UTC)
    S = sessions_data.Session
    with psycopg.connect(database_url, autocommit=True) as conn:
        sessions_data.insert(conn, [
            S("lab-1", "ann", "stata", t, t + timedelta(hours=2), 600),  # across midnight
            S("lab-1", "ann", "stata", t + timedelta(minutes=30), t + timedelta(hours=1), 60,
              pid=7),  # within the other: the same span
            S("lab-2", "ann", "stata", t, t + timedelta(minutes=5), 60),
            S("lab-1", "ann", "svchost", t, t, 60, is_system=True, pid=4),
            S("lab-2", "bob", "", t, t + timedelta(hours=1), 60, pid=5),
        ])  # fmt: skip
        assert spans(conn) == spans_from_sessions(conn)
        assert {k[0] for k in spans(conn)} == {"stata"}  # no system process, no unknown app
        # Extended in place, shrunk, moved to another app, deleted, truncated.
        for change in (
            "UPDATE sessions SET last_seen = last_seen + interval '50 minutes',"
            " open_until = open_until + interval '50 minutes' WHERE pid = 100",
            "UPDATE sessions SET last_seen = first_seen, open_until = first_seen + interval"
            " '1 minute' WHERE pid = 100 AND host = 'lab-1'",
            "UPDATE sessions SET app = 'spss' WHERE pid = 7",
            "DELETE FROM sessions WHERE app = 'spss'",
        ):
            conn.execute(change.encode())
            assert spans(conn) == spans_from_sessions(conn)
            stored = stored_sessions(conn)
            day = t.replace(hour=0, minute=0)
            _check(database_url, stored, ["stata", "spss"], [(day, day + 3 * DAY)])
            refresh_all(conn)
            _check(database_url, stored, ["stata", "spss"], [(day, day + 3 * DAY)])
        conn.execute("TRUNCATE sessions")
        assert spans(conn) == {}
        assert conn.execute("SELECT count(*) FROM concurrency_hourly").fetchone() == (0,)


@pytest.mark.parametrize("refreshed", [False, True])
def test_the_timeline_equals_a_brute_force_over_the_dataset(
    database_url: str, rows: list[ds.Row], refreshed: bool
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        if refreshed:
            refresh_all(conn)
        else:  # every day from its spans
            conn.execute("INSERT INTO concurrency_dirty SELECT DISTINCT app, day"
                         " FROM concurrency_spans")  # fmt: skip
        stored = stored_sessions(conn)
    first = min(s.first_seen for s in stored).replace(minute=0, second=0, microsecond=0)
    ranges = [(first - DAY, first + 30 * DAY), (first + timedelta(hours=13), first + 2 * DAY)]
    _check(database_url, stored, sorted({s.app for s in stored if s.app})[:4], ranges)


def test_days_are_utc_days_in_any_time_zone(database_url: str) -> None:
    """Written and asked from connections in Europe/Berlin, whose clocks move on 29 March 2026:
    a UTC day is still 24 hours, not the 23 of that local day."""
    t = datetime(2026, 3, 28, 21, 0, tzinfo=UTC)
    S = sessions_data.Session
    with psycopg.connect(database_url, autocommit=True,
                         options="-c TimeZone=Europe/Berlin") as conn:  # fmt: skip
        sessions_data.insert(conn, [
            S("lab-1", "ann", "stata", t, t + timedelta(hours=4), 600),  # across both midnights
            S("lab-2", "bob", "stata", t + timedelta(hours=25), t + timedelta(hours=28), 600),
        ])  # fmt: skip
        assert spans(conn) == spans_from_sessions(conn)
        stored = stored_sessions(conn)
        day = t.replace(hour=0)
        for refresh in (False, True):
            if refresh:
                refresh_all(conn)
            _check(database_url, stored, ["stata"], [(day, day + 4 * DAY)], "Europe/Berlin")
