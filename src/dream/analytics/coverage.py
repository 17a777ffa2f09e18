"""Coverage: how many hosts reported in a question's range and how often they sampled.

Why every answer carries it: zero hours of an app can mean nobody used it or that the machines
were off or not reporting; the hosts that reported (a stored or failed snapshot) and their
median sampling interval tell the two apart, and bound the error of the hours (one interval per
session). Whole UTC days read ``host_days`` (a row per host and day, not every snapshot); the
hours at either end of the range, and any range filtered on a user (host_days has no user),
read the snapshots. Both give the same numbers.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from dream.analytics.filters import Filters, rollup_ranges
from dream.analytics.sql import Fetch, equal, fragment


def coverage(fetch: Fetch, filters: Filters, default_cadence_s: float) -> dict[str, Any]:
    """``{"hosts", "median_cadence_s"}`` under the filters naming who and where (the app is
    not a filter here: a host reports whether or not it ran the app)."""
    params: dict[str, Any] = {"from": filters.start, "to": filters.end,
                              "default_cadence_s": default_cadence_s}  # fmt: skip
    where = sql.SQL(" ").join(equal(filters, params))
    ranges = rollup_ranges(filters.start, filters.end)
    whole: sql.Composable
    partial: sql.Composable
    if filters.user is None and ranges.day_from < ranges.day_to:
        params.update(ranges.params())
        whole = fragment("coverage_days").format(filters=where)
        partial = fragment("coverage_ends")
    else:
        whole, partial = fragment("coverage_no_days"), fragment("coverage_range")
    q = fragment("coverage").format(whole=whole, partial=partial, filters=where)
    found = fetch(q, params)[0]
    cadence = found["median_cadence_s"]
    return {"hosts": int(found["hosts"]),
            "median_cadence_s": None if cadence is None else round(float(cadence), 3)}  # fmt: skip
