"""Direct mode while its PostgreSQL is away: posts answer 503 with Retry-After at once (the
circuit breaker), and the api takes posts again by itself once the database is back."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dream.app import Dream
from dream.transport.direct import DirectTransport
from dream.web.app import create_app
from dream.settings import Settings
from helpers import live_ps_aux, snapshot_body, wait_for


def test_direct_posts_fail_fast_while_the_database_is_down_and_recover(
    own_postgres, tmp_path: Path
) -> None:
    # A reset longer than the test's open phase: no probe runs in it, so every connection the
    # pool is asked for there would be a post's.
    settings = Settings(database_url=own_postgres.url, data_dir=tmp_path, breaker_reset_s=60.0)
    dream = Dream(settings).open()
    publisher = dream.publisher()
    assert isinstance(publisher, DirectTransport)
    output = live_ps_aux()

    def connections_asked() -> int:
        return dream.db.pool.get_stats().get("requests_num", 0)

    try:
        with TestClient(create_app(dream, publisher=publisher)) as api:
            assert api.post("/v1/snapshots", json=snapshot_body(output)).status_code == 202

            own_postgres.stop()
            first = api.post("/v1/snapshots", json=snapshot_body(output))
            assert first.status_code == 503, first.text
            assert publisher.breaker.state == "open" and publisher.breaker.opened_count == 1
            # The circuit is open now: no post waits on the database known to be down, none
            # even asks the pool for a connection (which would wait for its connect timeout).
            asked = connections_asked()
            for _ in range(5):
                response = api.post("/v1/snapshots", json=snapshot_body(output))
                assert response.status_code == 503, response.text
                assert 1 <= int(response.headers["Retry-After"]) <= 60
                assert "database unavailable" in response.json()["detail"]
            assert connections_asked() == asked, "a post asked for a connection while open"
            assert publisher.breaker.state == "open" and publisher.breaker.opened_count == 1
            assert api.get("/readyz").status_code == 503

            publisher.breaker.reset_timeout_s = 1.0  # probe again soon: the recovery is next
            own_postgres.restart()
            body = snapshot_body(output)
            wait_for(lambda: api.post("/v1/snapshots", json=body).status_code == 202,
                     timeout_s=30, what="posts accepted again")  # fmt: skip
            assert api.get("/readyz").status_code == 200
            assert publisher.breaker.state == "closed"
    finally:
        dream.close()
