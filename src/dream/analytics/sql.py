"""The named queries and fragments of ``dream/analytics/queries.sql``, and the filters as SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg import sql

from dream.analytics.filters import DIMENSION_COLUMN
from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.analytics.filters import Filters

_SQL = NamedQueries("dream.analytics")
_FILTERS = NamedQueries("dream.analytics", "filters.sql")
query = _SQL.query  # a complete named query, as bytes
fragment = _SQL.fragment  # composable SQL, for ``{placeholders}`` to be filled in

# Runs a query with its parameters: its rows (Analytics._fetch).
Fetch = Callable[[sql.Composable, dict[str, Any]], list[dict[str, Any]]]

# The filters naming who and where (snapshot, rollup, session and daily rows name them alike).
WHO_WHERE = ("faculty", "os", "user", "host")


def equal(filters: Filters, params: dict[str, Any], names: tuple[str, ...] = WHO_WHERE
          ) -> list[sql.Composable]:  # fmt: skip
    """``AND <column> = %(name)s`` for each of ``names`` the filters set; values into params
    (``app``: any of ``filters.apps``, which ``product=`` and ``category=`` expand to; a
    filter given several values, such as ``faculty``: any of them)."""
    parts: list[sql.Composable] = []
    for name in names:
        value: Any = getattr(filters, name)
        if name == "app" and filters.app_filtered:
            value = list(filters.apps or ())
        elif isinstance(value, tuple) and len(value) > 1:
            parts.append(_FILTERS.fragment("filter_one_of").format(
                column=sql.Identifier(DIMENSION_COLUMN[name]), values=sql.Placeholder(name)))
            params[name] = list(value)
            continue
        elif isinstance(value, tuple):
            value = value[0]
        if value is not None:
            parts.append(fragment(f"filter_{name}"))
            params[name] = value
    return parts


def of_sessions(filters: Filters, params: dict[str, Any], *, known_apps: bool = True,
                system: bool = True) -> sql.Composable:  # fmt: skip
    """The filters on ``sessions`` rows: who, where, the app (else, with ``known_apps``, any
    known one) and, with ``system``, leaving system processes out unless asked for."""
    parts = equal(filters, params, (*WHO_WHERE, "app"))
    if not filters.app_filtered and known_apps:
        parts.append(fragment("filter_any_app"))
    if system and not filters.include_system:
        parts.append(fragment("filter_not_system"))
    return sql.SQL(" ").join(parts)
