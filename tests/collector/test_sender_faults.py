"""The sender against apis that misbehave: a 202 that is not Dream's answer, a body trickled
byte by byte; and the daemon going on after a run that failed in an unexpected way."""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dream.collector import Collector, Sender, Spool, Unreachable
from helpers import Scripted, ScriptedPeer, snapshot_body, wait_for
from served import dream_env
from test_collector import LINUX, collect

Answer = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def raw_peer(answer: Answer) -> Iterator[str]:
    """A real HTTP server (threads, one per connection) whose every POST ``answer`` writes by
    hand: bodies no well-behaved api sends. Yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer(self)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def body_202(content_type: str, body: bytes) -> Answer:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(202)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


NOT_DREAMS = {
    "html": body_202("text/html", b"<html><body>Accepted by the proxy</body></html>"),
    "json without an id": body_202("application/json", b'{"status": "accepted"}'),
    "a json list": body_202("application/json", b'["snapshot_id"]'),
    "an empty id": body_202("application/json", b'{"snapshot_id": ""}'),
}


@pytest.mark.parametrize("kind", NOT_DREAMS)
def test_a_202_that_is_not_dreams_answer_is_a_transient_failure(kind: str) -> None:
    sleeps: list[float] = []
    with raw_peer(NOT_DREAMS[kind]) as url:
        sender = Sender(url, retries=1, sleep=sleeps.append)
        with pytest.raises(Unreachable, match="202 without a snapshot_id"):
            sender.post(json.dumps(snapshot_body("PID\n")).encode())
        sender.close()
    assert len(sleeps) == 1  # retried as a transient failure, then given up


@LINUX
def test_dream_collect_keeps_the_snapshot_when_a_202_is_not_dreams_answer(tmp_path: Path) -> None:
    with raw_peer(NOT_DREAMS["html"]) as url:
        done = collect(url, tmp_path / "spool", "--retries", "0", "--no-executables")
    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["spooled"] == 1 and "202 without a snapshot_id" in report["error"]
    assert "Traceback" not in done.stderr
    (waiting,) = (tmp_path / "spool").glob("*.json")
    assert json.loads(waiting.read_text())["snapshot_id"] == report["snapshot_id"]


def test_the_daemon_goes_on_after_a_run_that_failed_unexpectedly(tmp_path: Path) -> None:
    stop, runs, logged = threading.Event(), [], []

    def listing(_os: str) -> tuple[str, str]:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("a bug in this run")
        stop.set()  # the second run happened: the daemon survived the first
        return "ps", "PID\n1\n"

    with raw_peer(body_202("application/json", b'{"snapshot_id": "s1"}')) as url:
        collector = Collector(Sender(url, retries=0), Spool(tmp_path), user="u", faculty="f",
                              host="h", os_name="linux", listing=listing,
                              log=logged.append)  # fmt: skip
        collector.run_forever(0.01, stop)
    assert len(runs) == 2
    assert any("unexpected RuntimeError" in m and "a bug in this run" in m for m in logged)
    assert logged[-1] == "sent 1 snapshot(s)"


@LINUX
def test_sigterm_ends_the_daemons_wait_between_retries(tmp_path: Path) -> None:
    """The api answers 503 with Retry-After: 60 and three retries are allowed (3 minutes of
    waiting, past systemd's 90 s stop timeout): SIGTERM ends the wait at once, and the
    snapshot stays spooled for the next start."""
    script: list[Scripted | None] = [(503, {"Retry-After": "60"}, {"detail": "busy"})] * 8
    spool = tmp_path / "spool"
    with ScriptedPeer(script) as peer:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "dream", "collect", "--interval", "1h", "--url", peer.url,
             "--faculty", "law", "--user", "u", "--spool-dir", str(spool), "--no-executables"],
            env=dream_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: peer.received, what="the daemon's first post")
            daemon.send_signal(signal.SIGTERM)
            stopped_at = time.monotonic()
            _, stderr = daemon.communicate(timeout=30)
        finally:
            daemon.kill()
    assert time.monotonic() - stopped_at < 15, "SIGTERM waited out the backoff"
    assert daemon.returncode == 0, stderr
    assert "stopped while waiting to retry" in stderr and len(peer.received) == 1
    assert len(list(spool.glob("*.json"))) == 1


def test_a_set_stop_ends_the_senders_wait(tmp_path: Path) -> None:
    stop = threading.Event()
    script: list[Scripted | None] = [(503, {"Retry-After": "60"}, {"detail": "busy"})] * 4
    with ScriptedPeer(script) as peer:
        sender = Sender(peer.url, retries=3, stop=stop)
        timer = threading.Timer(0.2, stop.set)  # a SIGTERM while the sender waits to retry
        timer.start()
        started = time.monotonic()
        with pytest.raises(Unreachable, match="stopped while waiting to retry"):
            sender.post(b"{}")
        sender.close()
    assert time.monotonic() - started < 10 and len(peer.received) == 1


def trickle(head: bytes, slow: bytes, gone: threading.Event) -> Answer:
    """Writes ``head``, then ``slow`` a byte every 0.2 s: each read finds data well within any
    per-read timeout, the whole never comes in time. Ends when the client hangs up."""

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(head)
            for byte in slow:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                if gone.wait(0.2):
                    return
        except OSError:
            return

    return answer


ANSWER = b'{"snapshot_id": "s"}' + b" " * 80
HEAD = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(ANSWER)).encode() + b"\r\n\r\n")  # fmt: skip
TRICKLED = {"body": (HEAD, ANSWER), "headers": (b"", HEAD + ANSWER)}


@pytest.mark.parametrize("part", TRICKLED)
def test_the_timeout_bounds_the_whole_request(part: str) -> None:
    gone = threading.Event()
    with raw_peer(trickle(*TRICKLED[part], gone)) as url:
        sender = Sender(url, retries=0, timeout_s=1.0)
        started = time.monotonic()
        try:
            with pytest.raises(Unreachable, match="no whole answer within 1s"):
                sender.post(b"{}")
        finally:
            gone.set()
            sender.close()
    assert time.monotonic() - started < 5  # 1 s, not the 20 s or more the trickle takes
