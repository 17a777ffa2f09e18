"""Two workers in one group under a steady stream; one is killed (-9) during the rebalance its
partner's arrival starts. Every accepted snapshot must end up stored exactly once."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faults import (
    in_process_api,
    assert_each_snapshot_once,
    dream_env,
    group_caught_up,
    spawn,
    stored,
    terminate,
    wait_for_log,
)
from helpers import live_ps_aux, snapshot_body, wait_for


@pytest.fixture
def env(database_url: str, kafka_bootstrap: str) -> dict[str, str]:
    return dream_env(
        database_url,
        kafka_bootstrap,
        DREAM_KAFKA_PARTITIONS=6,
        DREAM_BATCH_SIZE=3,
        DREAM_KAFKA_SESSION_TIMEOUT_MS=6000,
    )


@pytest.fixture
def api(env: dict[str, str], tmp_path: Path) -> Iterator[TestClient]:
    with in_process_api(env, tmp_path, partitions=6) as client:
        yield client


class Stream:
    """Posts snapshots from a thread until stopped; the ids of every 202."""

    def __init__(self, api: TestClient) -> None:
        self.api = api
        self.output = live_ps_aux()
        self.ids: set[str] = set()
        self.failures: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            body = snapshot_body(self.output, host=f"arts-lab-{i % 23:02d}")
            r = self.api.post("/v1/snapshots", json=body)
            if r.status_code == 202:
                self.ids.add(body["snapshot_id"])
            else:
                self.failures.append(r.status_code)

    def wait_for_more(self, n: int, what: str) -> None:
        """Until ``n`` more snapshots than now are accepted (the stream goes on meanwhile)."""
        target = len(self.ids) + n
        wait_for(lambda: len(self.ids) >= target, timeout_s=60, what=f"{n} {what}")

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _assignments(log: Path) -> int:
    """How often the worker writing ``log`` was given partitions."""
    return len(re.findall(r"partitions assigned +partitions=\[\d", log.read_text(errors="replace")))


def test_worker_killed_during_rebalance_loses_and_doubles_nothing(
    env: dict[str, str], api: TestClient, logs_dir: Path
) -> None:
    url = env["DREAM_DATABASE_URL"]
    log_a, log_b = logs_dir / "worker-a.log", logs_dir / "worker-b.log"
    a = spawn(["worker"], env, log_a)
    b = None
    try:
        with Stream(api) as stream:
            wait_for(lambda: stored(url) >= 30, timeout_s=60, what="worker A storing")
            b = spawn(["worker"], env, log_b)
            # B joining makes A give partitions up (cooperative rebalance): kill A right then,
            # with batches of its own in flight.
            wait_for_log(log_a, "partitions revoked", timeout_s=60)
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=10)
            # B takes A's partitions once A's session times out; keep the stream going.
            wait_for_log(log_b, r"partitions assigned +partitions=\[\d", timeout_s=30)
            stream.wait_for_more(60, what="snapshots accepted after A was killed")
        assert stream.failures == []
        wait_for(
            lambda: stored(url) == len(stream.ids) and group_caught_up(env, partitions=6),
            timeout_s=90,
            what="every accepted snapshot stored by the survivor",
        )
    finally:
        if a.poll() is None:
            a.kill()
        rc_b = terminate(b) if b is not None else 0
    assert rc_b == 0, log_b.read_text()[-3000:]
    assert_each_snapshot_once(url, stream.ids)


def test_second_worker_joining_and_leaving_doubles_nothing(
    env: dict[str, str], api: TestClient, logs_dir: Path
) -> None:
    """Graceful joins and leaves under load: revoked partitions' batches are finished first."""
    url = env["DREAM_DATABASE_URL"]
    log_a, log_b = logs_dir / "worker-a.log", logs_dir / "worker-b.log"
    a = spawn(["worker"], env, log_a)
    b = None
    try:
        with Stream(api) as stream:
            wait_for(lambda: stored(url) >= 30, timeout_s=60, what="worker A storing")
            b = spawn(["worker"], env, log_b)
            # Cooperative rebalance: A gives partitions up in one round, B gets them in the next.
            wait_for_log(log_b, r"partitions assigned +partitions=\[\d", timeout_s=60)
            stream.wait_for_more(30, what="snapshots accepted while A and B share the topic")
            assigned_to_a = _assignments(log_a)
            assert terminate(b) == 0, log_b.read_text()[-3000:]  # leaves: A takes it all back
            wait_for(lambda: _assignments(log_a) > assigned_to_a, timeout_s=60,
                     what="A to take B's partitions back")  # fmt: skip
            stream.wait_for_more(30, what="snapshots accepted after B left")
        wait_for(
            lambda: stored(url) == len(stream.ids) and group_caught_up(env, partitions=6),
            timeout_s=90,
            what="every accepted snapshot stored",
        )
    finally:
        rc_a = terminate(a)
        if b is not None and b.poll() is None:
            b.kill()
    assert rc_a == 0, log_a.read_text()[-3000:]
    assert_each_snapshot_once(url, stream.ids)
