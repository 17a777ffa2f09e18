"""Failed authentications are rate-limited per client address (keys and tokens alike)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dream.web.app import create_app
from dream.security.ratelimit import RateLimiter, parse_limits
from test_api_security import ADMIN_TOKEN, bearer, make_dream

WRONG_KEY = "dream_0000000000ff_" + "x" * 43


def test_failed_authentications_from_one_address_answer_429(database_url: str,
                                                             tmp_path: Path) -> None:  # fmt: skip
    dream = make_dream(database_url, tmp_path, rate_limits="", auth_failure_limit="1/m:3")
    app = create_app(dream, publisher=dream.publisher())
    try:
        with TestClient(app, client=("203.0.113.7", 4000)) as guesser, \
                TestClient(app, client=("198.51.100.2", 4000)) as neighbour:  # fmt: skip
            statuses = [guesser.get("/v1/faculties", headers=bearer(WRONG_KEY)).status_code
                        for _ in range(3)]  # fmt: skip
            assert statuses == [401, 401, 401]
            for credential in (WRONG_KEY, "not.a.jwt", ADMIN_TOKEN):  # checked no more for now
                limited = guesser.get("/v1/faculties", headers=bearer(credential))
                assert limited.status_code == 429, (credential, limited.text)
                assert int(limited.headers["Retry-After"]) >= 1
                assert "failed authentications" in limited.json()["detail"]
            # Another address is not affected, and good keys never spend the budget.
            for _ in range(5):
                assert neighbour.get("/v1/faculties", headers=bearer(ADMIN_TOKEN)).status_code == 200
            assert neighbour.get("/v1/faculties", headers=bearer(WRONG_KEY)).status_code == 401
            # No credentials at all is not a failed login: 401 as ever.
            assert neighbour.get("/v1/faculties").status_code == 401
    finally:
        dream.close()


def test_waiting_takes_nothing_and_idle_buckets_are_forgotten() -> None:
    now = [0.0]
    limiter = RateLimiter(parse_limits("f=1/s:2"), clock=lambda: now[0])
    assert limiter.waiting("a", "f") == 0.0 and limiter.waiting("a", "f") == 0.0
    assert [limiter.acquire("a", "f") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.waiting("a", "f") > 0
    for n in range(10_000):
        limiter.acquire(f"addr-{n}", "f")
    now[0] += 10  # every bucket is full again: the same as no bucket
    limiter.acquire("b", "f")
    assert len(limiter._buckets) == 1
    assert limiter.waiting("a", "f") == 0.0
