"""usage_presence_apps, _app_os and _app_faculty (migration 0021) always equal usage_presence
OR-ed over OS and faculty (all but the OS, all but the faculty), its blocks as array subscripts:
as the writer keeps them, after bits are cleared or rows deleted (a reprocess, an erasure), for
blocks before a key's first, and as the migration backfills them; and the answers read from
them equal the oracle's."""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest
from psycopg_pool import ConnectionPool

import analytics_dataset
from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from dream.storage.migrate import available_migrations

Words = dict[tuple[str, ...], dict[int, tuple[int | None, int | None]]]
# Each table and the usage_presence column it keeps beside (app, dim, who), if any.
TABLES = {"usage_presence_apps": None, "usage_presence_app_os": "os",
          "usage_presence_app_faculty": "faculty"}  # fmt: skip


def per_app(conn: psycopg.Connection) -> dict[str, Words]:
    """Each table, per key: each block's (days, u_days) word where either is set."""
    out: dict[str, Words] = {}
    for table, extra in TABLES.items():
        keys = f"app, {extra}, dim, who" if extra else "app, dim, who"
        found: Words = out.setdefault(table, {})
        for *key, lower, u_lower, days, u_days in conn.execute(
            f"SELECT {keys}, array_lower(days, 1), array_lower(u_days, 1), days, u_days"
            f" FROM {table}".encode()
        ):
            assert lower == u_lower
            words = enumerate(zip(days, u_days, strict=True))
            found[tuple(key)] = {lower + i: (d, u) for i, (d, u) in words
                                 if d is not None or u is not None}  # fmt: skip
    return out


def per_app_from_presence(conn: psycopg.Connection) -> dict[str, Words]:
    """The oracle, in Python: usage_presence's words OR-ed per key and block."""
    rows = conn.execute(
        "SELECT block, app, os, faculty, dim, who, days, u_days FROM usage_presence"
    ).fetchall()
    out: dict[str, Words] = {}
    for table, extra in TABLES.items():
        words: dict[tuple[str, ...], dict[int, list[int]]] = defaultdict(dict)
        for block, app, os, faculty, dim, who, days, u_days in rows:
            middle = {"os": (os,), "faculty": (faculty,), None: ()}[extra]
            acc = words[(app, *middle, dim, who)].setdefault(block, [0, 0])
            acc[0] |= days
            acc[1] |= u_days
        out[table] = {key: {b: (d or None, u or None) for b, (d, u) in blocks.items() if d or u}
                      for key, blocks in words.items()
                      if any(d for d, _ in blocks.values())}  # fmt: skip
    return out


def test_the_per_app_presence_follows_usage_presence(database_url: str) -> None:
    analytics_dataset.load(database_url)  # through the real writer, with duplicates and a replay
    with psycopg.connect(database_url, autocommit=True) as conn:
        kept = per_app(conn)
        assert kept == per_app_from_presence(conn)
        assert all(kept.values())
        # The data spans two blocks.
        assert any(len(blocks) > 1 for blocks in kept["usage_presence_apps"].values())
        # Bits cleared (a reprocess rebuilds fewer), a row's non-system days only, rows gone.
        conn.execute("UPDATE usage_presence SET days = days & (days - 1), u_days = 0"
                     " WHERE app = 'winword'")  # fmt: skip
        conn.execute("UPDATE usage_presence SET u_days = 0 WHERE app = 'chrome' AND dim = 'h'")
        conn.execute("DELETE FROM usage_presence WHERE app = 'matlab' AND os = 'windows'")
        conn.execute("DELETE FROM usage_presence WHERE dim = 'u' AND who = 'alice'")
        kept = per_app(conn)
        assert kept == per_app_from_presence(conn)
        # An erased name does not stay.
        assert not any(key[-1] == "alice" for words in kept.values() for key in words)
        # A block before and one after a key's first (a late snapshot, the next term).
        conn.execute(
            "INSERT INTO usage_presence SELECT block - 3, app, 'plan9', faculty, dim, who, 5, 4"
            " FROM usage_presence WHERE app = 'excel'"
            " UNION ALL SELECT block + 2, app, 'plan9', faculty, dim, who, 8, 0"
            " FROM usage_presence WHERE app = 'excel'"
        )  # fmt: skip
        kept = per_app(conn)
        assert kept == per_app_from_presence(conn)
        assert any(len(blocks) > 3 for key, blocks in kept["usage_presence_app_os"].items()
                   if key[0] == "excel")  # fmt: skip
        # The migration's backfill builds the same arrays.
        backfill = next(m.sql for m in available_migrations() if m.name == "read_apps")
        with conn.transaction():
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}".encode())
            conn.execute(backfill[backfill.rindex("DO $$"):].encode())
            assert per_app(conn) == kept
        conn.execute("TRUNCATE usage_presence")
        assert per_app(conn) == {table: {} for table in TABLES}


# Ranges over one block, across the boundary of two (2026-03-31 | 04-01), over three (the middle
# one whole), with hours at either end, within one day; with system processes, one app, one OS, one faculty.
RANGES = [
    {"from": "2026-03-02T00:00:00Z", "to": "2026-03-04T00:00:00Z"},
    {"from": "2026-03-03T00:00:00Z", "to": "2026-04-02T00:00:00Z"},
    {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "include_system": True},
    {"from": "2026-03-02T10:00:00Z", "to": "2026-04-01T15:00:00Z"},
    {"from": "2026-03-03T09:00:00Z", "to": "2026-03-03T17:00:00Z"},
    {"from": "2026-03-04T00:00:00Z", "to": "2026-04-02T00:00:00Z", "app": "excel"},
    {"from": "2026-03-03T00:00:00Z", "to": "2026-04-02T00:00:00Z", "os": "windows"},
    {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "faculty": "law"},
    {"from": "2026-03-02T10:00:00Z", "to": "2026-04-01T15:00:00Z", "faculty": "engineering"},
]


@pytest.mark.parametrize("metric", ["users", "hosts"])
def test_top_apps_from_the_per_app_presence_equal_the_oracle(
    database_url: str, rows: list[analytics_dataset.Row], metric: str
) -> None:
    keys = ("app", "users", "hosts", "snapshots", "processes")
    with ConnectionPool(database_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        analytics = Analytics(pool)
        for f in RANGES:
            found = analytics.top_apps(Filters.model_validate(f), metric=metric, limit=50).items
            expected = analytics_dataset.top_apps(rows, {"include_system": False, **f}, metric, 50)
            assert [{k: i[k] for k in keys} for i in found] == \
                [{k: i[k] for k in keys} for i in expected] != [], f
