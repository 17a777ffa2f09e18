"""Kafka mode while PostgreSQL is away: verified API keys keep ingesting, unknown ones fail fast.

A PostgreSQL of the test's own is stopped and started again; the api runs in this process over
the shared broker with authentication on.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from dream.app import Dream
from dream.web.app import create_app
from dream.security.keys import KeyStore
from dream.settings import Settings
from dream.storage.database import Database
from faults import names
from helpers import FakeClock, snapshot_body, wait_for

LISTING = "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"
CACHE_S = 1.0
STALE_S = 60.0


def test_verified_keys_ingest_through_a_database_outage(own_postgres, kafka_bootstrap: str,
                                                        tmp_path: Path) -> None:  # fmt: skip
    topics = names()
    settings = Settings(
        database_url=own_postgres.url, kafka_bootstrap=kafka_bootstrap,
        kafka_topic=topics["DREAM_KAFKA_TOPIC"], kafka_dlq_topic=topics["DREAM_KAFKA_DLQ_TOPIC"],
        kafka_partitions=1, data_dir=tmp_path, auth="on", rate_limits="",
        key_cache_s=CACHE_S, key_cache_stale_s=STALE_S,
    )  # fmt: skip
    dream = Dream(settings).open()
    clock = dream.keys.clock = FakeClock()  # the key cache's age is moved by hand
    known = dream.keys.create("lab collectors", "ingest").secret
    other = dream.keys.create("law collectors", "ingest").secret  # never used before the outage
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:

            def post(token: str) -> tuple[int, dict[str, str]]:
                r = client.post("/v1/snapshots", json=snapshot_body(LISTING),
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                return r.status_code, {k.lower(): v for k, v in r.headers.items()}

            def checks_that_waited() -> int:
                """Posts whose key check waited on the database (each logs that it found it
                away); the checks of the background re-check are not posts' and log nothing."""
                return sum(e["event"].startswith("API keys cannot be checked") for e in logs)

            assert post(known)[0] == 202
            own_postgres.stop()
            clock.advance(CACHE_S + 0.5)  # the key's cache entry has expired
            with capture_logs() as logs:
                for n in range(5):  # the first waits out one key check, the rest none
                    status, _ = post(known)
                    assert status == 202 and checks_that_waited() == 1, (n, status, logs)
                status, headers = post(other)
                assert status == 503 and "retry-after" in headers, status
                status, _ = post(other)
                assert status == 503, status
                assert checks_that_waited() == 1, "an unknown key waited on the absent database"
                clock.advance(STALE_S)  # the outage outlasts DREAM_KEY_CACHE_STALE_S: the bound
                status, headers = post(known)
                assert status == 503 and "retry-after" in headers, status
                assert checks_that_waited() == 1, "a post waited on the absent database"

            own_postgres.restart()
            # Another replica revokes the key: once the database is back it stops working.
            replica = Database(own_postgres.url)
            replica.open()
            try:
                KeyStore(replica).revoke(known.split("_")[1])
            finally:
                replica.close()

            def once_the_cache_expired(token: str) -> int:
                clock.advance(CACHE_S + 0.5)  # the cached verdict is too old: checked again
                return post(token)[0]

            wait_for(lambda: once_the_cache_expired(known) == 401, timeout_s=30,
                     what="the revocation to apply")  # fmt: skip
            assert post(other)[0] == 202
    finally:
        dream.close()
