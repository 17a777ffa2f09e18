"""`dream collect`: the listing matches /proc, retries and backoff, the spool and its draining."""

from __future__ import annotations

import http.server
import json
import os
import secrets
import stat
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

import services
from dream.app import Dream
from dream.collector import (
    LINUX_COMMAND, Collector, Rejected, Sender, Spool, Unreachable, parse_interval, run_listing,
)  # fmt: skip
from dream.parsing import parse
from dream.sender import Misconfigured
from dream.settings import Settings
from helpers import ScriptedPeer, Scripted, live_api_of, live_ps_aux, snapshot_body, wait_for
from served import dream_env, serve

LINUX = pytest.mark.skipif(
    sys.platform != "linux" or not Path("/proc/self/stat").exists(), reason="needs Linux /proc"
)


class Api(NamedTuple):
    url: str
    key: str  # an `ingest` key's secret


def proc_count() -> int:
    return sum(entry.isdigit() for entry in os.listdir("/proc"))


def collect(url: str, spool: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dream", "collect", "--once", "--url", url, "--faculty",
         "engineering", "--user", "tester", "--host", "collector-test", "--spool-dir",
         str(spool), *extra],
        env=dream_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def stored(url: str, snapshot_id: str,
           headers: dict[str, str] | None = None) -> dict[str, Any] | None:  # fmt: skip
    state = httpx.get(f"{url}/v1/snapshots/{snapshot_id}", headers=headers, timeout=5).json()
    return state if state.get("status") not in (None, "pending") else None


# ---------------------------------------------------------------------- units


def test_intervals() -> None:
    assert parse_interval("5m") == 300
    assert parse_interval("90") == 90
    assert parse_interval("1h30m") == 5400
    assert parse_interval("30s") == 30
    for bad in ("", "5x", "m", "0", "-5m"):
        with pytest.raises(ValueError):
            parse_interval(bad)


@LINUX
def test_linux_command_parses_exactly_with_its_keyword_list() -> None:
    command, output = run_listing("linux")
    assert command == " ".join(LINUX_COMMAND)
    result = parse(output, os="linux", command=command)
    assert result.format == "ps-custom" and result.warnings == []
    me = next(p for p in result.processes if p.pid == os.getpid())
    assert me.ppid == os.getppid() and me.rss_kb and me.threads and me.started
    assert me.cpu_percent is not None and me.vsz_kb and me.command and me.app


def test_spool_is_atomic_and_ordered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    later = spool.put({"snapshot_id": "00000000-0000-0000-0000-000000000002",
                       "collected_at": "2026-11-27T10:00:00+00:00"})  # fmt: skip
    earlier = spool.put({"snapshot_id": "00000000-0000-0000-0000-000000000001",
                         "collected_at": "2026-11-27T09:59:59.5+00:00"})  # fmt: skip
    (tmp_path / "spool" / ".partial.tmp").write_text("{")  # a crash mid-write leaves only this
    assert spool.pending() == [earlier, later]
    assert json.loads(later.read_text())["snapshot_id"].endswith("2")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_spool_is_readable_by_its_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    """Spooled listings name users and their files: directory 0700, files 0600, even under a
    umask of 0 and in an existing world-readable --spool-dir."""
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o777)
    os.chmod(directory, 0o777)
    previous = os.umask(0)
    try:
        spool = Spool(directory)
        path = spool.put({"snapshot_id": "00000000-0000-0000-0000-000000000001",
                          "collected_at": "2026-11-27T10:00:00+00:00"})  # fmt: skip
        rejected = spool.reject(path, "422: bad")
    finally:
        os.umask(previous)

    def mode(p: Path) -> int:
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(directory) == 0o700 and mode(spool.rejected) == 0o700
    assert mode(rejected) == 0o600 and mode(rejected.with_suffix(".reason.txt")) == 0o600


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The real api on a real socket, wanting keys (direct pipeline, no worker: the 202 is the
    hand-over), shared by this module's sender tests; its body limit is 64 KiB."""
    dream = Dream(Settings(database_url=module_database_url, auth="on", max_snapshot_bytes=65536,
                           data_dir=tmp_path_factory.mktemp("collector-api"))).open()  # fmt: skip
    key = dream.keys.create("collector", "ingest").secret
    try:
        for url in live_api_of(dream):
            yield Api(url, key)
    finally:
        dream.close()


def test_sender_retries_with_backoff_and_sends_the_key() -> None:
    sleeps: list[float] = []
    script: list[Scripted | None] = [
        None,  # the connection closes without an answer
        (503, {"Retry-After": "7"}, {"detail": "down"}),
        (202, {}, {"snapshot_id": "abc", "status": "accepted"}),
    ]
    with ScriptedPeer(script) as peer:
        sender = Sender(peer.url, key="k1", retries=3, backoff_s=1.0, sleep=sleeps.append)
        assert sender.post(b'{"x": 1}') == "abc"
        sender.close()
    seen = peer.received
    assert len(seen) == 3 and all(r[2]["Authorization"] == "Bearer k1" for r in seen)
    assert all(r[:2] == ("POST", "/v1/snapshots") and r[3] == b'{"x": 1}' for r in seen)
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0  # first backoff, with jitter
    assert sleeps[1] >= 7  # Retry-After honoured


def test_sender_gives_up_or_refuses(api: Api) -> None:
    sleeps: list[float] = []
    down = Sender(f"http://127.0.0.1:{services.free_port()}", retries=2, sleep=sleeps.append)
    with pytest.raises(Unreachable, match="ConnectError"):  # nothing listens on the port
        down.post(b"{}")
    assert len(sleeps) == 2  # retried twice, then gave up
    with pytest.raises(Misconfigured, match="401"):  # a key to fix: not retried
        Sender(api.url, key="dream_wrong", retries=2, sleep=sleeps.append).post(b"{}")
    assert len(sleeps) == 2
    sender = Sender(api.url, key=api.key, retries=2, sleep=sleeps.append)
    with pytest.raises(Rejected, match="422"):
        sender.post(b"{}")
    with pytest.raises(Rejected, match="413"):
        sender.post(json.dumps(snapshot_body("x" * 70_000)).encode())
    assert len(sleeps) == 2  # refused for good: not retried either


def test_a_certificate_that_does_not_verify_is_a_configuration_problem(tmp_path: Path) -> None:
    """A real TLS server with a self-signed certificate: not downtime to wait out (exit 4)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = Sender(f"https://127.0.0.1:{server.server_port}", retries=2, sleep=lambda _: None)
        with pytest.raises(Misconfigured, match="CERTIFICATE_VERIFY_FAILED"):
            sender.post(b"{}")
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_snapshot_moves_aside_and_the_queue_goes_on(tmp_path: Path, api: Api) -> None:
    sender = Sender(api.url, key=api.key, sleep=lambda _: None)
    spool = Spool(tmp_path)
    earlier = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    spool.put({"snapshot_id": str(uuid.uuid4()), "collected_at": earlier})  # no host: a 422
    second = snapshot_body(live_ps_aux())
    spool.put(second)
    collector = Collector(sender, spool, user="u", faculty="f", host="h", os_name="linux",
                          log=lambda _: None)  # fmt: skip
    report = collector.drain()
    assert report.sent == [second["snapshot_id"]]
    assert len(report.rejected) == 1
    assert spool.pending() == [] and len(list(spool.rejected.glob("*.json"))) == 1
    assert "422" in next(spool.rejected.glob("*.reason.txt")).read_text()


# ---------------------------------------------------------------------- against dream serve


@LINUX
def test_collect_once_stores_what_proc_shows(tmp_path: Path) -> None:
    """One `dream collect --once`: the stored process count is /proc's at that moment, and the
    executables' facts are the real files'. A refused key first: exit 4, not 3.

    /proc is counted just before and just after the collector runs. Between the two, processes
    may start or end (the collector's own `ps` child is one that exists only in between), so the
    stored count must lie within [min - 3, max + 3] of the two counts: 3 allows for `ps` itself
    and a few short-lived processes (e.g. the embedded PostgreSQL's backends for the post).
    """
    good, wrong = (f"dream_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:43]}" for _ in "12")
    with serve(tmp_path / "data", DREAM_AUTH="on", DREAM_BOOTSTRAP_ADMIN_KEY=good) as served:
        spool = tmp_path / "spool"
        refused = collect(served.url, spool, "--key", wrong)
        # A key to fix is not downtime: a timer that counts 3 (spooled) as success fails on 4.
        assert refused.returncode == 4, refused.stdout + refused.stderr
        first = json.loads(refused.stdout)
        assert "401" in first["error"] and first["spooled"] == 1  # kept, not lost
        before = proc_count()
        done = collect(served.url, spool, "--key", good)
        after = proc_count()
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["sent"] == [first["snapshot_id"], report["snapshot_id"]]
        assert report["spooled"] == 0
        auth = {"Authorization": f"Bearer {good}"}
        sid = report["snapshot_id"]
        state = wait_for(lambda: stored(served.url, sid, auth), what="the snapshot")
        assert state["status"] == "stored", state
        assert state["format"] == "ps-custom" and state["warnings"] == []
        low, high = min(before, after) - 3, max(before, after) + 3
        assert low <= state["process_count"] <= high, (state["process_count"], before, after)
        assert state["os"] == "linux" and state["host"] == "collector-test"
        assert state["faculty"] == "engineering"
        assert list(spool.glob("*.json")) == []  # sent, so nothing waits
        files = httpx.get(f"{served.url}/v1/analytics/executables", headers=auth, timeout=30,
                          params={"host": "collector-test", "include_system": "true",
                                  "limit": 10_000}).json()["items"]  # fmt: skip
    # The collector's own file (the Python running it, its /proc/PID/exe), at its real size.
    python = os.path.realpath(sys.executable)
    assert [f["size_bytes"] for f in files if f["path"] == python] == [os.stat(python).st_size]


def test_a_host_name_that_does_not_resolve_exits_4(tmp_path: Path) -> None:
    done = collect("http://dream-collect-test.invalid", tmp_path / "spool", "--retries", "0",
                   "--no-executables")  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["spooled"] == 1 and report["error"]
    assert "executables" not in json.loads(next((tmp_path / "spool").glob("*.json")).read_text())


@LINUX
def test_spools_while_the_api_is_down_and_drains_when_it_returns(tmp_path: Path) -> None:
    port = services.free_port()
    url = f"http://127.0.0.1:{port}"
    spool = tmp_path / "spool"
    ids = []
    for _ in range(2):  # nothing listens on the port: both snapshots wait on disk
        done = collect(url, spool, "--retries", "1", "--timeout", "2")
        assert done.returncode == 3, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["sent"] == [] and report["error"]
        ids.append(report["snapshot_id"])
        time.sleep(0.01)  # the clock passes: each snapshot's collected_at (the spool order) differs
    files = sorted(spool.glob("*.json"))
    assert [json.loads(f.read_text())["snapshot_id"] for f in files] == ids  # oldest first
    assert report["spooled"] == 2
    first_spooled = files[0].read_bytes()

    with serve(tmp_path / "data", port=port) as served:
        done = collect(served.url, spool)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["sent"] == [*ids, report["snapshot_id"]]  # the spool first, in order
        assert list(spool.glob("*.json")) == []
        all_ids = report["sent"]
        for sid in all_ids:
            state = wait_for(lambda sid=sid: stored(served.url, sid), what=f"snapshot {sid}")
            assert state["status"] == "stored" and state["process_count"] > 10
        # Posting a spooled file again (a lost answer, a crash before deleting it) stores nothing
        # new: each snapshot is stored exactly once.
        assert httpx.post(f"{served.url}/v1/snapshots", content=first_spooled,
                          headers={"Content-Type": "application/json"}).status_code == 202  # fmt: skip
        # The queue is read oldest first: once a snapshot posted after it is stored, the
        # duplicate has been dealt with too.
        marker = {**json.loads(first_spooled), "snapshot_id": str(uuid.uuid4()), "host": "marker"}
        assert httpx.post(f"{served.url}/v1/snapshots", json=marker).status_code == 202
        wait_for(lambda: stored(served.url, marker["snapshot_id"]), what="the later snapshot stored")
        counts = httpx.get(f"{served.url}/v1/analytics/breakdown",
                           params={"by": "host", "host": "collector-test", "metric": "snapshots",
                                   "include_system": "true"}).json()["items"]  # fmt: skip
        assert [(c["host"], c["snapshots"]) for c in counts] == [("collector-test", 3)]


def test_each_snapshot_says_the_collectors_interval(tmp_path: Path) -> None:
    def collector(interval_s: float | None) -> Collector:
        return Collector(sender=Sender(url="http://127.0.0.1:9"), spool=Spool(tmp_path),
                         user="jdoe", faculty="law", listing=lambda _os: ("ps", "PID\n"),
                         interval_s=interval_s)  # fmt: skip

    assert collector(90.0).snapshot()["interval_s"] == 90.0
    assert "interval_s" not in collector(None).snapshot()
