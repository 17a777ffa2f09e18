"""The worker while its PostgreSQL goes away: it pauses, stays in its group, resumes, loses nothing.

A PostgreSQL of the test's own is stopped and started again under the same address; the worker
is a real `dream worker` process against the shared broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faults import in_process_api, assert_each_snapshot_once, dream_env, group_caught_up, spawn, stored, terminate
from helpers import live_ps_aux, snapshot_body, wait_for

MAX_POLL_INTERVAL_MS = 8000  # the outage below lasts longer than this


@pytest.fixture
def env(own_postgres, kafka_bootstrap: str) -> dict[str, str]:
    return dream_env(
        own_postgres.url,
        kafka_bootstrap,
        DREAM_BATCH_SIZE=4,
        DREAM_KAFKA_SESSION_TIMEOUT_MS=6000,
        DREAM_KAFKA_MAX_POLL_INTERVAL_MS=MAX_POLL_INTERVAL_MS,
    )


@pytest.fixture
def api(env: dict[str, str], tmp_path: Path) -> Iterator[TestClient]:
    with in_process_api(env, tmp_path, partitions=3) as client:
        yield client


def _post(api: TestClient, n: int, ids: set[str], output: str) -> None:
    for _ in range(n):
        body = snapshot_body(output, host=f"med-lab-{len(ids) % 9:02d}")
        assert api.post("/v1/snapshots", json=body).status_code == 202
        ids.add(body["snapshot_id"])


def test_database_down_while_worker_runs_pauses_and_loses_nothing(
    own_postgres, env: dict[str, str], api: TestClient, logs_dir: Path
) -> None:
    url = own_postgres.url
    output = live_ps_aux()
    ids: set[str] = set()
    log = logs_dir / "worker.log"
    worker = spawn(["worker"], env, log)
    try:
        _post(api, 20, ids, output)
        wait_for(lambda: stored(url) == 20, timeout_s=60, what="first snapshots stored")

        own_postgres.stop()
        _post(api, 30, ids, output)  # the broker takes them; the worker cannot store them
        # Longer than max.poll.interval.ms: a worker blocked on the database would be thrown
        # out of its group; a paused one keeps polling.
        wait_for(lambda: "consumption paused" in log.read_text(), timeout_s=30, what="pause")
        time.sleep(MAX_POLL_INTERVAL_MS / 1000 + 3)  # a duration must pass: not an event
        assert worker.poll() is None, log.read_text()[-3000:]

        own_postgres.restart()
        _post(api, 10, ids, output)
        wait_for(lambda: stored(url) == len(ids), timeout_s=60, what="all snapshots stored")
        wait_for(lambda: group_caught_up(env), timeout_s=30, what="offsets committed")
    finally:
        rc = terminate(worker)
    text = log.read_text(errors="replace")
    assert rc == 0, text[-3000:]
    assert "database write failed; retrying" in text
    assert "consumption resumed" in text
    assert "MAXPOLL" not in text and "maximum poll interval" not in text, "left its group"
    assert_each_snapshot_once(url, ids)


def test_sigterm_while_database_down_exits_promptly_and_commits_only_what_is_stored(
    own_postgres, env: dict[str, str], api: TestClient, logs_dir: Path
) -> None:
    url = own_postgres.url
    output = live_ps_aux()
    ids: set[str] = set()
    log = logs_dir / "worker.log"
    worker = spawn(["worker"], env, log)
    try:
        _post(api, 12, ids, output)
        wait_for(lambda: stored(url) == 12, timeout_s=60, what="first snapshots stored")
        own_postgres.stop()
        _post(api, 12, ids, output)
        wait_for(lambda: "database write failed" in log.read_text(), timeout_s=30, what="retry")
        tries = log.read_text().count("database write failed")
    finally:
        rc = terminate(worker, timeout_s=20)
    assert rc == 0, log.read_text()[-3000:]
    # Promptly: the SIGTERM ended the retries; at most the try under way when it came failed.
    assert log.read_text().count("database write failed") <= tries + 1, log.read_text()[-3000:]
    assert "batch abandoned unacknowledged" in log.read_text()
    # Nothing beyond what was stored may have been committed: the next worker finds the rest.
    own_postgres.restart()
    assert stored(url) == 12
    again = spawn(["worker"], env, logs_dir / "worker-2.log")
    try:
        wait_for(lambda: stored(url) == len(ids), timeout_s=60, what="the rest stored")
        wait_for(lambda: group_caught_up(env), timeout_s=30, what="offsets committed")
    finally:
        assert terminate(again) == 0
    assert_each_snapshot_once(url, ids)
