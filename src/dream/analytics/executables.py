"""The executables question's queries (executables.sql): sizes of the distinct files the hosts
under the filters ran, with their median and a per-installation average, and the files."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from dream.analytics.filters import Filters
from dream.analytics.sql import Fetch, equal
from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.analytics", "executables.sql")


def executables(fetch: Fetch, filters: Filters, limit: int) -> tuple[dict[str, Any], list[dict]]:
    """``(summary, items)`` over the files seen in the range under the filters."""
    params: dict[str, Any] = {"start": filters.start, "end": filters.end, "limit": limit}
    parts = equal(filters, params, ("faculty", "os", "host", "app"))
    if filters.user is not None:
        parts.append(_SQL.fragment("executables_filter_user"))
        params["user"] = filters.user
    if not filters.include_system:
        parts.append(_SQL.fragment("executables_filter_not_system"))
    files = _SQL.fragment("executables_files").format(filters=sql.SQL(" ").join(parts))
    (summary,) = fetch(_SQL.fragment("executables_summary").format(files=files), params)
    items = fetch(_SQL.fragment("executables_items").format(files=files), params)
    rounded = {
        "files": int(summary["files"]),
        "total_size_bytes": int(summary["total_size_bytes"]),
        **{name: None if summary[name] is None else round(float(summary[name]), 1)
           for name in ("avg_size_bytes", "median_size_bytes", "avg_size_bytes_per_host")},
    }  # fmt: skip
    return rounded, [{**row, "hosts": int(row["hosts"]), "users": int(row["users"]),
                      "size_bytes": int(row["size_bytes"])} for row in items]  # fmt: skip
