"""The floor's count of a concurrency bucket's users, on the real worker and PostgreSQL: from the
timeline (each hour's users kept beside its peaks) against the sessions each bucket aggregates;
where a filter keeps the timeline out, ``usage`` with ``users_only`` (asked for the buckets in
doubt) against the whole ``usage`` question: the same users per bucket, from either source,
over whole days and over hours at a range's ends."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from dream.app import Dream
from test_privacy import campus  # noqa: F401  (campus: the fixture, for this module)


def _ranges() -> list[dict[str, Any]]:
    """The default range, and one starting and ending inside a day (its ends read hours)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [{}, {"from": hour - timedelta(hours=30), "to": hour + timedelta(hours=2)}]


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
@pytest.mark.parametrize("narrowed", [{}, {"app": "stata"}, {"app": "rstudio"},
                                      {"faculty": "law"}, {"os": "windows"}])  # fmt: skip
def test_the_users_only_count_equals_the_questions_users(
    campus: tuple[TestClient, dict[str, str], Dream],  # noqa: F811
    bucket: str,
    narrowed: dict[str, str],
) -> None:
    _, _, dream = campus
    analytics = Analytics.of(dream.analytics_db.pool, dream.settings.raw_window_max_days)
    for span in _ranges():
        filters = Filters.model_validate({**narrowed, **span})
        for source in ("rollup", "raw"):
            whole = analytics.usage(filters, bucket=bucket, source=source).items
            counted = analytics.usage(filters, bucket=bucket, source=source,
                                      users_only=True).items  # fmt: skip
            assert all(set(row) == {"group", "bucket", "users"} for row in counted)
            users = {row["bucket"]: row["users"] for row in counted}
            # A bucket known only from sessions counts no users in either.
            assert users == {r["bucket"]: r["users"] for r in whole if r["users"]}, (span, source)
            assert sum(users.values()) > 0, (span, source)


def _truncate(moment: datetime, bucket: str) -> datetime:
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    return {"hour": hour, "day": day, "week": day - timedelta(days=day.weekday())}[bucket]


def _users_of_sessions(url: str, app: str, f: Filters, bucket: str) -> dict[datetime, int]:
    """The oracle: per bucket, the distinct users whose non-system sessions of ``app`` were in
    use in it, within the range (a session is in use over [first_seen, ended))."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    users: dict[datetime, set[str]] = {}
    with psycopg.connect(url) as conn:
        for user, first, ended in conn.execute(
            "SELECT user_name, first_seen, ended FROM sessions WHERE app = %s AND NOT is_system"
            " AND first_seen < %s AND ended > %s", (app, f.end, f.start)
        ):  # fmt: skip
            at = _truncate(max(first, f.start), bucket)
            while at < min(ended, f.end):
                users.setdefault(at, set()).add(user)
                at += step[bucket]
    return {at: len(who) for at, who in users.items()}


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
def test_the_timelines_users_are_each_buckets_users(
    campus: tuple[TestClient, dict[str, str], Dream],  # noqa: F811
    module_database_url: str,
    bucket: str,
) -> None:
    """Counted with the peaks (migration 0022), from days still computed from their spans and,
    once computed, from their stored hours: the users of the sessions each bucket aggregates,
    never fewer than ``usage`` counts in it (those sampled there); at or over the floor, at least
    the floor, else exact. A filter the timeline does not keep counts none there."""
    _, _, dream = campus
    url = module_database_url
    analytics = Analytics.of(dream.analytics_db.pool, dream.settings.raw_window_max_days)
    for stored in (False, True):
        if stored:  # every day's hours computed and kept (the writer does old days itself)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT concurrency_refresh(1000000, 'infinity')")
        for app, span in itertools.product(("stata", "matlab", "rstudio"), _ranges()):
            f = Filters.model_validate({"app": app, **span})
            counted = analytics.concurrency(f, bucket=bucket, floor=1000).items
            exact = {r["bucket"]: r["users"] for r in counted}
            expected = _users_of_sessions(url, app, f, bucket)
            assert {b: n for b, n in exact.items() if n} == expected, (app, span, stored)
            sampled = analytics.usage(f, bucket=bucket, users_only=True).items
            assert all(exact.get(r["bucket"], 0) >= r["users"] for r in sampled), app
            held = {r["bucket"]: r["users"]
                    for r in analytics.concurrency(f, bucket=bucket, floor=3).items}  # fmt: skip
            assert all(held[b] >= 3 if n >= 3 else held[b] == n for b, n in exact.items()), app
            assert "users" not in analytics.concurrency(f, bucket=bucket).items[0]
    narrowed = Filters.model_validate({"app": "stata", "faculty": "law"})
    assert "users" not in analytics.concurrency(narrowed, bucket=bucket, floor=3).items[0]
