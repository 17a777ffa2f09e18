"""The versions' rollups (migration 0025) and the concurrency timeline (migration 0016) equal a
recomputation from the sessions after every kind of change an UPDATE of sessions makes, alone,
mixed in one statement or several in one transaction, by plain SQL and through the writer: a
session extended within its last UTC day (the case the triggers shortcut, migration 0028),
extended across midnight, shrunk, moved to another app, version or system flag, given another
key, deleted."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import psycopg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sessions_data
import writer_draws
from dream.storage.migrate import available_migrations
from test_concurrency_timeline import spans, spans_from_sessions
from test_read_versions import ROLLUPS, kept

_VERSIONS = next(m for m in available_migrations() if m.version == 25).sql
BACKFILL = _VERSIONS[_VERSIONS.rindex("DO $$"):].encode()  # the rollups from the sessions
BASE = datetime(2026, 11, 30, 22, 40, tzinfo=UTC)  # the draws span hours and midnight
POOL = [(11, "matlab.exe", "matlab"), (12, "matlab.exe", "matlab"), (13, "spss.exe", "spss"),
        (14, "svchost.exe", "svchost"), (15, "kworker", "")]  # fmt: skip


def presence(conn: psycopg.Connection) -> dict[tuple, set[int]]:
    """usage_versions_presence's days (since 1970-01-01) per key and u_ ('u' + dim) flag."""
    out: dict[tuple, set[int]] = defaultdict(set)
    for *key, flag, block, word in conn.execute(
        "SELECT app, kind, key, dim, who, f, array_lower(a, 1) + o - 1, w"
        " FROM usage_versions_presence, LATERAL (VALUES ('', days), ('u', u_days)) v (f, a),"
        " unnest(a) WITH ORDINALITY u (w, o) WHERE w <> 0"
    ):
        out[(*key, flag)] |= {block * 64 + b for b in range(64) if word >> b & 1}
    return dict(out)


def presence_from_sessions(conn: psycopg.Connection) -> dict[tuple, set[int]]:
    """The oracle: per app, executable or version, user or host, the UTC days in use."""
    out: dict[tuple, set[int]] = defaultdict(set)
    for app, name, version, user, host, is_system, first, ended in conn.execute(
        "SELECT app, name, coalesce(version, ''), user_name, host, is_system, first_seen,"
        " ended - interval '1 microsecond' FROM sessions WHERE app <> ''"
    ):
        days = range((first.astimezone(UTC).date() - date(1970, 1, 1)).days,
                     (ended.astimezone(UTC).date() - date(1970, 1, 1)).days + 1)  # fmt: skip
        for kind, key in (("e", name), ("v", version)):
            for dim, who in (("u", user), ("h", host)):
                for flag in ("", "u")[: 1 if is_system else 2]:
                    out[(app, kind, key, dim, who, flag)] |= set(days)
    return dict(out)


def assert_kept(conn: psycopg.Connection) -> None:
    """Both rollups equal what the stored sessions imply."""
    assert spans(conn) == spans_from_sessions(conn)
    assert presence(conn) == presence_from_sessions(conn)
    found = kept(conn)
    with conn.transaction(force_rollback=True):
        for table in ROLLUPS:
            conn.execute(f"DELETE FROM {table}".encode())
        conn.execute(BACKFILL)
        assert kept(conn) == found


def test_every_kind_of_update_by_hand(database_url: str) -> None:
    t = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    S = sessions_data.Session
    with psycopg.connect(database_url, autocommit=True) as conn:
        sessions_data.insert(conn, [
            S("lab-1", "ann", "stata", t, t + timedelta(minutes=30), pid=101),
            S("lab-1", "ann", "stata", t, t + timedelta(minutes=40), pid=102),
            S("lab-1", "bob", "matlab", t, t + timedelta(hours=1), pid=103),
            S("lab-2", "ann", "matlab", t, t + timedelta(hours=2), pid=104),
            S("lab-2", "bob", "stata", t, t + timedelta(minutes=5), pid=105),
            S("lab-2", "bob", "svchost", t, t + timedelta(hours=3), is_system=True, pid=106),
            S("lab-3", "cat", "matlab", t.replace(hour=22), t.replace(hour=23), pid=107),
            S("lab-3", "cat", "", t, t + timedelta(hours=1), pid=108),
        ])  # fmt: skip
        conn.execute("UPDATE sessions SET version = CASE WHEN pid % 2 = 0 THEN '16' END")
        assert_kept(conn)
        minute = ("last_seen = last_seen + interval '1 minute', open_until = open_until"
                  " + interval '1 minute', samples = samples + 1")  # fmt: skip
        for change in (
            f"UPDATE sessions SET {minute}",  # every session, within its day
            "UPDATE sessions SET last_seen = last_seen + interval '3 hours', open_until ="
            " open_until + interval '3 hours' WHERE pid = 107",  # across midnight
            "UPDATE sessions SET last_seen = first_seen, open_until = first_seen"
            " + interval '90 seconds' WHERE pid IN (102, 107)",  # shrunk
            "UPDATE sessions SET app = 'spss', name = 'spss' WHERE pid = 103",
            "UPDATE sessions SET version = 'R2023b' WHERE pid = 104",
            "UPDATE sessions SET is_system = true WHERE pid = 105",
            "UPDATE sessions SET is_system = false WHERE pid = 106",
            "UPDATE sessions SET first_seen = first_seen - interval '1 hour' WHERE pid = 101",
            # Mixed: most extended in place, one to another version, one shrunk.
            "UPDATE sessions SET open_until = open_until + interval '1 minute', version ="
            " CASE pid WHEN 101 THEN '17' ELSE version END, last_seen = CASE pid WHEN 104"
            " THEN first_seen ELSE last_seen + interval '1 minute' END",
            "DELETE FROM sessions WHERE pid = 104",
        ):
            conn.execute(change.encode())
            assert_kept(conn)
        with conn.transaction():  # a transaction's second statement: the pairs start empty
            conn.execute(f"UPDATE sessions SET {minute} WHERE pid <> 101".encode())
            conn.execute("UPDATE sessions SET app = 'stata', last_seen = first_seen"
                         " WHERE pid = 101")  # fmt: skip
            conn.execute(f"UPDATE sessions SET {minute} WHERE pid = 108".encode())
        assert_kept(conn)
        conn.execute("TRUNCATE sessions")
        assert_kept(conn)
        assert kept(conn) == [[], [], []] and spans(conn) == {}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=writer_draws.specs(["h1", "h2"], POOL), batch=st.integers(1, 6))
# Extended in a later batch across midnight (23:59 to 00:00, ending 00:01), and extended with
# its end moved back out of a day (23:55 at a 600 s cadence ends 00:05; taken on at 23:58 at
# 60 s it ends 23:59).
@example(specs=[("h1", 79, 60.0, "ann", {0, 2}), ("h1", 80, 60.0, "ann", {0, 2})], batch=1)
@example(specs=[("h1", 75, 600.0, "ann", {0}), ("h1", 78, 60.0, "ann", {0})], batch=1)
def test_the_writers_updates_whatever_the_order(
    module_database_url: str, specs: list, batch: int
) -> None:
    snaps = [writer_draws.snapshot(BASE, POOL, *spec) for spec in specs]
    writer_draws.write_checked(module_database_url, snaps, batch, assert_kept)
