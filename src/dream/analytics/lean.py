"""Answers per app, OS or faculty (or none) from the lean rollups, when no user or host is named.

Why: ``usage_daily`` keeps a row per user and host, so counting distinct users and hosts over
a month of it reads hundreds of thousands of rows. ``usage_daily_apps`` has the same counters
summed over users and hosts, and ``usage_presence`` who ran what on which days as a bitmap
per 64-day block: distinct users over any set of whole days are a ``days & mask <> 0`` test
on one row per (app, os, faculty, user) and block. The hours at either end of a range that
does not start or end on a day, and hourly buckets, read the same per hour:
``usage_hourly_apps`` and ``usage_presence_hourly`` (a bitmap of the hours of a day; migration
0011). Per-hour and per-day series count each bucket's users from each user's bitmap OR-ed
over OS and faculty (a sum per bit) instead of listing who per bucket. Over a whole range, per
app with at most one OS or one faculty named, ``usage_presence_apps`` (``_app_os``,
``_app_faculty``) has one row per app (and OS or faculty) and user (host), its blocks as array
subscripts (migration 0021): the users are a count of rows, nothing to deduplicate. Same numbers as the per-user rollups (tests compare them with the raw
rows' answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql

from dream.analytics.filters import _EPOCH as EPOCH  # day 0 of usage_presence's blocks
from dream.analytics.filters import DIMENSION_COLUMN, Filters, presence_masks, rollup_ranges
from dream.analytics.sql import fragment

LEAN_KEYS = frozenset({"app", "os", "faculty"})  # what usage_daily_apps keeps per row


# Hourly buckets over more days than this read the per-user rollups instead (the hours' masks
# are listed day by day).
MAX_HOURLY_DAYS = 400


def hour_masks(start: datetime, end: datetime) -> dict[str, list[Any]]:
    """The UTC days of the whole hours [start, end) and, per day, the mask of its hours
    (usage_presence_hourly's bits)."""
    masks: dict[datetime, int] = {}
    hour = start
    while hour < end:
        day = hour.replace(hour=0)
        masks[day] = masks.get(day, 0) | 1 << hour.hour
        hour += timedelta(hours=1)
    return {"hour_days": list(masks), "hour_masks": [m - (1 << 32) if m >= 1 << 31 else m
                                                     for m in masks.values()]}  # fmt: skip


def is_lean(filters: Filters, key: str | None, bucket: str | None = None) -> bool:
    """Whether the lean rollups answer: per app, os, faculty (or nothing), no user or host
    (hourly buckets: over at most MAX_HOURLY_DAYS days)."""
    if bucket == "hour" and filters.end - filters.start > timedelta(days=MAX_HOURLY_DAYS):
        return False
    return (key is None or key in LEAN_KEYS) and filters.user is None and filters.host is None


def lean_answer(
    filters: Filters,
    parts: Sequence[sql.Composable],
    *,
    key: str | None,
    order: sql.Composable,
    bucket: str | None = None,
    users_only: bool = False,
) -> tuple[sql.Composable, dict[str, Any]]:
    """Metrics per ``key`` (``key``: the value; None: one group, '') and, with ``bucket``, per
    time bucket (``ts``; else one, '-infinity'). ``parts``: the filters as SQL fragments.
    ``users_only``: the users alone, from the presence bitmaps (``lean_users``)."""
    ranges = rollup_ranges(filters.start, filters.end, use_days=bucket != "hour")
    params: dict[str, Any] = {**ranges.params(), "bucket": bucket,
                              **hour_masks(ranges.head_from, ranges.head_to)}  # fmt: skip
    tail = hour_masks(ranges.tail_from, ranges.tail_to)
    params["hour_days"] += tail["hour_days"]
    params["hour_masks"] += tail["hour_masks"]
    where = sql.SQL(" ").join(parts)
    dim = sql.SQL("''::text") if key is None else sql.Identifier(DIMENSION_COLUMN[key])
    p = sql.SQL("" if filters.include_system else "u_")
    if bucket is None:
        ts = sql.SQL("'-infinity'::timestamptz")
    else:
        ts = sql.SQL("date_trunc(%(bucket)s, bucket, 'UTC')")
    if bucket in (None, "day"):  # the blocks and masks of the whole days
        params.update(presence_masks(ranges.day_from, ranges.day_to))
    if bucket == "hour":  # the hours of a day the range has
        params["bits"] = [b for b in range(24) if any(m & 1 << b for m in params["hour_masks"])]
    else:  # the positions in their 64-day blocks of the range's whole days
        first, end = ((d - EPOCH).days for d in (ranges.day_from, ranges.day_to))
        params["bits"] = sorted({day % 64 for day in range(first, min(end, first + 64))})
    people = _people(dim, p, where, bucket, params["bits"], per_app=_per_app(filters, key),
                     hour_ends=bool(params["hour_days"]))  # fmt: skip
    if users_only:
        return fragment("lean_users").format(people=people), params
    q = fragment("lean_answer").format(
        rows=fragment("lean_rows").format(key=dim, ts=ts, p=p, filters=where),
        people=people,
        order=order,
    )
    return q, params


def _per_app(filters: Filters, key: str | None) -> sql.Identifier | None:
    """The usage_presence_apps table (migration 0021) with a row per app and who under the
    filters: keyed by app (summed over apps, a who of several would count twice), at most one
    OS or one faculty named. None: no such table."""
    if key != "app":
        return None
    os, faculty = filters.os or (), filters.faculty or ()
    if not os and not faculty:
        return sql.Identifier("usage_presence_apps")
    if len(os) == 1 and not faculty:
        return sql.Identifier("usage_presence_app_os")
    if len(faculty) == 1 and not os:
        return sql.Identifier("usage_presence_app_faculty")
    return None


def _bit_counts(bits: Sequence[int]) -> sql.Composable:
    """``ARRAY[n, ...]``: per bit of ``bits``, how many rows have it set in their ``bits``."""
    return sql.SQL("ARRAY[{}]::bigint[]").format(sql.SQL(", ").join(
        sql.SQL("sum(((bits >> {}) & 1)::integer)").format(sql.Literal(bit)) for bit in bits))


def _people(dim: sql.Composable, p: sql.Composable, where: sql.Composable,
            bucket: str | None, bits: Sequence[int], *, per_app: sql.Identifier | None = None,
            hour_ends: bool = True) -> sql.Composable:  # fmt: skip
    """Users and hosts per key and bucket (queries.sql, ``lean_people``). Hourly and daily
    buckets count the ``bits`` (the range's hours of a day, or days of a block) of each who's
    OR-ed rows instead of listing who per bucket. ``per_app``: the table with a row per app and
    who under the filters (``_per_app``), which a whole range reads, counted as it is when the
    range has no hours at either end (``hour_ends``)."""
    if bucket == "hour":
        return fragment("lean_count_hours").format(key=dim, p=p, filters=where,
                                                   counts=_bit_counts(bits))  # fmt: skip
    if bucket == "day":
        days = fragment("lean_count_days").format(key=dim, p=p, filters=where,
                                                  counts=_bit_counts(bits))  # fmt: skip
        ends = fragment("lean_count_hour_days").format(key=dim, p=p, filters=where)
        return sql.SQL("{} UNION ALL {}").format(days, ends)
    seen = fragment("presence_apps_seen").format(p=p)
    if bucket is None and per_app and not hour_ends:
        return fragment("lean_count_apps").format(key=dim, table=per_app, seen=seen,
                                                  filters=where)  # fmt: skip
    if bucket is None:
        presence = fragment("lean_presence_apps" if per_app else "lean_presence_range")
        day_ts = sql.SQL("'-infinity'::timestamptz")
    else:
        presence = fragment("lean_presence_buckets")
        day_ts = sql.SQL("date_trunc(%(bucket)s, p.day, 'UTC')")
    return fragment("lean_people").format(
        presence=presence.format(key=dim, p=p, table=per_app, seen=seen, filters=where),
        hours=fragment("lean_hours_any").format(key=dim, ts=day_ts, p=p, filters=where),
    )
