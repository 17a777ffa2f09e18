"""The rollups the database's triggers keep are in UTC days and hours whatever the time zone of
the session that changes the rows: a server (or a database, or a DBA's psql) set to a zone with
summer time must not shift a day's bucket by an hour on the days the clocks change.

The same statements (sessions across both 2026 changes in Europe, extended, moved to another
app and deleted; hourly usage rows put and taken out) run in one database from a session in
Europe/Zurich and in another from a session in UTC: every rollup table must end the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.conninfo import make_conninfo

import sessions_data
from dream.storage.database import Database

ZONE = "Europe/Zurich"  # summer time from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC
SPRING, AUTUMN = datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
HOURLY = ("INSERT INTO usage_hourly VALUES (%s, %s, 'linux', 'law', 'ann', 'lab-1',"
          " 1, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0)")  # fmt: skip


def play(conn: psycopg.Connection) -> None:
    sessions = []
    for n, day in enumerate((SPRING, AUTUMN)):
        sessions += [
            sessions_data.Session("lab-1", "ann", "matlab", day - timedelta(hours=2, minutes=10),
                                  day + timedelta(hours=1, minutes=5), 300, pid=10 + n),
            sessions_data.Session("lab-2", "bob", "word", day - timedelta(minutes=40),
                                  day + timedelta(minutes=50), 300, pid=20 + n),
            sessions_data.Session("lab-2", "bob", "excel", day + timedelta(hours=22),
                                  day + timedelta(hours=23, minutes=30), 300, pid=30 + n),
            sessions_data.Session("lab-3", "SYSTEM", "svchost", day - timedelta(hours=1),
                                  day + timedelta(hours=3), 300, pid=40 + n, is_system=True),
        ]  # fmt: skip
    sessions_data.insert(conn, sessions)
    conn.execute("UPDATE sessions SET last_seen = last_seen + interval '3 hours',"
                 " open_until = open_until + interval '3 hours' WHERE app = 'matlab'")  # fmt: skip
    conn.execute("UPDATE sessions SET app = 'spss' WHERE app = 'excel'")
    conn.execute("DELETE FROM sessions WHERE app = 'word'")
    for day in (SPRING, AUTUMN):
        for hours in (-2, -1, 0, 1, 2, 23):
            conn.execute(HOURLY, (day + timedelta(hours=hours), "matlab"))
            conn.execute(HOURLY, (day + timedelta(hours=hours), "word"))
    # (the statements themselves name UTC hours: only the triggers' arithmetic is on trial)
    conn.execute("DELETE FROM usage_hourly WHERE app = 'word'"
                 " AND extract(hour FROM bucket AT TIME ZONE 'UTC') <> 0")  # fmt: skip
    conn.execute("UPDATE usage_hourly SET u_snapshots = 0 WHERE app = 'matlab'"
                 " AND extract(hour FROM bucket AT TIME ZONE 'UTC') = 23")  # fmt: skip


def rollups(url: str) -> dict[str, list[str]]:
    """Every usage_* and concurrency_* table's rows as text, read in UTC."""
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition AND (c.relname LIKE 'usage\\_%' OR"
            " c.relname LIKE 'concurrency\\_%') ORDER BY 1")]  # fmt: skip
        return {t: [r[0] for r in conn.execute(f"SELECT x::text FROM {t} x ORDER BY 1".encode())]
                for t in tables}  # fmt: skip


def test_rollups_are_the_same_from_a_session_in_a_zone_with_summer_time(
    database_url: str, module_database_url: str
) -> None:
    for url, zone in ((database_url, ZONE), (module_database_url, "UTC")):
        with psycopg.connect(url, autocommit=True, options=f"-c TimeZone={zone}") as conn:
            assert conn.execute("SHOW TimeZone").fetchone() == (zone,)
            play(conn)
    zoned, utc = rollups(database_url), rollups(module_database_url)
    assert utc["usage_versions_daily"] and utc["concurrency_spans"] and utc["usage_hourly"]
    assert {t: rows for t, rows in zoned.items() if rows != utc[t]} == {}


def test_every_trigger_function_runs_in_utc(database_url: str) -> None:
    """What keeps the test above true for functions later migrations restate: CREATE OR REPLACE
    takes the function's settings from its new text."""
    with psycopg.connect(database_url) as conn:
        unpinned = conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = current_schema() AND p.prorettype = 'trigger'::regtype"
            " AND NOT coalesce('TimeZone=UTC' = ANY (p.proconfig), false) ORDER BY 1"
        ).fetchall()  # fmt: skip
    assert unpinned == []


def test_dreams_connections_are_in_utc(database_url: str) -> None:
    """Dream's own queries (reads, erasure) add days to UTC midnights too: its pool's sessions
    are in UTC whatever the database's default."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f"ALTER DATABASE {name} SET TimeZone = '{ZONE}'".encode())
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == (ZONE,)  # the default applies ...
    # A URL's own options (here a lock timeout) stay; a time zone it names gives way to UTC.
    own = make_conninfo(database_url, options="-c lock_timeout=4321 -c TimeZone=Asia/Tokyo")
    for url in (database_url, own):
        database = Database(url, statement_timeout_s=12.5)
        database.open()
        try:
            with database.pool.connection() as conn:
                assert conn.execute("SHOW TimeZone").fetchone() == ("UTC",)  # ... but not Dream's
                assert conn.execute("SHOW statement_timeout").fetchone() == ("12500ms",)
                if url == own:
                    assert conn.execute("SHOW lock_timeout").fetchone() == ("4321ms",)
        finally:
            database.close()
