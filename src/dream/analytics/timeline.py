"""Concurrency (the most users and hosts running an app at one instant, per bucket): from the
apps' maintained timeline when the question allows, else one sweep over the sessions.

Why: the sweep reads every session of the app overlapping the range, ~450,000 for a month of a
common app at 2,000 hosts, seconds. Migration 0016 keeps per app and UTC hour the peaks and how
long each count of users ran (``concurrency_hourly``), computed from each host's and user's
spans of use per day (``concurrency_spans``); a day whose spans changed since
(``concurrency_dirty``: today's, a late arrival's) is computed from its spans when asked. The
timeline counts the non-system sessions of one app, on any host, over whole hours: a question
filtering on more (OS, faculty, user, host, several apps), counting system processes or with a
bound inside an hour sweeps the sessions. Both give the same answers (tests compare them).

The timeline also keeps each hour's users (migration 0022), so that the k-anonymity floor
counts a bucket's distinct users in the same query as its peaks (``floor``): a day's or week's
are the union of its hours'. The sweep counts none: the floor then asks ``usage`` for them.
"""

from __future__ import annotations

from typing import Any

from dream.analytics.filters import Filters
from dream.analytics.sql import Fetch, fragment, of_sessions


def on_timeline(filters: Filters) -> bool:
    """Whether the maintained timeline answers: one app, no other filter, whole hours."""
    return (
        filters.apps is not None and len(filters.apps) == 1 and not filters.include_system
        and filters.hour_aligned
        and all(getattr(filters, name) is None for name in ("faculty", "os", "user", "host"))
    )  # fmt: skip


def concurrency(fetch: Fetch, filters: Filters, bucket: str, *, sweep: bool = False,
                floor: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Per bucket: ``bucket``, ``peak_users``, ``peak_hosts``, ``p95_users`` (queries.sql,
    ``concurrency``); ``sweep`` reads the sessions even where the timeline would answer. With
    ``floor``, where the timeline answers, also ``users``: the bucket's distinct users, exact
    under the floor (at or over it, at least the floor: as much as the floor needs)."""
    params: dict[str, Any] = {"from": filters.start, "to": filters.end, "bucket": bucket}
    if not sweep and on_timeline(filters):
        params.update(app=(filters.apps or ("",))[0], floor=floor)
        rows = fetch(fragment("concurrency_timeline"), params)
        if floor is None:
            for row in rows:
                del row["users"]
        return rows
    return fetch(fragment("concurrency").format(filters=of_sessions(filters, params)), params)
