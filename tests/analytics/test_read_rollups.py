"""usage_hours_hourly (migration 0011) always equals the sum over the sessions: whatever order
and batches the writer gets snapshots in (sessions opened, extended, merged, deleted), and for
sessions written by hand, deleted or truncated."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import analytics_dataset
import sessions_data
import writer_draws

BASE = datetime(2026, 11, 30, 22, 40, tzinfo=UTC)  # the draws span hours and midnight
POOL = [(11, "matlab.exe", "matlab"), (12, "spss.exe", "spss"), (None, "R", "r"),
        (13, "svchost.exe", "svchost"), (14, "kworker", "")]  # fmt: skip
HOUR = timedelta(hours=1)


def _quantized(seconds: float) -> float:
    return round(seconds * 1024) / 1024


def hourly(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """usage_hours_hourly summed per key (a key may hold several rows between folds)."""
    rows = conn.execute(
        "SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds),"
        " sum(u_launches) FROM usage_hours_hourly GROUP BY 1, 2, 3, 4"
    ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows if any(r[4:])}


def hourly_from_sessions(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """The oracle: every session of a known app cut at the UTC hours it covers."""
    out: dict[tuple, list] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for first, ended, app, os, faculty, system in conn.execute(
        "SELECT first_seen, ended, app, os, faculty, is_system FROM sessions WHERE app <> ''"
    ):
        hour = first.replace(minute=0, second=0, microsecond=0)
        while hour < ended:
            seconds = _quantized((min(ended, hour + HOUR) - max(first, hour)).total_seconds())
            launched = int(hour <= first < hour + HOUR)
            acc = out[(hour, app, os, faculty)]
            acc[0] += seconds
            acc[1] += launched
            if not system:
                acc[2] += seconds
                acc[3] += launched
            hour += HOUR
    return {k: tuple(v) for k, v in out.items() if any(v)}


snapshot_specs = writer_draws.specs(["h1", "h2"], POOL)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=snapshot_specs, batch=st.integers(1, 6))
# A session extended in a later batch whose end moves back across an hour (22:55 at a 600 s
# cadence ends 23:05; taken on at 22:58 at 60 s it ends 22:59): the writer's own hourly change.
@example(specs=[("h1", 15, 600.0, "ann", {0}), ("h1", 18, 60.0, "ann", {0})], batch=1)
def test_the_hourly_table_is_the_sum_over_the_sessions_whatever_the_order(
    module_database_url: str, specs: list, batch: int
) -> None:
    snaps = [writer_draws.snapshot(BASE, POOL, *spec) for spec in specs]

    def check(conn: psycopg.Connection) -> None:
        assert hourly(conn) == hourly_from_sessions(conn)  # the truncate emptied it too

    writer_draws.write_checked(module_database_url, snaps, batch, check)
    with psycopg.connect(module_database_url) as conn:
        assert hourly(conn) == hourly_from_sessions(conn) != {} or not any(
            POOL[i][2] for spec in specs for i in spec[4])


def test_sessions_written_updated_and_deleted_by_hand(database_url: str) -> None:
    t = datetime(2026, 5, 4, 10, 20, tzinfo=UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        sessions_data.insert(conn, [
            sessions_data.Session("lab-1", "ann", "stata", t, t + timedelta(hours=2), 600),
            sessions_data.Session("lab-1", "ann", "svchost", t, t, 60, is_system=True, pid=4),
            sessions_data.Session("lab-2", "bob", "", t, t + timedelta(hours=1), 60, pid=5),
        ])  # fmt: skip
        found = hourly(conn)
        assert found == hourly_from_sessions(conn)
        assert found[(t.replace(minute=0), "stata", "linux", "engineering")] == (2400, 1, 2400, 1)
        assert found[(t.replace(minute=0), "svchost", "linux", "engineering")] == (60, 1, 0, 0)
        # Extended in place (its end moves into the next hour), then moved to another app.
        conn.execute("UPDATE sessions SET last_seen = last_seen + interval '50 minutes',"
                     " open_until = open_until + interval '50 minutes' WHERE app = 'stata'")  # fmt: skip
        assert hourly(conn) == hourly_from_sessions(conn)
        conn.execute("UPDATE sessions SET app = 'spss' WHERE app = 'stata'")
        assert hourly(conn) == hourly_from_sessions(conn)
        assert {k[1] for k in hourly(conn)} == {"spss", "svchost"}
        conn.execute("DELETE FROM sessions WHERE app = 'spss'")
        assert hourly(conn) == hourly_from_sessions(conn)
        conn.execute("TRUNCATE sessions")
        assert hourly(conn) == {}


def hourly_apps(conn: psycopg.Connection) -> set[tuple]:
    """usage_hourly_apps summed per key."""
    return set(conn.execute(
        "SELECT bucket, app, os, faculty, sum(snapshots), sum(processes), sum(cpu_n), sum(rss_n),"
        " sum(u_snapshots), sum(u_processes), round(sum(cpu_sum)::numeric, 6)"
        " FROM usage_hourly_apps GROUP BY 1, 2, 3, 4"
        " HAVING sum(snapshots) <> 0 OR sum(u_snapshots) <> 0"
    ).fetchall())  # fmt: skip


def hourly_apps_from_usage(conn: psycopg.Connection) -> set[tuple]:
    """The oracle: usage_hourly summed over users and hosts."""
    return set(conn.execute(
        "SELECT bucket, app, os, faculty, sum(snapshots), sum(processes), sum(cpu_n), sum(rss_n),"
        " sum(u_snapshots), sum(u_processes), round(sum(cpu_sum)::numeric, 6)"
        " FROM usage_hourly GROUP BY 1, 2, 3, 4"
    ).fetchall())  # fmt: skip


def presence_hourly(conn: psycopg.Connection) -> set[tuple]:
    """usage_presence_hourly OR-ed per key."""
    return set(conn.execute(
        "SELECT day, app, os, faculty, dim, who, bit_or(hours), bit_or(u_hours)"
        " FROM usage_presence_hourly GROUP BY 1, 2, 3, 4, 5, 6"
    ).fetchall())  # fmt: skip


def presence_hourly_from_usage(conn: psycopg.Connection) -> set[tuple]:
    """The oracle: per day and key, the hours with a usage_hourly row with use."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for bucket, app, os, faculty, user, host, u_snapshots in conn.execute(
        "SELECT bucket, app, os, faculty, user_name, host, u_snapshots"
        " FROM usage_hourly WHERE snapshots > 0"
    ):
        day = bucket.astimezone(UTC).replace(hour=0)
        bit = 1 << bucket.astimezone(UTC).hour
        for dim, who in (("u", user), ("h", host)):
            acc = out[(day, app, os, faculty, dim, who)]
            acc[0] |= bit
            acc[1] |= bit if u_snapshots > 0 else 0
    return {(*k, *v) for k, v in out.items()}


def test_hourly_apps_and_presence_follow_usage_hourly(database_url: str) -> None:
    analytics_dataset.load(database_url)  # through the real writer, with duplicates and a replay
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert hourly_apps(conn) == hourly_apps_from_usage(conn) != set()
        assert presence_hourly(conn) == presence_hourly_from_usage(conn) != set()
        # Use taken out (as a reprocess does): a row emptied of non-system use, one deleted.
        conn.execute("UPDATE usage_hourly SET u_snapshots = 0, u_processes = 0"
                     " WHERE app = 'winword' AND u_snapshots > 0")  # fmt: skip
        conn.execute("DELETE FROM usage_hourly WHERE app = 'matlab'")
        assert hourly_apps(conn) == hourly_apps_from_usage(conn)
        assert presence_hourly(conn) == presence_hourly_from_usage(conn)
        assert not any(r[1] == "matlab" for r in presence_hourly(conn))
        # Use put back by an UPDATE (the writer's upserts are updates): the hours' bits return.
        conn.execute("UPDATE usage_hourly SET u_snapshots = 1, u_processes = 1"
                     " WHERE app = 'winword' AND u_snapshots = 0")  # fmt: skip
        conn.execute("UPDATE usage_hourly SET snapshots = 0, u_snapshots = 0"
                     " WHERE app = 'excel'")  # fmt: skip
        assert presence_hourly(conn) == presence_hourly_from_usage(conn)
        conn.execute("UPDATE usage_hourly SET snapshots = 2 WHERE app = 'excel'")
        assert presence_hourly(conn) == presence_hourly_from_usage(conn)
        assert any(r[1] == "excel" for r in presence_hourly(conn))
        # Rows moved to another key by hand: the old key's hours go, the new key's come.
        conn.execute("UPDATE usage_hourly SET app = 'word-renamed' WHERE app = 'winword'")
        assert hourly_apps(conn) == hourly_apps_from_usage(conn)
        assert presence_hourly(conn) == presence_hourly_from_usage(conn)
        assert not any(r[1] == "winword" for r in presence_hourly(conn))
        conn.execute("TRUNCATE usage_hourly")
        assert hourly_apps(conn) == presence_hourly(conn) == set()
