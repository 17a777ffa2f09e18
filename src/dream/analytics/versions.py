"""top-apps by executable or version over whole UTC days, from the rollups of migration 0025.

Why: over sessions, a month of every app at 2,000 hosts is ~14 M rows read per question
(products.sql, ``top_apps_by``). ``usage_versions_daily`` (hours, launches per day),
``usage_versions_spans`` (observations per first and last day of the sessions) and
``usage_versions_presence`` (a row per app, executable or version, and user or host: its days
as bitmaps) give the same numbers from a few hundred thousand rows. A range with hours at
either end, or naming who or where (user, host, OS, faculty: the rollups keep none), is still
answered from the sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from psycopg import sql

from dream.analytics.filters import Filters, presence_masks
from dream.analytics.sql import Fetch, equal, fragment
from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.analytics", "versions.sql")
_KIND = {"executable": "e", "version": "v"}
_KEY = {"executable": "name", "version": "version"}


def _whole_day(t: datetime) -> bool:
    return t.astimezone(UTC).timetz() == time(0, tzinfo=UTC)


def on_rollups(filters: Filters) -> bool:
    """Whether the rollups answer: whole days, no user, host, OS or faculty named."""
    named = (filters.user, filters.host, filters.os, filters.faculty)
    return all(not v for v in named) and _whole_day(filters.start) and _whole_day(filters.end)


def top_by_rollup(fetch: Fetch, filters: Filters, *, by: str, metric: str,
                  limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Rows (app, key, users, hosts, processes, hours, launches) as products.sql's
    ``top_apps_by`` gives them, for ranges ``on_rollups`` accepts."""
    params: dict[str, Any] = {"day_from": filters.start, "day_to": filters.end,
                              "kind": _KIND[by], "limit": limit,
                              **presence_masks(filters.start, filters.end)}  # fmt: skip
    p = sql.SQL("" if filters.include_system else "u_")
    q = _SQL.fragment("top_apps_by_rollup").format(
        key=sql.Identifier(_KEY[by]), p=p, order=sql.Identifier(metric),
        seen=fragment("presence_apps_seen").format(p=p),
        filters=sql.SQL(" ").join(equal(filters, params, ("app",))),
    )  # fmt: skip
    return fetch(q, params)
