"""The named queries and fragments of ``dream/analytics/queries.sql``."""

from __future__ import annotations

from psycopg import sql

from dream.storage.queries import load_named_queries


def query(name: str) -> bytes:
    """A complete named query, as bytes (what psycopg takes for a non-literal query)."""
    return load_named_queries("dream.analytics")[name].encode()


def fragment(name: str) -> sql.SQL:
    """A named query or fragment as composable SQL, for ``{placeholders}`` to be filled in."""
    return sql.SQL(load_named_queries("dream.analytics")[name])
