"""Hours of use and launches beside a question's other metrics, from process sessions.

Why a second source: the other metrics count processes seen in snapshots, which depends on the
sampling cadence; hours and launches come from sessions (one row per process instance, in use
over ``[first_seen, last_seen + cadence_s)``), so a 1-minute and a 10-minute host give the same
hour for the same hour of use. Whole UTC days read the daily rollup ``usage_hours_daily`` (or,
with no user or host in the question, its per-app sums ``usage_hours_daily_apps``). The hours at
either end of the range (every hour, for hourly buckets) read the hourly per-app sums
``usage_hours_hourly`` when the question names no user or host and its bounds fall on whole
hours, else the sessions clipped to the range (see queries.sql, ``hours_sessions``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from dream.analytics.filters import Filters, rollup_ranges
from dream.analytics.sql import fragment, of_sessions

# The key columns of an hours row, given the time column of the piece of use it counts.
Keys = Callable[[sql.Composable], sql.Composable]


@dataclass(frozen=True, slots=True)
class Keyed:
    """How a question's answer is keyed: its key columns' names, the ones that join the two
    sides (a constant group, such as usage without ``group_by``, joins nothing), and the
    ``ORDER BY`` of the result."""

    names: Sequence[str]
    joined: Sequence[str]
    order: sql.Composable


def hours_rows(
    filters: Filters,
    keys: Keys,
    *,
    use_days: bool = True,
    extra: Sequence[sql.Composable] = (),
    lean: bool = False,
) -> tuple[sql.Composable, dict[str, Any]]:
    """Rows of (keys..., seconds, launches) of the sessions under ``filters`` within their
    range; ``use_days=False`` reads every hour from sessions, cut at hours (hourly buckets).
    ``lean``: the keys name no user or host (the whole days then read the per-app sums).
    Only the parts the range has are read (an empty part would still scan sessions)."""
    params: dict[str, Any] = {}
    where = sql.SQL(" ").join([of_sessions(filters, params, system=False), *extra])
    ranges = rollup_ranges(filters.start, filters.end, use_days=use_days)
    params.update(ranges.params())
    params.update({"piece_unit": "day", "piece": "24 hours"} if use_days else
                  {"piece_unit": "hour", "piece": "1 hour"})  # fmt: skip
    p = sql.SQL("" if filters.include_system else "u_")
    system = sql.SQL("") if filters.include_system else fragment("filter_not_system")
    per_app = lean and filters.user is None and filters.host is None
    parts: list[sql.Composable] = []
    if ranges.day_from < ranges.day_to:
        parts.append(fragment("hours_days").format(
            keys=keys(sql.Identifier("bucket")), p=p, filters=where,
            table=sql.Identifier("usage_hours_daily_apps" if per_app else "usage_hours_daily"),
        ))  # fmt: skip
    # Whole hours of use per app: usage_hours_hourly; else the sessions themselves.
    hourly = per_app and filters.hour_aligned
    for a, b, start, end in (("head_from", "head_to", ranges.head_from, ranges.head_to),
                             ("tail_from", "tail_to", ranges.tail_from, ranges.tail_to)):  # fmt: skip
        if start < end:
            parts.append(fragment("hours_hours" if hourly else "hours_sessions").format(
                keys=keys(sql.Identifier("bucket" if hourly else "piece")), p=p,
                a=sql.Placeholder(a), b=sql.Placeholder(b), filters=where, system=system,
            ))  # fmt: skip
    if not parts:  # an empty range cannot be: Filters refuses from >= to
        raise AssertionError("a range with neither days nor hours")
    return sql.SQL(" UNION ALL ").join(parts), params


def with_hours(answer: sql.Composable, hours: sql.Composable, keyed: Keyed) -> sql.Composable:
    """``answer`` (metrics per key, with ``%(limit)s`` bound to None) joined with ``hours``
    (``hours_rows``), ordered by ``keyed.order`` and cut at ``%(outer_limit)s``."""
    names = [sql.Identifier(n) for n in keyed.names]
    keys = sql.SQL(", ").join(
        sql.SQL("coalesce(m.{0}, h.{0}) AS {0}" if n in keyed.joined else "m.{0} AS {0}").format(
            sql.Identifier(n)
        )
        for n in keyed.names
    )
    join = sql.SQL(" AND ").join(
        sql.SQL("m.{0} = h.{0}").format(sql.Identifier(n)) for n in keyed.joined
    )
    return fragment("with_hours").format(
        answer=answer, hours=hours, key_list=sql.SQL(", ").join(names), keys=keys,
        join=join, order=keyed.order,
    )  # fmt: skip
