"""Slow analytics cannot starve ingestion: separate pools, a statement timeout, a bounded raw
fallback. Slowness is real: a table the analytics read is locked by another session."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from helpers import snapshot_body, wait_for

LISTING = "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n"


def lock_waiters(database_url: str) -> int:
    """Sessions of this database waiting on a lock now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                           " current_database() AND wait_event_type = 'Lock'").fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def test_slow_analytics_leave_ingestion_prompt_and_time_out_clearly(database_url: str,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, auth="off",
                           query_timeout_s=3.0)).open()  # fmt: skip
    locker = psycopg.connect(database_url)
    release = threading.Timer(20, locker.close)  # a stuck query cannot hang the test forever
    release.start()
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            assert client.get("/v1/analytics/top-apps").status_code == 200
            locker.execute("LOCK TABLE usage_daily_apps IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(max_workers=8) as pool:
                slow = [pool.submit(client.get, "/v1/analytics/top-apps") for _ in range(8)]
                wait_for(lambda: lock_waiters(database_url) >= dream.settings.analytics_pool_size,
                         what="every analytics connection waiting on the lock")  # fmt: skip
                posted = client.post("/v1/snapshots", json=snapshot_body(LISTING))
                assert client.get(f"/v1/snapshots/{posted.json()['snapshot_id']}").status_code == 200
                # Answered while every analytics question still waits: none had to give way.
                assert not any(f.done() for f in slow), "the post waited for the analytics"
                answers = [f.result() for f in slow]
            assert posted.status_code == 202, posted.text
            assert {r.status_code for r in answers} == {503}
            assert all("DREAM_QUERY_TIMEOUT_S" in r.json()["detail"] for r in answers)
            locker.rollback()
            assert client.get("/v1/analytics/top-apps").status_code == 200
    finally:
        release.cancel()
        locker.close()
        dream.close()


def test_raw_fallback_reads_a_bounded_window(database_url: str, tmp_path: Path) -> None:
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, auth="off",
                           raw_window_max_days=7)).open()  # fmt: skip
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            wide = client.get("/v1/analytics/top-apps",
                              params={"from": "2026-01-01T00:30:00Z", "to": "2026-03-01T00:00:00Z"})
            assert wide.status_code == 422, wide.text
            assert "DREAM_RAW_WINDOW_MAX_DAYS" in wide.text and "from" in wide.text
            open_ended = client.get("/v1/analytics/usage", params={"to": "2026-03-01T00:00:05Z"})
            assert open_ended.status_code == 422, open_ended.text
            narrow = client.get("/v1/analytics/top-apps",
                                params={"from": "2026-02-25T00:30:00Z", "to": "2026-03-01T00:00:00Z"})
            assert narrow.status_code == 200 and narrow.json()["source"] == "raw", narrow.text
            aligned = client.get("/v1/analytics/top-apps",
                                 params={"from": "2025-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"})
            assert aligned.status_code == 200 and aligned.json()["source"] == "rollup"
    finally:
        dream.close()
