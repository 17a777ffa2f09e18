"""Differential privacy per key, through the real api, worker and PostgreSQL: a DP key's
answers carry Laplace noise of the documented scale (epsilon split over the noised columns,
times the rows), report their cost, and are refused once the month's budget is spent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy import stats

from dream.analytics.calendar import Calendar
from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from dream.analytics.questions.base import Disclosure
from dream.analytics.questions.noise import add_noise, scales, spans
from dream.analytics.questions.registry import QUESTIONS
from dream.app import Dream
from helpers import beside_a_worker, snapshot_body, wait_for
from test_api_security import ADMIN_TOKEN, bearer, make_dream
from test_erasure import ps_aux

USERS = 8
HOUR = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
ONE_HOUR = {"from": HOUR.isoformat(), "to": (HOUR + timedelta(hours=1)).isoformat()}
ALPHA = 1e-4  # a correct mechanism fails a test at this level once in 10,000 runs


def fits(draws: list[int], scale: float) -> float:
    """The chi-square test's p-value of integer ``draws`` against the discrete Laplace of
    ``scale`` (KS is not valid for a discrete law), over bins expecting at least 5 draws each
    and the two tails."""
    law = stats.dlaplace(a=1 / scale)
    edge = int(law.ppf(1 - 5 / len(draws)))  # beyond: tails of at least ~5 draws each
    values = range(-edge, edge + 1)
    observed = [sum(d < -edge for d in draws), *(draws.count(v) for v in values),
                sum(d > edge for d in draws)]  # fmt: skip
    expected = [law.cdf(-edge - 1), *(law.pmf(v) for v in values), law.sf(edge)]
    total = sum(expected)
    return float(stats.chisquare(observed, [e / total * len(draws) for e in expected]).pvalue)


def test_the_mechanism_draws_laplace_noise_of_the_documented_scale() -> None:
    """Counts: discrete Laplace, scale = rows x 1 / (epsilon / noised columns)."""
    rows = [{"users": 1000}]
    assert scales(rows, 0.2, [timedelta(hours=1)]) == {"users": 5.0}
    draws = []
    for _ in range(2000):
        noisy = [dict(r) for r in rows]
        add_noise(noisy, 0.2, [timedelta(hours=1)])
        draws.append(noisy[0]["users"] - 1000)
    assert fits(draws, 5.0) > ALPHA
    assert fits(draws, 2.5) < ALPHA and fits(draws, 10.0) < ALPHA  # not any scale


@pytest.fixture(scope="module")
def dp_campus(module_database_url: str, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[tuple[TestClient, Dream]]:  # fmt: skip
    """Eight users running matlab for one hour, each on a machine of their own."""
    dream = make_dream(module_database_url, tmp_path_factory.mktemp("dp"), rate_limits="",
                       min_group_users=1)  # fmt: skip
    with beside_a_worker(dream) as app, TestClient(app) as client:
        bodies = [snapshot_body(ps_aux(f"user{i}", ("matlab",), 1), user=f"user{i}",
                                host=f"law-lx-{i}", faculty="law", interval_s=3600,
                                collected_at=HOUR.isoformat())
                  for i in range(USERS)]  # fmt: skip
        for body in bodies:
            assert client.post("/v1/snapshots", json=body,
                               headers=bearer(ADMIN_TOKEN)).status_code == 202  # fmt: skip
        for body in bodies:
            wait_for(lambda b=body: client.get(f"/v1/snapshots/{b['snapshot_id']}",
                                               headers=bearer(ADMIN_TOKEN)
                                               ).json()["status"] == "stored")  # fmt: skip
        yield client, dream
    dream.close()


def dp_key(client: TestClient, **dp: Any) -> str:
    made = client.post("/v1/keys", json={"name": "dp", "role": "query", **dp},
                       headers=bearer(ADMIN_TOKEN))  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def test_a_dp_keys_answers_are_noisy_with_the_documented_epsilon(
    dp_campus: tuple[TestClient, Dream],
) -> None:
    client, _ = dp_campus
    exact = client.get("/v1/analytics/top-apps", params=ONE_HOUR,
                       headers=bearer(ADMIN_TOKEN)).json()["items"]  # fmt: skip
    assert [(r["app"], r["users"]) for r in exact] == [("matlab", USERS)]
    hours = exact[0]["hours"]
    assert hours == pytest.approx(USERS * 1.0)  # far above the noise: clamping at 0 is rare
    token = dp_key(client, dp_epsilon=3.0, dp_budget=1000)
    users, spent_hours = [], []
    for n in range(1, 301):
        got = client.get("/v1/analytics/top-apps", params=ONE_HOUR, headers=bearer(token))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["privacy"] == {"epsilon": 3.0, "mechanism": "laplace (OpenDP)",
                                   "spent": pytest.approx(3.0 * n), "budget": 1000.0,
                                   "period": f"{datetime.now(UTC):%Y-%m}"}  # fmt: skip
        (row,) = body["items"]
        assert row["snapshots"] is None and row["launches"] is None  # no per-person bound
        users.append(row["users"] - USERS)
        spent_hours.append(row["hours"] - hours)
    # users, hosts and hours share epsilon 3: 1 each; one row, a person counts 1 (users) and
    # at most the hour asked (hours): scale 1 for both.
    assert fits(users, 1.0) > ALPHA
    assert stats.kstest(spent_hours, stats.laplace(scale=1.0).cdf).pvalue > ALPHA
    assert len(set(users)) > 3  # noisy, not exact


def test_a_calendar_buckets_bound_is_its_own_length() -> None:
    """A term's hours are bounded by the term (its campus days, here with the clocks going back
    on 25 October: one hour more), a teaching week at the range's start by what the range holds
    of it; not by the asked range, nor by a fixed length."""
    calendar = Calendar.model_validate({"tz": "Europe/London", "terms": [
        {"id": "2026-autumn", "start": "2026-09-28", "end": "2026-12-11", "teaching_weeks": 10},
        {"id": "2027-spring", "start": "2027-01-11", "end": "2027-03-19", "teaching_weeks": 9},
    ]})  # fmt: skip
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2027, 9, 1, tzinfo=UTC)
    rows = [{"bucket": t, "users": 40, "hours": 900.0} for t in ("2026-autumn", "2027-spring")]
    hours = (75 * 24 + 1) + 68 * 24
    assert spans(rows, "term", start, end, calendar) == [timedelta(hours=75 * 24 + 1),
                                                         timedelta(days=68)]  # fmt: skip
    # users and hours share epsilon 2 (1 each); one person is in every row: 2 users, and at
    # most each term's hours.
    assert scales(rows, 2.0, spans(rows, "term", start, end, calendar)) == {
        "users": 2 * 2 / 2.0, "hours": hours * 2 / 2.0}  # fmt: skip
    midweek = datetime(2026, 10, 1, 11, tzinfo=UTC)  # the first teaching week began on Monday
    weeks = [{"bucket": "2026-autumn w1", "hours": 1.0}, {"bucket": "2026-autumn w2", "hours": 1.0}]
    assert spans(weeks, "teaching_week", midweek, end, calendar) == [
        datetime(2026, 10, 4, 23, tzinfo=UTC) - midweek, timedelta(weeks=1)]  # fmt: skip
    # By week of term, a row is its term's week (group and number), not the whole range.
    numbered = [{"group": "2026-autumn", "bucket": "w1"}, {"group": "2027-spring", "bucket": "w1"}]
    assert spans(numbered, "week_of_term", midweek, end, calendar) == [
        datetime(2026, 10, 4, 23, tzinfo=UTC) - midweek, timedelta(weeks=1)]  # fmt: skip


def test_a_dp_keys_term_answer_is_noised_to_the_term(
    dp_campus: tuple[TestClient, Dream],
) -> None:
    """Through ``Question.ask`` as a DP key's answer is: the hours of ``usage`` by term, asked
    over two months around a one-week term, carry the term's noise (epsilon 504 over users,
    hosts and hours: 168 / (504 / 3) = scale 1), not the range's (61 times more)."""
    _, dream = dp_campus
    day = HOUR.date()
    calendar = Calendar.model_validate({"tz": "UTC", "terms": [{
        "id": "2026-now", "start": day - timedelta(days=3), "end": day + timedelta(days=3),
        "teaching_weeks": 1}]})  # fmt: skip
    analytics = Analytics.of(dream.analytics_db.pool, dream.settings.raw_window_max_days,
                             calendar=calendar)  # fmt: skip
    usage = next(q for q in QUESTIONS if q.name == "usage")
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    filters = Filters.model_validate({"app": "matlab", "from": midnight - timedelta(days=30),
                                      "to": midnight + timedelta(days=31)})  # fmt: skip
    params = usage.params.model_validate({"bucket": "term"})
    (exact,) = usage.ask(analytics, filters, params).items
    assert exact["hours"] == pytest.approx(USERS * 1.0)
    noise = []
    for _ in range(300):
        (row,) = usage.ask(analytics, filters, params, Disclosure(epsilon=504.0)).items
        noise.append(row["hours"] - exact["hours"])
    assert stats.kstest(noise, stats.laplace(scale=1.0).cdf).pvalue > ALPHA


def test_a_dp_key_is_refused_once_its_budget_is_spent(dp_campus: tuple[TestClient, Dream]) -> None:
    client, _ = dp_campus
    token = dp_key(client, dp_epsilon=0.5, dp_budget=1.5)
    for _ in range(3):
        assert client.get("/v1/analytics/usage", params=ONE_HOUR,
                          headers=bearer(token)).status_code == 200  # fmt: skip
    refused = client.get("/v1/export", params={"query": "top-apps", **ONE_HOUR},
                         headers=bearer(token))  # fmt: skip
    assert refused.status_code == 429
    assert "privacy budget" in refused.text and "renews" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    others = client.get("/v1/analytics/usage", params=ONE_HOUR, headers=bearer(ADMIN_TOKEN))
    assert others.status_code == 200 and others.json()["privacy"] is None


def test_dp_is_for_query_keys_only(dp_campus: tuple[TestClient, Dream]) -> None:
    client, _ = dp_campus
    for body in ({"role": "steward", "dp_epsilon": 1.0}, {"role": "query", "dp_budget": 2.0},
                 {"role": "query", "dp_epsilon": 0}):  # fmt: skip
        made = client.post("/v1/keys", json={"name": "x", **body}, headers=bearer(ADMIN_TOKEN))
        assert made.status_code == 422, made.text


def test_dream_keys_create_a_dp_key(database_url: str, tmp_path: Path) -> None:
    env = {"DREAM_DATABASE_URL": database_url, "DREAM_DATA_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin", "COLUMNS": "200"}  # fmt: skip

    def dream(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dream", "keys", *args], env=env, text=True,
                              capture_output=True, timeout=120)  # fmt: skip

    made = dream("create", "--name", "dashboard", "--role", "query", "--dp-epsilon", "0.5")
    assert made.returncode == 0, made.stderr
    assert "0.5 / 50" in dream("list").stdout  # 100 answers' worth by default
    refused = dream("create", "--name", "rows", "--role", "steward", "--dp-epsilon", "1")
    assert refused.returncode == 2 and "query" in refused.stderr


def test_a_dp_key_gets_no_exact_denominator_and_no_compare(
    dp_campus: tuple[TestClient, Dream],
) -> None:
    """A share of exact users over exact active users gives back the exact count the noise
    hides: a DP key gets neither (top-apps, breakdown), and compare, all exact shares and
    tests, is refused before any budget is spent."""
    client, _ = dp_campus
    token = dp_key(client, dp_epsilon=1.0, dp_budget=3.0)
    shares = ("active_users", "share_users", "share_ci95_lo", "share_ci95_hi")
    (row,) = client.get("/v1/analytics/top-apps", params=ONE_HOUR,
                        headers=bearer(token)).json()["items"]  # fmt: skip
    assert [row[c] for c in shares] == [None] * 4, row
    (law,) = client.get("/v1/analytics/breakdown", params={**ONE_HOUR, "by": "faculty"},
                        headers=bearer(token)).json()["items"]  # fmt: skip
    assert (law["active_users"], law["share_users"]) == (None, None), law
    (series,) = client.get("/v1/analytics/usage", params={**ONE_HOUR, "bucket": "hour"},
                           headers=bearer(token)).json()["series"]  # fmt: skip
    assert [(p["active_users"], p["share_users"]) for p in series["points"]] == [(None, None)]
    for path, params in (("/v1/analytics/compare", {}), ("/v1/export", {"query": "compare"})):
        refused = client.get(path, params={**ONE_HOUR, **params, "a": "law", "b": "arts"},
                             headers=bearer(token))  # fmt: skip
        assert refused.status_code == 403, refused.text
        assert "differential privacy" in refused.text
    exact = client.get("/v1/analytics/top-apps", params=ONE_HOUR, headers=bearer(ADMIN_TOKEN))
    assert exact.json()["items"][0]["share_users"] == 1.0  # every active user ran matlab
