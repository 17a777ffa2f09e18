"""Query benchmark: top-apps, usage, hours, concurrency and coverage over a university-sized
history, rollups (and sessions) against raw rows.

The data is generated inside PostgreSQL (``INSERT ... SELECT FROM generate_series``), a day at
a time into a staging table: hosts × days × 12 hourly snapshots (08:00-19:00 UTC) of 80-106
processes each, ~40 % of them system processes. Lab machines change user every four hours,
personal ones keep theirs; each user runs eight applications of a faculty-flavoured list. The
rollups are built from those rows by the same SQL migrations 0002 and 0005 use to backfill
(which the tests prove equal to what the writer maintains); snapshots, sessions, their daily
hours and host_days likewise (``_DERIVED_DAY``, ``_DERIVED``). Only the last RAW_DAYS days'
rows stay in ``processes``, as the product's raw-row retention keeps them: 2,000 hosts × 30
days of raw rows (~70 M) would take longer to load than to query. Loading through the api
would measure ingestion, which ``bench.e2e`` does.

Every query goes through ``dream.analytics.queries.Analytics``, as the api calls it; within
the raw rows' days the rollup answer is checked equal to the raw one, and concurrency from the
apps' timeline equal to the sweep over the sessions.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from dream.analytics import cohorts, timeline
from dream.analytics.cohorts import usage_shares
from dream.analytics.filters import Filters
from dream.analytics.products import top_apps_by
from dream.analytics.queries import Analytics
from dream.storage.migrate import available_migrations, migrate
from dream.settings import Settings
from dream.storage.partitions import PartitionManager, month_of, next_month

START = datetime(2025, 9, 1, tzinfo=UTC)
_RAW_INDEXES = {
    "processes_snapshot_idx": "CREATE INDEX processes_snapshot_idx ON processes (snapshot_id)",
    "processes_app_time_idx": "CREATE INDEX processes_app_time_idx ON processes (app, collected_at)",
    "processes_faculty_os_time_idx":
        "CREATE INDEX processes_faculty_os_time_idx ON processes (faculty, os, collected_at)",
    "processes_time_brin": "CREATE INDEX processes_time_brin ON processes USING brin (collected_at)",
}  # fmt: skip

# Raw per-sample rows are kept for the last days only, as the product keeps them by default
# (DREAM_RAW_ROWS_RETENTION_DAYS); sessions, rollups and host_days cover every day.
RAW_DAYS: int = Settings.model_fields["raw_rows_retention_days"].default

# Each day is generated into this staging table, the derived tables are built from it, and its
# rows move to ``processes``. Only the last RAW_DAYS days are generated: earlier weeks repeat
# them (usage_hourly, snapshots and sessions copied a week earlier at a time, ``_WEEK_BACK``),
# as generating ~70 M rows would take longer than the questions.
_STAGE = "CREATE UNLOGGED TABLE bench_day (LIKE processes)"

# (table, its time columns, a unique column to make anew): %(shift)s, %(since)s, %(start)s.
_WEEK_BACK = (
    ("usage_hourly", ("bucket",), ""),
    ("snapshots", ("collected_at",), ", snapshot_id = md5(snapshot_id::text || %(shift)s)::uuid"),
    ("sessions", ("first_seen", "last_seen", "open_until", "ended"), ""),
)

# One day of one host: 12 snapshots, each 80-106 processes. %(start)s, %(day)s bound.
_GENERATE_DAY = """
INSERT INTO bench_day (snapshot_id, collected_at, host, os, user_name, faculty, pid, ppid,
                       process_user, name, command, app, is_system, cpu_percent, rss_kb)
SELECT md5(s.host || s.at::text)::uuid, s.at, s.host, s.os, s.user_name, s.faculty, i * 4, 1,
       CASE WHEN i <= 38 THEN 'SYSTEM' ELSE s.user_name END, a.app, a.app, a.app, i <= 38,
       ((hashint8(s.seed + i) & 1023) / 16.0)::real,
       (abs(hashint8(s.seed * 31 + i)) %% 900000)::bigint
FROM (
    SELECT h, 'host-' || lpad(h::text, 4, '0') AS host,
           (ARRAY['windows','windows','linux','windows','linux','macos','windows','linux',
                  'windows','windows'])[1 + h %% 10] AS os,
           (ARRAY['law','medicine','engineering','arts','science','economics'])[1 + h %% 6]
               AS faculty,
           CASE WHEN h %% 3 = 0 THEN (h %% 6) * 500 + h %% 500          -- personal machine
                ELSE (h %% 6) * 500 + (h * 7 + %(day)s * 13 + (t / 4) * 31) %% 500 END AS uid,
           %(start)s::timestamptz + make_interval(days => %(day)s, hours => 8 + t) AS at,
           -- bigint: seed * 31 overflowed integer above ~690 hosts
           h::bigint * 100003 + %(day)s * 101 + t * 7 AS seed
    FROM generate_series(0, %(hosts)s - 1) h, generate_series(0, 11) t
) s0
CROSS JOIN LATERAL (SELECT s0.*, 'user' || s0.uid AS user_name) s
CROSS JOIN LATERAL generate_series(1, 80 + (s.seed %% 27)) i
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN i <= 38 THEN
            CASE s.os
                WHEN 'windows' THEN (ARRAY['svchost','svchost','svchost','csrss','lsass',
                                           'dwm','services','wininit'])[1 + i %% 8]
                WHEN 'linux' THEN (ARRAY['kworker','kworker','systemd','sshd','dbus-daemon',
                                         'systemd-journald','cron','rsyslogd'])[1 + i %% 8]
                ELSE (ARRAY['launchd','mds','mds_stores','kernel_task','WindowServer',
                            'coreaudiod','cfprefsd','distnoted'])[1 + i %% 8]
            END
        ELSE (ARRAY['chrome','firefox','teams','zoom','winword','excel','outlook','acrobat',
                    'matlab','python3','r','code','spss','stata','safari','slack',
                    'powerpnt','onenote','rstudio','jupyter'])
             [1 + ((s.uid * 7 + (i %% 8) * 3 + (CASE s.faculty WHEN 'law' THEN 4
                                                              WHEN 'engineering' THEN 8
                                                              WHEN 'medicine' THEN 10
                                                              ELSE 0 END)) %% 20)]
    END AS app
) a
"""

# What the worker keeps beside the raw rows, built from a day's (bench_day): a stored snapshot
# per (host, time), a session per process instance (its pid over a day's consecutive hourly
# snapshots of one user; cadence one hour).
_DERIVED_DAY = (
    """INSERT INTO snapshots (snapshot_id, host, os, user_name, faculty, collected_at, status,
                              interval_s)
       SELECT DISTINCT ON (snapshot_id) snapshot_id, host, os, user_name, faculty, collected_at,
              'stored', CASE WHEN host LIKE '%0' THEN NULL ELSE 3600 END
       FROM bench_day""",
    """INSERT INTO sessions (host, user_name, pid, name, first_seen, last_seen, cadence_s,
                             open_until, os, faculty, app, is_system, process_user, samples,
                             rss_peak_kb)
       SELECT host, user_name, pid, name, min(collected_at), max(collected_at), 3600,
              max(collected_at) + interval '5400 seconds', os, faculty, app, is_system,
              min(process_user), count(*), max(rss_kb)
       FROM bench_day
       GROUP BY host, user_name, pid, name, date_trunc('day', collected_at, 'UTC'), os, faculty,
                app, is_system""",
)
# Then, over every day: the sessions' daily seconds and launches (per user and host, and
# summed over them), and per host and day what coverage reads (migration 0009's definitions).
_DERIVED = (
    """INSERT INTO usage_hours_daily (bucket, app, os, faculty, user_name, host, seconds,
                                      launches, u_seconds, u_launches)
       SELECT date_trunc('day', first_seen, 'UTC'), app, os, faculty, user_name, host,
              sum(extract(epoch FROM last_seen - first_seen) + cadence_s), count(*),
              coalesce(sum(extract(epoch FROM last_seen - first_seen) + cadence_s)
                       FILTER (WHERE NOT is_system), 0),
              count(*) FILTER (WHERE NOT is_system)
       FROM sessions
       GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO usage_hours_daily_apps
       SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds),
              sum(u_launches)
       FROM usage_hours_daily
       GROUP BY 1, 2, 3, 4""",
    """INSERT INTO host_days
       SELECT date_trunc('day', collected_at, 'UTC'), host, os, faculty, count(*),
              min(collected_at), max(collected_at), coalesce(sum(interval_s), 0),
              count(interval_s)
       FROM snapshots
       WHERE status <> 'pending'
       GROUP BY 1, 2, 3, 4""",
)


@dataclass
class Timing:
    name: str
    source: str
    samples: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class QueryBenchResult:
    hosts: int
    days: int
    raw_rows: int
    hourly_rows: int
    daily_rows: int
    load_s: float
    timings: list[Timing]


def _database(server_url: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The benchmark database and whether it already holds the data."""
    url = make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reuse:
            with psycopg.connect(url) as db:
                done = db.execute("SELECT to_regclass('bench_loaded') IS NOT NULL").fetchone()[0]
            if done:
                if migrate(url):  # migrations added since it was loaded (their backfills)
                    with psycopg.connect(url, autocommit=True) as db:
                        _vacuum(db)
                return url, True
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(url)
    return url, False


def _vacuum(conn: psycopg.Connection) -> None:
    """Vacuum and analyze what the questions read (the raw rows: analyze only)."""
    for table in ("usage_hourly", "usage_daily", "usage_daily_apps", "usage_presence",
                  "snapshots", "sessions", "usage_hours_daily", "usage_hours_daily_apps",
                  "host_days", "usage_hours_hourly", "usage_hourly_apps",
                  "usage_presence_hourly", "usage_presence_apps", "usage_presence_app_os",
                  "usage_presence_app_faculty", "concurrency_spans", "concurrency_hourly",
                  "concurrency_dirty"):  # fmt: skip
        conn.execute(f"VACUUM ANALYZE {table}".encode())
    conn.execute("ANALYZE processes")


def _load(url: str, hosts: int, days: int, say: Callable[[str], None]) -> None:
    by_name = {m.name: m.sql for m in available_migrations()}
    rollups = by_name["usage_rollups"]
    hourly_at, daily_at = rollups.index("INSERT INTO usage_hourly"), rollups.index(
        "INSERT INTO usage_daily")
    # The migrations' backfills: usage_hourly from a day's rows, then the daily and lean
    # rollups (0002, 0005) from it once every day is in.
    hourly = rollups[hourly_at:daily_at].replace("FROM processes", "FROM bench_day")
    backfills = [
        rollups[daily_at:],
        by_name["lean_rollups"][by_name["lean_rollups"].index("INSERT INTO usage_daily_apps") :],
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET work_mem = '256MB'")
        months, m = [], month_of(START)
        while m <= month_of(START + timedelta(days=days)):
            months.append(datetime(m.year, m.month, 1, tzinfo=UTC))
            m = next_month(m)
        PartitionManager().ensure(conn, months)
        for name in _RAW_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.execute(_STAGE)
        t0 = time.perf_counter()
        raw_from = max(0, days - RAW_DAYS)
        for day in range(raw_from, days):
            conn.execute(_GENERATE_DAY.encode(), {"start": START, "day": day, "hosts": hosts})
            conn.execute(hourly.encode())
            for derived in _DERIVED_DAY:
                conn.execute(derived.encode())
            conn.execute("INSERT INTO processes SELECT * FROM bench_day")
            conn.execute("TRUNCATE bench_day")
            say(f"  day {day + 1}/{days} ({time.perf_counter() - t0:.0f} s)")
        conn.execute("DROP TABLE bench_day")
        say("  earlier weeks: the generated days' rollups, snapshots and sessions, repeated")
        since = START + timedelta(days=raw_from)
        for weeks in range(1, (raw_from + 6) // 7 + 1):
            shift = timedelta(days=7 * weeks)
            for table, times, anew in _WEEK_BACK:
                moved = ", ".join(f"{c} = {c} - %(shift)s" for c in times)
                conn.execute(f"CREATE TEMP TABLE week AS SELECT * FROM {table}"
                             f" WHERE {times[0]} >= %(since)s AND {times[0]} - %(shift)s >= %(start)s",
                             {"since": since, "shift": shift, "start": START})  # fmt: skip
                conn.execute(f"UPDATE week SET {moved}{anew}".encode(), {"shift": shift})
                conn.execute(f"INSERT INTO {table} SELECT * FROM week")
                conn.execute("DROP TABLE week")
        say("  indexing raw rows")
        for ddl in _RAW_INDEXES.values():
            conn.execute(ddl)
        say("  daily and lean rollups (the migrations' backfills), hours and host_days")
        for backfill in backfills:
            conn.execute(backfill.encode())
        for derived in _DERIVED:
            conn.execute(derived.encode())
        # The concurrency timeline's hours of every past day, as a running deployment has them
        # (the statement triggers computed a few per statement; migration 0016).
        conn.execute("SELECT concurrency_refresh(2147483647, 'infinity')")
        _vacuum(conn)
        conn.execute("CREATE TABLE bench_loaded ()")


def _cases(days: int, user: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(name, kind, filters, options): common research questions over the last days."""
    end = START + timedelta(days=days)
    month = {"from": end - timedelta(days=30), "to": end}
    week = {"from": end - timedelta(days=7), "to": end}
    # Whole hours but not whole days: daily rows inside, hourly rows at both ends.
    ragged = {"from": end - timedelta(days=30, hours=-9), "to": end - timedelta(hours=5)}
    everything = {"from": START, "to": end}
    return [
        ("top-apps 30 d, no filter", "top", month, {}),
        ("top-apps 30 d, law + windows", "top", {**month, "faculty": "law", "os": "windows"}, {}),
        ("top-apps 30 d, law + windows, shares", "top_shares",
         {**month, "faculty": "law", "os": "windows"}, {}),
        ("top-apps 30 d, linux, by processes", "top", {**month, "os": "linux"},
         {"metric": "processes"}),
        ("top-apps 30 d ragged hours, engineering", "top",
         {**ragged, "faculty": "engineering"}, {}),
        ("top-apps 7 d, one user", "top", {**week, "user": user}, {}),
        ("top-apps all days, include system", "top", {**everything, "include_system": True},
         {"metric": "hosts"}),
        ("usage matlab per day by faculty, all", "usage", {**everything, "app": "matlab"},
         {"bucket": "day", "group_by": "faculty"}),
        ("usage matlab engineering per week, 30 d", "usage",
         {**month, "app": "matlab", "faculty": "engineering"}, {"bucket": "week"}),
        ("usage windows per hour, 7 d", "usage", {**week, "os": "windows"}, {"bucket": "hour"}),
        ("usage per day by os, 30 d", "usage", month, {"bucket": "day", "group_by": "os"}),
        # The same two with each point's share of the bucket's active users (as the api asks).
        ("usage per day by os, 30 d, shares", "shares", month, {"bucket": "day", "group_by": "os"}),
        ("usage matlab per day by faculty, 30 d", "usage", {**month, "app": "matlab"},
         {"bucket": "day", "group_by": "faculty"}),
        ("usage matlab per day by faculty, 30 d, shares", "shares", {**month, "app": "matlab"},
         {"bucket": "day", "group_by": "faculty"}),
        ("top-apps 30 d, by hours", "top", month, {"metric": "hours"}),
        ("top-apps 30 d, group_by=version", "top_by", month, {"by": "version"}),
        ("top-apps 30 d, group_by=executable", "top_by", month, {"by": "executable"}),
        ("top-apps 7 d, law, group_by=version (sessions)", "top_by",
         {**week, "faculty": "law"}, {"by": "version"}),
        ("top-apps 30 d, matlab, group_by=version", "top_by",
         {**month, "app": "matlab"}, {"by": "version"}),
        ("concurrency matlab per hour, 7 d", "concurrency", {**week, "app": "matlab"},
         {"bucket": "hour"}),
        ("concurrency stata per day, 30 d", "concurrency", {**month, "app": "stata"},
         {"bucket": "day"}),
        ("coverage 30 d (every answer's)", "coverage", month, {}),
    ]  # fmt: skip


def run(
    server_url: str,
    *,
    hosts: int = 100,
    days: int = 14,
    reps: int = 20,
    raw_reps: int = 3,
    reuse: bool = False,
    keep: bool = False,
    say: Callable[[str], None] = print,
) -> QueryBenchResult:
    name = f"dream_bench_queries_{hosts}h_{days}d"
    url, loaded = _database(server_url, name, reuse=reuse)
    t0 = time.perf_counter()
    if not loaded:
        say(f"loading {hosts} hosts × {days} days into {name}")
        _load(url, hosts, days, say)
    load_s = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        raw_rows = conn.execute("SELECT count(*) FROM processes").fetchone()[0]
        hourly = conn.execute("SELECT count(*) FROM usage_hourly").fetchone()[0]
        daily = conn.execute("SELECT count(*) FROM usage_daily").fetchone()[0]
        busiest_user = conn.execute(
            "SELECT user_name FROM usage_daily WHERE app = '' GROUP BY 1"
            " ORDER BY sum(snapshots) DESC, 1 LIMIT 1"
        ).fetchone()[0]
    timings: list[Timing] = []
    raw_from = START + timedelta(days=max(0, days - RAW_DAYS))
    with ConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        analytics = Analytics(pool)
        for label, kind, raw_filters, options in _cases(days, busiest_user):
            f = Filters.model_validate(raw_filters)

            def ask(source: str, f: Filters = f, kind: str = kind, options: dict = options) -> Any:
                if kind == "top":
                    return analytics.top_apps(f, source=source, **options).items
                if kind == "top_shares":  # with the cohort's active users, as the api asks
                    return cohorts.top_apps(analytics, f, cohort="host", metric="users",
                                            limit=10, source=source).items  # fmt: skip
                if kind == "concurrency":
                    return analytics.concurrency(f, **options).items
                if kind == "coverage":
                    return analytics.coverage(f)
                if kind == "top_by":  # per executable or version (migration 0025, else sessions)
                    return top_apps_by(analytics, f, metric="users", limit=10, **options).items
                answer = analytics.usage(f, source=source, **options)
                if kind == "shares":  # each point's active users, from the sessions
                    answer = usage_shares(analytics, f, answer, **options)
                return answer.items

            answers = {}
            one_source = kind in ("concurrency", "coverage", "top_by")  # sessions, snapshots
            # Raw rows hold the last RAW_DAYS days only: older ranges have no raw answer.
            raw_n = 0 if one_source or f.start < raw_from else raw_reps
            for source, n in (("rollup", reps), ("raw", raw_n)):
                if n <= 0:
                    continue
                ask(source)  # warm caches and plans
                timing = Timing(label, source)
                for _ in range(n):
                    t = time.perf_counter()
                    answers[source] = ask(source)
                    timing.samples.append((time.perf_counter() - t) * 1000)
                timings.append(timing)
            if "raw" in answers and answers["raw"] != answers["rollup"]:
                raise AssertionError(f"{label}: rollup and raw answers differ")
            if kind == "concurrency" and timeline.on_timeline(f):  # against the sweep, once
                swept = timeline.concurrency(analytics._fetch, f, options["bucket"], sweep=True)
                if swept != answers["rollup"]:
                    raise AssertionError(f"{label}: the timeline and the sweep differ")
            say(f"  {label}: rollup p95 {timings[-1 if not raw_n else -2].p95:.1f} ms")
    if not keep:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return QueryBenchResult(hosts, days, raw_rows, hourly, daily, load_s, timings)


def report(console: Any, args: Any) -> QueryBenchResult:
    """Run with ``bench.run``'s arguments and print the table."""
    import sys
    from pathlib import Path

    from rich.table import Table

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import services

    server_url = services.up(kafka=False)["postgres"]["url"]
    r = run(server_url, hosts=args.query_hosts, days=args.query_days, reps=args.query_reps,
            raw_reps=args.query_raw_reps, reuse=args.query_reuse, keep=args.query_keep,
            say=console.print)  # fmt: skip
    table = Table(
        title=(
            f"Queries: {r.hosts} hosts × {r.days} days (sessions, rollups, host_days);"
            f" {r.raw_rows:,} raw process rows, the last {min(r.days, RAW_DAYS)} days only"
            " (DREAM_RAW_ROWS_RETENTION_DAYS);"
            f" rollups {r.daily_rows:,} daily + {r.hourly_rows:,} hourly rows"
            + (f" (loaded in {r.load_s:.0f} s)" if r.load_s > 1 else " (reused)")
        )
    )
    for col in (
        "query",
        "rollup p50 ms",
        "rollup p95 ms",
        "raw p50 ms",
        "raw p95 ms",
        "raw/rollup",
    ):
        table.add_column(col, justify="left" if col == "query" else "right")
    by_name: dict[str, dict[str, Timing]] = {}
    for t in r.timings:
        by_name.setdefault(t.name, {})[t.source] = t
    for name, pair in by_name.items():
        rollup, raw = pair.get("rollup"), pair.get("raw")
        table.add_row(
            name,
            f"{rollup.p50:.1f}" if rollup else "",
            f"{rollup.p95:.1f}" if rollup else "",
            f"{raw.p50:.0f}" if raw else "",
            f"{raw.p95:.0f}" if raw else "",
            f"{raw.p50 / rollup.p50:.0f}×" if raw and rollup else "",
        )
    from rich.console import Console

    Console(width=max(console.width, 130)).print(table)
    return r
