"""Helpers for tests: real listings, snapshot bodies, polling."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from dream.app import Dream
    from dream.settings import Settings

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail in CI, skip with the reason on a developer machine."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


# The shared corpus lives beside the repository (../shared) and is never copied into it.
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def shared_fixture(*parts: str) -> Path:
    """A file from ../shared/fixtures, or a skip naming what is missing."""
    path = SHARED.joinpath("fixtures", *parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared fixtures live beside the repository)")
    return path


def live_ps_aux() -> str:
    """``ps aux`` as this machine prints it now."""
    return subprocess.run(["ps", "aux"], capture_output=True, text=True, check=True).stdout


def snapshot_body(output: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "host": "eng-lab-04",
        "os": "linux",
        "os_version": "Debian 12",
        "user": "msmith",
        "faculty": "engineering",
        "collected_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "command": "ps aux",
        "output": output,
        "snapshot_id": str(uuid.uuid4()),
    }
    body.update(overrides)
    return body


def wait_for(check: Callable[[], T | None], timeout_s: float = 30.0, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy and return that; fail after
    ``timeout_s`` saying ``what`` did not happen. Tests wait on an observable event this way,
    never with a fixed sleep that is too short on a busy machine and too long on an idle one."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or check}")
        time.sleep(0.1)  # the polling interval, not a wait for anything


class FakeClock:
    """A monotonic clock moved by hand (``clock=`` of the breaker, limiter, key store, JWKS
    cache): time-dependent logic tested without waiting for time to pass."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def group_caught_up(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """The consumer group committed offsets up to the end of every partition of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        for tp in consumer.committed(parts, timeout=10):
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high > 0 and tp.offset < high:
                return False
        return True
    finally:
        consumer.close()


def listing_with_absurd_pid() -> str:
    """A real ``ps aux`` plus one row whose PID no PostgreSQL ``integer`` holds: it parses, the
    database refuses it, and the writer stores the rest with that row skipped."""
    output = live_ps_aux().rstrip("\n")
    return output + "\nroot  99999999999  0.0  0.1 167748 11200 ?  Ss  Nov27  0:03 /sbin/odd\n"


def listing_of_absurd_pids() -> str:
    """A ``ps aux`` whose every row has a PID no ``integer`` holds: it parses, no row of it can
    be stored, so the database refuses the snapshot whole (``storage/storable.py`` sets rows
    aside only when some remain)."""
    header = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"
    return (f"{header}\nroot  99999999999  0.0  0.1 167748 11200 ?  Ss  Nov27  0:03 /sbin/odd\n"
            "root  99999999998  0.0  0.1 167748 11200 ?  Ss  Nov27  0:03 /sbin/odder\n")


def listing_with_overlong_name() -> str:
    """A real ``ps aux`` plus one row whose program name is longer than a PostgreSQL index entry
    may be (4,000 random hex digits): it parses, the write of it fails however often it is
    tried, and the writer stores the rest with that row skipped."""
    name = secrets.token_hex(2000)  # random: no compression brings it under the limit
    output = live_ps_aux().rstrip("\n")
    return output + f"\nroot  4242  0.0  0.1 167748 11200 ?  Ss  Nov27  0:03 {name} --x\n"


def ps_aux_with_unreadable_lines(good: int, bad: int) -> str:
    """A ``ps aux`` of ``good`` readable rows, then ``bad`` lines too short to be a row (lines
    ``good + 2`` to ``good + bad + 1``): the parser must keep their numbers, not drop them."""
    header = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"
    rows = [f"msmith    {1000 + i:5d}  0.5  0.1 167748 11200 pts/0    S    10:00   0:03 "
            f"/usr/bin/python3 job{i}.py" for i in range(good)]  # fmt: skip
    return "\n".join([header, *rows, *(f"msmith {9000 + i} ?" for i in range(bad))]) + "\n"


def pipeline_settings(request: pytest.FixtureRequest, database_url: str,
                      tmp_path: Path) -> Settings:  # fmt: skip
    """Settings for the pipeline ``request.param`` names: "direct" or "kafka" (its own topics)."""
    from dream.settings import Settings

    kafka: dict[str, Any] = {}
    if request.param == "kafka":
        kafka = {"kafka_bootstrap": request.getfixturevalue("kafka_bootstrap"),
                 "kafka_partitions": 1, **request.getfixturevalue("kafka_names")}  # fmt: skip
    return Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05, **kafka)


@contextmanager
def direct_client(settings: Settings) -> Iterator[tuple[TestClient, Dream]]:
    """The api with the direct pipeline and a worker in a thread (the embedded shape)."""
    from fastapi.testclient import TestClient

    from dream.app import Dream

    dream = Dream(settings).open()
    try:
        with beside_a_worker(dream) as app, TestClient(app) as client:
            yield client, dream
    finally:
        dream.close()


@contextmanager
def beside_a_worker(dream: Dream) -> Iterator[FastAPI]:
    """The api with a worker running beside it, as `dream serve` runs them: the worker stops
    after the api (leave the api's TestClient first)."""
    from dream.web.app import create_app
    from dream.worker.thread import WorkerThread

    worker = dream.worker()
    with WorkerThread(worker):
        yield create_app(dream, publisher=dream.publisher(), progress=worker.progress)


def live_api_of(dream: Dream) -> Iterator[str]:
    """The api over ``dream`` served by uvicorn on a free port, for commands run against it."""
    import threading

    import httpx
    import uvicorn

    import services
    from dream.web.app import create_app

    port = services.free_port()
    app = create_app(dream, publisher=dream.publisher())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout_s=30, what="the api to answer")
    yield base
    server.should_exit = True
    thread.join(timeout=30)


Scripted = tuple[int, dict[str, str], Any]  # status, headers, JSON body (bytes: as they are)


class ScriptedPeer:
    """A real HTTP server on a real socket (stdlib, in a thread) answering each request with the
    next of a scripted list: a peer for failure injection. The real api cannot be made to answer
    a 503 with a chosen Retry-After, or a 500, at a chosen moment, nor to drop a connection
    mid-request; this peer can, while the client under test still goes through its real httpx
    client, socket, timeouts and headers. ``None`` in the script closes the connection without
    an answer. ``received`` keeps each request as (method, path, headers, body)."""

    def __init__(self, script: list[Scripted | None]) -> None:
        import http.server
        import json
        import threading

        self.script = list(script)
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                peer.received.append((self.command, self.path, dict(self.headers), body))
                if not peer.script:
                    status, headers, payload = 418, {}, {"detail": "the script has run out"}
                elif (next_answer := peer.script.pop(0)) is None:
                    self.close_connection = True  # nothing written: the peer went away
                    return
                else:
                    status, headers, payload = next_answer
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer

            def log_message(self, *_: Any) -> None:  # the test reads ``received`` instead
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedPeer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


MiB = 1024 * 1024


class PeakRss:
    """The highest RSS of a process while the ``with`` block runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        import psutil  # the tests that measure memory only

        self._process = psutil.Process(pid)
        self.start = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / MiB

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
