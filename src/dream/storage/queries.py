"""Loads the named queries of ``queries.sql`` (procrastinate-style: SQL stays in SQL files)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

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


def queries() -> dict[str, str]:
    return load_named_queries("dream.storage")


def query(name: str) -> bytes:
    """The SQL text of the named query, as bytes (what psycopg takes for a non-literal query)."""
    return queries()[name].encode()
