"""top-apps by executable or version from migration 0025's rollups equals the brute-force
answer over the sessions, as the writer keeps them and after sessions change key, version or
go (a reprocess, an erasure); the rollups the triggers keep equal the migration's backfill."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

import analytics_dataset
from dream.analytics.filters import Filters
from dream.analytics.products import top_apps_by
from dream.analytics.queries import Analytics
from dream.storage.migrate import available_migrations

# Whole days over one 64-day block and across two (2026-03-31 | 04-01), with system processes,
# one app; ranges with hours at either end or naming a faculty answer from the sessions.
RANGES = [
    {"from": "2026-03-02T00:00:00Z", "to": "2026-03-04T00:00:00Z"},
    {"from": "2026-03-03T00:00:00Z", "to": "2026-04-02T00:00:00Z"},
    {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "include_system": True},
    {"from": "2026-03-04T00:00:00Z", "to": "2026-04-02T00:00:00Z", "app": "excel"},
    {"from": "2026-03-02T10:00:00Z", "to": "2026-04-01T15:00:00Z"},
    {"from": "2026-03-03T09:00:00Z", "to": "2026-03-03T17:00:00Z", "faculty": "law"},
]
ROLLUPS = ("usage_versions_daily", "usage_versions_spans", "usage_versions_presence")


def kept(conn: psycopg.Connection) -> list[list[tuple]]:
    """The rollups' contents, the counters summed per key (a key may hold several rows)."""
    return [
        conn.execute("SELECT bucket, app, name, version, sum(seconds), sum(launches),"
                     " sum(u_seconds), sum(u_launches) FROM usage_versions_daily"
                     " GROUP BY 1, 2, 3, 4 HAVING sum(seconds) <> 0 OR sum(launches) <> 0"
                     " ORDER BY 1, 2, 3, 4").fetchall(),
        conn.execute("SELECT first_day, last_day, app, name, version, sum(samples),"
                     " sum(u_samples) FROM usage_versions_spans GROUP BY 1, 2, 3, 4, 5"
                     " HAVING sum(samples) <> 0 ORDER BY 1, 2, 3, 4, 5").fetchall(),
        conn.execute("SELECT app, kind, key, dim, who, array_lower(days, 1), days::text,"
                     " u_days::text FROM usage_versions_presence ORDER BY 1, 2, 3, 4, 5"
                     ).fetchall(),
    ]  # fmt: skip


def assert_equal_to_sessions(analytics: Analytics) -> None:
    for f in RANGES:
        filters = Filters.model_validate(f)
        whole = "T00:00:00Z" in f["to"] and "T00:00:00Z" in f["from"] and "faculty" not in f
        for by in ("executable", "version"):
            for metric in ("users", "hosts", "processes", "hours", "launches"):
                found = top_apps_by(analytics, filters, by=by, metric=metric, limit=30)
                oracle = top_apps_by(analytics, filters, by=by, metric=metric, limit=30,
                                     sessions=True)  # fmt: skip
                assert found.source == ("rollup" if whole else "sessions"), f
                assert found.items == oracle.items != [], (f, by, metric)


def test_top_apps_by_executable_and_version_equal_the_sessions(
    database_url: str, rows: list[analytics_dataset.Row]
) -> None:
    with ConnectionPool(database_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        analytics = Analytics(pool)
        assert_equal_to_sessions(analytics)
        with psycopg.connect(database_url, autocommit=True) as conn:
            # Versions and executables named after the fact (a reprocess), a session cut short
            # and some gone (an erasure): keys change, shrink and go.
            conn.execute("UPDATE sessions SET version = CASE pid % 3 WHEN 0 THEN 'R2023b'"
                         " WHEN 1 THEN '16' END, name = CASE WHEN pid % 2 = 0"
                         " THEN upper(name) ELSE name END")  # fmt: skip
            conn.execute("UPDATE sessions SET last_seen = first_seen"
                         " WHERE (pid % 5 = 0) AND last_seen > first_seen")  # fmt: skip
            conn.execute("DELETE FROM sessions WHERE pid % 7 = 0")
            assert conn.execute("SELECT count(DISTINCT version) FROM sessions").fetchone() == (2,)
        assert_equal_to_sessions(analytics)

    backfill = next(m for m in available_migrations() if m.version == 25).sql
    with psycopg.connect(database_url) as conn:
        before = kept(conn)
        assert all(before)
        for table in ROLLUPS:
            conn.execute(f"DELETE FROM {table}".encode())
        conn.execute(backfill[backfill.rindex("DO $$"):].encode())
        assert kept(conn) == before
        conn.execute("TRUNCATE sessions")
        assert kept(conn) == [[], [], []]
        conn.rollback()
