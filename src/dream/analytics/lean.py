"""Answers per app, OS or faculty (or none) from the lean rollups, when no user or host is named.

Why: ``usage_daily`` keeps a row per user and host, so counting distinct users and hosts over
a month of it reads hundreds of thousands of rows. ``usage_daily_apps`` has the same counters
summed over users and hosts, and ``usage_presence`` who ran what on which days as a bitmap
per 64-day block: distinct users over any set of whole days are a ``days & mask <> 0`` test
on one row per (app, os, faculty, user) and block. The hours at either end of a range that
does not start or end on a day read ``usage_hourly``. Same numbers as the per-user rollups
(tests compare them with the raw rows' answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from dream.analytics.filters import DIMENSION_COLUMN, Filters, presence_masks, rollup_ranges
from dream.analytics.sql import fragment

LEAN_KEYS = frozenset({"app", "os", "faculty"})  # what usage_daily_apps keeps per row


def is_lean(filters: Filters, key: str | None) -> bool:
    """Whether the lean rollups answer: per app, os, faculty (or nothing), no user or host."""
    return (key is None or key in LEAN_KEYS) and filters.user is None and filters.host is None


def lean_answer(
    filters: Filters,
    parts: Sequence[sql.Composable],
    *,
    key: str | None,
    order: sql.Composable,
    bucket: str | None = None,
) -> tuple[sql.Composable, dict[str, Any]]:
    """Metrics per ``key`` (``key``: the value; None: one group, '') and, with ``bucket``, per
    time bucket (``ts``; else one, '-infinity'). ``parts``: the filters as SQL fragments."""
    ranges = rollup_ranges(filters.start, filters.end)
    params: dict[str, Any] = {**ranges.params(), "bucket": bucket}
    where = sql.SQL(" ").join(parts)
    dim = sql.SQL("''::text") if key is None else sql.Identifier(DIMENSION_COLUMN[key])
    p = sql.SQL("" if filters.include_system else "u_")
    if bucket is None:
        ts = sql.SQL("'-infinity'::timestamptz")
        params.update(presence_masks(ranges.day_from, ranges.day_to))
        presence = fragment("lean_presence_range")
    else:
        ts = sql.SQL("date_trunc(%(bucket)s, bucket, 'UTC')")
        presence = fragment("lean_presence_buckets")
    q = fragment("lean_answer").format(
        rows=fragment("lean_rows").format(key=dim, ts=ts, p=p, filters=where),
        people=fragment("lean_people").format(
            key=dim, ts=ts, p=p, filters=where,
            presence=presence.format(key=dim, p=p, filters=where),
        ),
        order=order,
    )
    return q, params
