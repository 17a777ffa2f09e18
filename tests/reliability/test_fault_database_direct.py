"""Direct mode while its PostgreSQL is away: posts answer 503 with Retry-After at once (the
circuit breaker), and the api takes posts again by itself once the database is back."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from helpers import live_ps_aux, snapshot_body, wait_for


def test_direct_posts_fail_fast_while_the_database_is_down_and_recover(
    own_postgres, tmp_path: Path
) -> None:
    settings = Settings(database_url=own_postgres.url, data_dir=tmp_path, breaker_reset_s=1.0)
    dream = Dream(settings).open()
    output = live_ps_aux()
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as api:
            assert api.post("/v1/snapshots", json=snapshot_body(output)).status_code == 202

            own_postgres.stop()
            first = api.post("/v1/snapshots", json=snapshot_body(output))
            assert first.status_code == 503, first.text
            # The circuit is open now: no post waits on the database known to be down.
            for _ in range(5):
                started = time.monotonic()
                response = api.post("/v1/snapshots", json=snapshot_body(output))
                took = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert int(response.headers["Retry-After"]) >= 1
                assert "database unavailable" in response.json()["detail"]
                assert took < 2, f"a post waited {took:.1f} s on a database known to be down"
            assert api.get("/readyz").status_code == 503

            own_postgres.restart()
            body = snapshot_body(output)
            wait_for(lambda: api.post("/v1/snapshots", json=body).status_code == 202,
                     timeout_s=30, what="posts accepted again")  # fmt: skip
            assert api.get("/readyz").status_code == 200
    finally:
        dream.close()
