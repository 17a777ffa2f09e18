"""Hours of use and launches from sessions: the same use at any sampling cadence is the same
hours, clipped to the range asked, split over the buckets it covers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from sessions_data import Session

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)  # a Monday
M = timedelta(minutes=1)

SESSIONS = [
    # One hour of Stata sampled every minute (60 samples), one of SPSS every ten (6 samples).
    Session("lab-1", "ann", "stata", T0, T0 + 59 * M, 60, samples=60),
    Session("lab-2", "bob", "spss", T0, T0 + 50 * M, 600, samples=6),
    # Two hours across midnight: one on Monday, one on Tuesday.
    Session("lab-1", "ann", "stata", T0 + 13 * 60 * M, T0 + 14 * 60 * M, 3600, pid=7),
    # A system process: counted with include_system only.
    Session("lab-1", "ann", "spss", T0, T0 + 9 * 60 * M, 3600, is_system=True, pid=8),
    # An unknown application: never counted.
    Session("lab-1", "ann", "", T0, T0 + 9 * 60 * M, 3600, pid=9),
]


@pytest.fixture
def analytics(analytics_of: Callable[[list[Session]], Analytics]) -> Analytics:
    return analytics_of(SESSIONS)


def hours(items: list[dict]) -> dict[str, tuple[float, int]]:
    return {i["app"]: (i["hours"], i["launches"]) for i in items}


def test_the_same_use_at_any_cadence_is_the_same_hours(analytics: Analytics) -> None:
    day = Filters.model_validate({"from": "2026-05-04T00:00:00Z", "to": "2026-05-05T00:00:00Z"})
    found = analytics.top_apps(day, metric="hours").items
    assert hours(found) == {"stata": (2.0, 2), "spss": (1.0, 1)}  # 1 h + 1 h to midnight
    assert [i["app"] for i in found] == ["stata", "spss"]
    with_system = analytics.top_apps(day.model_copy(update={"include_system": True}),
                                     metric="launches").items  # fmt: skip
    assert hours(with_system) == {"stata": (2.0, 2), "spss": (11.0, 2)}


@pytest.mark.parametrize("source", ["raw", "rollup"])
def test_a_range_inside_the_day_clips_each_session(analytics: Analytics, source: str) -> None:
    half = Filters.model_validate({"from": "2026-05-04T10:30:00Z", "to": "2026-05-04T23:30:00Z"}
                                  if source == "raw" else
                                  {"from": "2026-05-04T10:00:00Z", "to": "2026-05-04T23:00:00Z"})  # fmt: skip
    found = hours(analytics.top_apps(half, metric="hours", source=source).items)
    if source == "raw":  # 10:30-11:00 of each; 23:00-23:30 of the night session, launched in it
        assert found == {"stata": (1.0, 1), "spss": (0.5, 0)}
    else:
        assert found == {"stata": (1.0, 1), "spss": (1.0, 1)}  # the night one starts at 23:00


def test_usage_splits_hours_over_the_buckets(analytics: Analytics) -> None:
    days = analytics.usage(Filters(app="stata"), bucket="day").items
    assert [(r["bucket"].date().isoformat(), r["hours"], r["launches"]) for r in days] == [
        ("2026-05-04", 2.0, 2), ("2026-05-05", 1.0, 0)
    ]  # fmt: skip
    by_hour = analytics.usage(Filters(app="stata", **{"from": T0 + 13 * 60 * M}), bucket="hour")
    assert [(r["bucket"].hour, r["hours"]) for r in by_hour.items] == [(23, 1.0), (0, 1.0)]
    week = analytics.breakdown(Filters(), by="user", metric="hours").items
    assert [(r["user"], r["hours"], r["launches"], r["processes"]) for r in week] == [
        ("ann", 3.0, 2, 0), ("bob", 1.0, 1, 0)
    ]  # fmt: skip


@pytest.mark.parametrize(("system", "metric", "order"), [
    (True, "hours", ["spss", "stata"]),  # 1 h + 9 h of the system process, against 3 h
    (False, "hours", ["stata", "spss"]),  # 3 h against 1 h
    (False, "launches", ["stata", "spss"]),  # 2 against 1
    (False, None, ["spss", "stata"]),  # by group
])  # fmt: skip
def test_usage_orders_its_series_by_the_metric_asked(
    analytics: Analytics, system: bool, metric: str | None, order: list[str]
) -> None:
    from dream.analytics.questions.registry import QUESTIONS

    usage = next(q for q in QUESTIONS if q.name == "usage")
    params = usage.params(group_by="app", bucket="day", metric=metric)
    filters = Filters(include_system=system)
    body = usage.answer(usage.ask(analytics, filters, params), filters, params)
    assert [s["group"] for s in body["series"]] == order
    assert body["metric"] == metric
