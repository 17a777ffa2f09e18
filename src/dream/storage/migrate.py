"""A small migration runner: numbered ``.sql`` files applied once each, in order, under a lock."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import psycopg

from dream.storage.database import in_utc

# Any constant works; it only has to be the same for every Dream process sharing a database.
_MIGRATION_LOCK_KEY = 0x44524541  # "DREA"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped in ``dream/storage/migrations``, ordered by version."""
    folder = resources.files("dream.storage") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        stem = entry.name.removesuffix(".sql")
        number, _, name = stem.partition("_")
        found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def migrate(conninfo: str) -> list[Migration]:
    """Apply every migration not yet applied; returns those it applied.

    Safe to run from several processes at once (an advisory lock serializes them), and each
    migration runs in its own transaction with its bookkeeping row.
    """
    applied_now: list[Migration] = []
    with psycopg.connect(in_utc(conninfo), autocommit=True) as conn:  # (backfills too)
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in available_migrations():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
    return applied_now
