"""Loads named queries from ``.sql`` files (procrastinate-style: SQL stays in SQL files).

The one loader of the project: every package with SQL ships it beside its code and reads it
through a ``NamedQueries`` (storage's own, the rollups', the blobs', the keys', analytics').
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from importlib import resources

from psycopg import sql

_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_named_queries(text: str) -> dict[str, str]:
    """Split a ``-- name: x`` annotated SQL file into ``{name: query}``."""
    parts = _NAME_LINE.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = "\n".join(lines).strip()
    return queries


@cache
def load_named_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """The named queries of ``filename`` shipped in ``package`` (read once, then cached)."""
    text = (resources.files(package) / filename).read_text(encoding="utf-8")
    return parse_named_queries(text)


class NamedQueries:
    """The named queries of one ``.sql`` file, read on first use."""

    def __init__(self, package: str, filename: str = "queries.sql") -> None:
        self.package = package
        self.filename = filename

    def all(self) -> dict[str, str]:
        return load_named_queries(self.package, self.filename)

    def query(self, name: str) -> bytes:
        """A complete named query, as bytes (what psycopg takes for a non-literal query)."""
        return self.all()[name].encode()

    def fragment(self, name: str) -> sql.SQL:
        """A named query or fragment as composable SQL, for ``{placeholders}`` to be filled."""
        return sql.SQL(self.all()[name])


STORAGE = NamedQueries("dream.storage")
queries = STORAGE.all
query = STORAGE.query


# COPY's text format: these four characters are escaped, NULL is \N (PostgreSQL's COPY docs).
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: object) -> str:
    """One value as a field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)
