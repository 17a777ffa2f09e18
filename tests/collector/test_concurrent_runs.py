"""Two runs of `dream collect` at once (a slow cron run overlapping the next, a daemon beside
a manual --once) drain the same spool: a file the other run already moved is its business,
not a crash. Posting it twice is harmless (the api stores a snapshot_id once)."""

from __future__ import annotations

import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from dream.collector import Collector, RunReport, Sender, Spool
from helpers import snapshot_body
from test_sender_faults import Answer, body_202, raw_peer


def collector(spool: Spool, url: str) -> Collector:
    return Collector(Sender(url, retries=0), spool, user="u", faculty="f", host="h",
                     os_name="linux", log=lambda _: None)  # fmt: skip


def drain_twice_at_once(spool: Spool, url: str) -> list[RunReport | BaseException]:
    """Two collectors drain ``spool`` in two threads; each one's report or exception."""
    results: list[RunReport | BaseException] = []

    def run() -> None:
        try:
            results.append(collector(spool, url).drain())
        except BaseException as exc:  # the test reports what a run died of
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def both_in_flight(status: int, body: bytes) -> Answer:
    """An answer given only once both runs posted the same file: each then acts on it."""
    barrier = threading.Barrier(2, timeout=20)
    reply = body_202("application/json", body)

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        barrier.wait()
        if status == 202:
            reply(handler)
        else:
            handler.send_error(status, "refused")

    return answer


@pytest.mark.parametrize("grace_s", [600.0, 0.0])
def test_two_runs_acknowledging_the_same_file(tmp_path: Path, grace_s: float) -> None:
    spool = Spool(tmp_path, grace_s=grace_s)
    body = snapshot_body("PID\n1\n")
    spool.put(body)
    sid = json.dumps({"snapshot_id": body["snapshot_id"]}).encode()
    with raw_peer(both_in_flight(202, sid)) as url:
        results = drain_twice_at_once(spool, url)
    assert [r.sent for r in results if isinstance(r, RunReport)] == [[body["snapshot_id"]]] * 2
    assert spool.pending() == [] and len(spool.window()) == (1 if grace_s else 0)


def test_two_runs_setting_aside_the_same_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(snapshot_body("PID\n1\n"))
    with raw_peer(both_in_flight(422, b"")) as url:
        results = drain_twice_at_once(spool, url)
    assert [len(r.rejected) for r in results if isinstance(r, RunReport)] == [1, 1]
    assert spool.pending() == [] and len(list(spool.rejected.glob("*.json"))) == 1
    assert "422" in next(spool.rejected.glob("*.reason.txt")).read_text()


def test_a_file_the_other_run_took_before_this_one_read_it_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first, second = snapshot_body("PID\n1\n"), snapshot_body("PID\n2\n")
    first_path = spool.put(first)
    second_path = spool.put(second)
    assert spool.pending() == sorted([first_path, second_path])
    later = max(first_path, second_path)
    reply = body_202("application/json", b'{"snapshot_id": "s"}')

    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        os.unlink(later)  # meanwhile the other run sent the next file and forgot it
        reply(handler)

    with raw_peer(answer) as url:
        report = collector(spool, url).drain()
    assert report.sent == ["s"] and report.rejected == [] and spool.pending() == []
