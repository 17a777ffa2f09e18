"""Coverage: how many hosts reported in a question's range and how often they sampled.

Why every answer carries it: zero hours of an app can mean nobody used it or that the machines
were off or not reporting; the hosts that reported (a stored or failed snapshot) and their
median sampling interval tell the two apart, and bound the error of the hours (one interval per
session). Whole UTC days read ``host_days`` (a row per host and day, not every snapshot); the
hours at either end of the range, and any range filtered on a user or on the users' faculty
(``cohort=user``; host_days has no user), read the snapshots. Both give the same numbers.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from dream.analytics.filters import Filters, rollup_ranges
from dream.analytics.sql import WHO_WHERE, Fetch, equal, fragment


def coverage(fetch: Fetch, filters: Filters, default_cadence_s: float,
             cohort: str = "host") -> dict[str, Any]:  # fmt: skip
    """``{"hosts", "median_cadence_s"}`` under the filters naming who and where (the app is
    not a filter here: a host reports whether or not it ran the app). ``cohort="user"``: a
    ``faculty`` is the users' (the directory's, as of each snapshot), as the question reads it,
    so the hosts are those its users' snapshots came from, not the faculty's machines."""
    params: dict[str, Any] = {"from": filters.start, "to": filters.end,
                              "default_cadence_s": default_cadence_s}  # fmt: skip
    by_users = cohort == "user" and filters.faculty is not None
    if by_users:
        parts = equal(filters, params, tuple(n for n in WHO_WHERE if n != "faculty"))
        params["faculty"] = list(filters.faculty or ())
        parts.append(fragment("coverage_users_faculty"))
    else:
        parts = equal(filters, params)
    where = sql.SQL(" ").join(parts)
    ranges = rollup_ranges(filters.start, filters.end)
    whole: sql.Composable
    partial: sql.Composable
    # host_days has no user: a filter on who the users are reads the snapshots.
    if filters.user is None and not by_users and ranges.day_from < ranges.day_to:
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
