"""Concurrency: the most users (hosts) running at one instant per bucket, and the time-weighted
95th percentile of users, on hand-built sessions and against a brute force over the dataset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds
import sessions_data
from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from sessions_data import Session

D = datetime(2026, 5, 5, tzinfo=UTC)


def at(clock: str) -> datetime:
    h, m = clock.split(":")
    return D + timedelta(hours=int(h), minutes=int(m))


def used(user: str, host: str, start: str, end: str, app: str = "matlab", **kw: Any) -> Session:
    """In use over [start, end): last seen one 60-second sampling interval before the end."""
    return Session(host, user, app, at(start), at(end) - timedelta(seconds=60), 60, **kw)


SESSIONS = [
    used("ann", "h1", "10:00", "10:30"),
    used("ann", "h2", "10:15", "10:45"),  # the same user on a second host: one user
    used("bob", "h3", "10:40", "11:20"),  # across the hour's edge
    used("cid", "h4", "11:00", "11:10"),
    used("dan", "h5", "11:30", "11:40"),
    used("eve", "h6", "11:40", "11:50"),  # starts as dan's ends: never two at once
    used("fay", "h7", "12:00", "13:00"),
    used("gus", "h8", "12:30", "12:31"),  # two users for one minute of the hour: < 5%
    used("hal", "h9", "10:00", "13:00", app="stata"),  # another app
    used("ivy", "h9", "10:00", "13:00", is_system=True, pid=4),  # a system process
]


@pytest.fixture
def analytics(analytics_of: Callable[[list[Session]], Analytics]) -> Analytics:
    return analytics_of(SESSIONS)


def table(items: list[dict[str, Any]]) -> list[tuple]:
    return [(i["bucket"].strftime("%d %H:%M"), i["peak_users"], i["peak_hosts"], i["p95_users"])
            for i in items]  # fmt: skip


def test_peaks_per_hour(analytics: Analytics) -> None:
    found = analytics.concurrency(Filters(app="matlab"), bucket="hour").items
    assert table(found) == [
        ("05 10:00", 2, 2, 2),  # ann alone 40 min, with bob 5, bob alone 15: p95 = 2
        ("05 11:00", 2, 2, 2),  # 20 min nobody, 30 one user, 10 two
        ("05 12:00", 2, 2, 1),  # two users for 1 minute only
    ]


def test_the_range_clips_the_sessions(analytics: Analytics) -> None:
    f = Filters.model_validate({"app": "matlab", "from": at("10:42"), "to": at("11:05")})
    assert table(analytics.concurrency(f, bucket="hour").items) == [
        ("05 10:00", 2, 2, 2),  # 10:42-10:45 two users (3 of the 18 minutes in range)
        ("05 11:00", 2, 2, 2),  # 11:00-11:05 bob and cid
    ]
    f = Filters.model_validate({"app": "matlab", "from": at("11:20"), "to": at("11:45")})
    assert table(analytics.concurrency(f, bucket="hour").items) == [("05 11:00", 1, 1, 1)]


def test_days_weeks_system_and_other_apps(analytics: Analytics) -> None:
    # Over the day nobody runs MATLAB 89% of the time, one user most of the rest: p95 = 1.
    assert table(analytics.concurrency(Filters(app="matlab"), bucket="day").items) == [
        ("05 00:00", 2, 2, 1)
    ]
    week = analytics.concurrency(Filters(include_system=True), bucket="week").items
    assert table(week) == [("04 00:00", 4, 3, 0)]  # hal, ivy (one host), fay, gus at 12:30
    assert analytics.concurrency(Filters(app="spss"), bucket="day").items == []


def brute_force(sessions: list[Session], bucket: str) -> list[tuple]:
    """Peak users and hosts per bucket, by counting at every instant a session starts (the
    count only rises there) and at every bucket start a session runs across."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
    instants = {s.first_seen for s in sessions}
    for s in sessions:
        edge = ds.truncate(s.first_seen, bucket) + step[bucket]
        while edge < s.ended:
            instants.add(edge)
            edge += step[bucket]
    peaks: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for t in sorted(instants):
        running = [s for s in sessions if s.first_seen <= t < s.ended]
        if running:
            peak = peaks[ds.truncate(t, bucket)]
            peak[0] = max(peak[0], len({s.user for s in running}))
            peak[1] = max(peak[1], len({s.host for s in running}))
    return [(b, *p) for b, p in sorted(peaks.items())]


@pytest.mark.parametrize("params", [{"app": "matlab"}, {"faculty": "law"}, {"os": "linux"}])
@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
def test_peaks_match_a_brute_force_over_the_dataset(
    client: TestClient, rows: list[ds.Row], params: dict[str, Any], bucket: str
) -> None:
    response = client.get("/v1/analytics/concurrency", params={**params, "bucket": bucket})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    found = [(datetime.fromisoformat(i["bucket"]), i["peak_users"], i["peak_hosts"])
             for i in items if i["peak_users"]]  # fmt: skip
    expected = brute_force(sessions_data.matching(ds.sessions_of(rows), params), bucket)
    assert found == expected
    assert all(0 <= i["p95_users"] <= i["peak_users"] for i in items)


@pytest.mark.parametrize("bad", [{"bucket": "month"}, {"bucket": "minute"}, {"limit": "5"}])
def test_a_bucket_it_cannot_answer_is_a_422_naming_it(client: TestClient, bad: dict) -> None:
    response = client.get("/v1/analytics/concurrency", params={"app": "matlab", **bad})
    assert response.status_code == 422, response.text
    assert next(iter(bad)) in response.text
