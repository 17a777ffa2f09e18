"""The api while the broker goes away and comes back, and the api's own graceful shutdown.

Real `dream api` processes (uvicorn) against a real broker; a real worker afterwards proves
that every 202 reached the database exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from faults import (
    assert_each_snapshot_once,
    dream_env,
    group_caught_up,
    spawn,
    start_api,
    stored,
    terminate,
)
from helpers import live_ps_aux, snapshot_body, wait_for

PRODUCE_TIMEOUT_S = 3.0


class Posters:
    """Threads posting snapshots non-stop, recording (phase, status, detail, id, retry-after)."""

    def __init__(self, base: str, threads: int = 6) -> None:
        self.base = base
        self.output = live_ps_aux()
        self.phase = "before"
        self.results: list[tuple[str, int | str, str, str, str | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Posters:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                body = snapshot_body(self.output, host=f"lab-{n:02d}-{i % 5}")
                phase, detail, retry_after = self.phase, "", None
                try:
                    r = client.post("/v1/snapshots", json=body)
                    status: int | str = r.status_code
                    retry_after = r.headers.get("retry-after")
                    if status != 202:
                        detail = str(r.json().get("detail", ""))
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with self._lock:
                    self.results.append((phase, status, detail, body["snapshot_id"], retry_after))
                if status != 202:
                    time.sleep(0.05)  # a collector's pause before trying again, not a wait

    def ids(self, where: Callable[[int | str], bool]) -> set[str]:
        with self._lock:
            return {r[3] for r in self.results if where(r[1])}

    def count(self, phase: str, status: int | str) -> int:
        with self._lock:
            return sum(1 for r in self.results if r[0] == phase and r[1] == status)


def _summary(results: list) -> None:
    """Per phase: how many of each answer, and why (shown with ``pytest -s``)."""
    phases: dict[str, Counter[str]] = {}
    for phase, status, detail, _, _ in results:
        phases.setdefault(phase, Counter())[f"{status} {detail.split(';')[0]}".strip()] += 1
    for phase, answers in phases.items():
        print(phase, dict(answers))


# Why a 503 may come, none after waiting longer than the produce timeout: refused without
# trying (the circuit is open, too many posts in flight), refused by the producer at once (its
# queue is full, it could not produce), or given up when the broker did not acknowledge within
# the produce timeout.
REFUSED_WITHOUT_TRYING = ("kafka unavailable (", "requests in flight")
BOUNDED = (*REFUSED_WITHOUT_TRYING, "producer queue is full", "could not produce",
           "did not acknowledge")  # fmt: skip


def _readyz(base: str) -> tuple[int, dict]:
    r = httpx.get(f"{base}/readyz", timeout=10)
    return r.status_code, r.json()


def _circuit_open(base: str) -> tuple[int, dict] | None:
    """The readiness answer once the api's circuit to the broker is no longer closed."""
    status, body = _readyz(base)
    return (status, body) if body["checks"]["pipeline"]["detail"].startswith("circuit") else None


def test_broker_stopped_while_posting_gives_fast_503s_and_recovers_without_restart(
    own_kafka, database_url: str, logs_dir: Path
) -> None:
    env = dream_env(
        database_url,
        own_kafka.bootstrap,
        DREAM_KAFKA_PRODUCE_TIMEOUT_S=PRODUCE_TIMEOUT_S,
        DREAM_BREAKER_RESET_S=1,
        DREAM_BREAKER_FAILURES=3,
        DREAM_MAX_IN_FLIGHT=64,
    )
    api, base = start_api(env, logs_dir / "api.log")
    try:
        with Posters(base) as posters:
            wait_for(lambda: posters.count("before", 202) >= 20, timeout_s=20,
                     what="20 snapshots accepted before the broker stops")  # fmt: skip

            posters.phase = "down"
            own_kafka.stop()
            status, body = wait_for(lambda: _circuit_open(base), timeout_s=4 * PRODUCE_TIMEOUT_S,
                                    what="the circuit to open once produces time out")  # fmt: skip
            assert status == 503, body
            assert body["checks"]["pipeline"]["ok"] is False
            posters.phase = "open"
            wait_for(lambda: posters.count("open", 503) >= 20, timeout_s=20,
                     what="20 posts refused while the circuit is open")  # fmt: skip

            posters.phase = "restarted"
            own_kafka.restart()
            wait_for(lambda: posters.count("restarted", 202), timeout_s=60,
                     what="a 202 after the broker restarted")  # fmt: skip
            posters.phase = "after"
            wait_for(lambda: posters.count("after", 202) >= 20, timeout_s=20,
                     what="20 snapshots accepted after recovery")  # fmt: skip
        status, body = _readyz(base)
        assert status == 200, body
    finally:
        assert terminate(api) == 0

    results = posters.results
    _summary(results)
    statuses = {r[1] for r in results}
    assert statuses <= {202, 503}, f"unexpected answers: {statuses - {202, 503}}"
    # No request hung: each 503 was refused at once or given up at the produce timeout.
    reasons = {r[2] for r in results if r[1] == 503}
    assert all(any(why in d for why in BOUNDED) for d in reasons), reasons
    refused = [r for r in results if r[1] == 503]
    assert refused and all(r[4] is not None and int(r[4]) >= 1 for r in refused)
    # Once the circuit is open, refusals are immediate (no waiting on a dead broker).
    open_refusals = [r[2] for r in results if r[0] == "open" and r[1] == 503]
    assert open_refusals, "no request was refused while the broker was down"
    assert all(any(why in d for why in REFUSED_WITHOUT_TRYING) for d in open_refusals), set(
        open_refusals)  # fmt: skip
    assert not [r for r in results if r[0] == "open" and r[1] == 202]

    # Every 202 reaches the database exactly once (a 503 may or may not have reached the broker).
    accepted = posters.ids(lambda s: s == 202)
    worker = spawn(["worker"], env, logs_dir / "worker.log")
    try:
        wait_for(
            lambda: stored(database_url) >= len(accepted) and group_caught_up(env),
            timeout_s=90,
            what="every accepted snapshot stored",
        )
    finally:
        assert terminate(worker) == 0
    assert_each_snapshot_once(database_url, accepted, may_also=posters.ids(lambda s: s == 503))


def test_api_sigterm_finishes_requests_in_progress_and_flushes(
    kafka_bootstrap: str, database_url: str, logs_dir: Path
) -> None:
    env = dream_env(database_url, kafka_bootstrap)
    api, base = start_api(env, logs_dir / "api.log")
    with Posters(base) as posters:
        wait_for(lambda: posters.count("before", 202) >= 20, timeout_s=20,
                 what="20 snapshots accepted, more being posted")  # fmt: skip
        api.terminate()
        rc = api.wait(timeout=40)  # a deadline: past it, TimeoutExpired fails the test
    assert rc == 0
    statuses = {r[1] for r in posters.results}
    # Requests either completed (202), or found the door closed (connection refused/reset).
    assert 500 not in statuses and statuses - {202, 503} <= {
        "ConnectError", "RemoteProtocolError", "ReadError",
    }, statuses  # fmt: skip

    accepted = posters.ids(lambda s: s == 202)
    worker = spawn(["worker"], env, logs_dir / "worker.log")
    try:
        wait_for(
            lambda: stored(database_url) >= len(accepted) and group_caught_up(env),
            timeout_s=90,
            what="every accepted snapshot stored",
        )
    finally:
        assert terminate(worker) == 0
    # Ids whose answer was lost with the connection may have been produced; 202s all were.
    assert_each_snapshot_once(database_url, accepted, may_also=posters.ids(lambda s: s != 202))


def test_snapshot_over_the_message_limit_is_413_and_does_not_open_the_circuit(
    kafka_bootstrap: str, database_url: str, kafka_names: dict, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from dream.app import Dream
    from dream.web.app import create_app
    from dream.settings import Settings

    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_max_message_bytes=1024 * 1024,
        # Outputs up to 4 MiB travel inline (no claim check: only without PII scrubbing), so
        # this one meets the broker's limit rather than going to the blob store.
        inline_max_bytes=4 * 1024 * 1024,
        pii_mode="off",
        breaker_failures=2,
        data_dir=tmp_path,
        **kafka_names,
    )
    dream = Dream(settings).open()
    publisher = dream.publisher()
    huge = "x" * (1024 * 1024 + 1)  # within DREAM_MAX_SNAPSHOT_BYTES, over the broker's limit
    with TestClient(create_app(dream, publisher=publisher)) as api:
        for _ in range(3):
            r = api.post("/v1/snapshots", json=snapshot_body(huge))
            assert r.status_code == 413, r.text
        assert publisher.breaker.state == "closed"  # the client's fault, not the broker's
        assert api.post("/v1/snapshots", json=snapshot_body(live_ps_aux())).status_code == 202
    dream.close()
