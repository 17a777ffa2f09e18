"""The spool's grace window: an acknowledged snapshot stays in ``sent/`` for a while, and when
another api takes over (a failover to the standby site) the window is posted there again, since
the old site may have died before mirroring what it acknowledged. Re-sending stores nothing twice."""

from __future__ import annotations

import inspect
import json
import os
import time
from pathlib import Path

import httpx

from dream.cli.collect import collect_command
from dream.collector import Collector, RunReport, Sender, parse_interval
from dream.spool import Spool
from helpers import Scripted, ScriptedPeer, wait_for
from served import serve
from test_collector import LINUX, collect, stored


def _put(spool: Spool, n: int) -> Path:
    return spool.put({"snapshot_id": f"00000000-0000-0000-0000-00000000000{n}",
                      "collected_at": f"2026-11-27T10:0{n}:00+00:00"})  # fmt: skip


def test_the_window_is_kept_then_forgotten_and_resent_only_to_another_api(tmp_path: Path) -> None:
    spool = Spool(tmp_path, grace_s=600)
    resent: list[bytes] = []

    def resend(data: bytes) -> bool:
        resent.append(data)
        return True

    first, second, third = (_put(spool, n) for n in (1, 2, 3))
    assert spool.acknowledged(first, "http://a", resend)
    assert spool.acknowledged(second, "http://a", resend)
    assert resent == [] and spool.pending() == [third]
    assert [p.name for p in spool.window()] == [first.name, second.name]
    assert spool.acknowledging_api() == "http://a"
    # Acknowledged longer ago than the grace window: forgotten.
    old = time.time() - 601
    os.utime(spool.sent / first.name, (old, old))
    assert [p.name for p in spool.window()] == [second.name]
    assert not (spool.sent / first.name).exists()
    # Another api acknowledges: what the window holds goes to it first.
    assert spool.acknowledged(third, "http://b", resend)
    assert [json.loads(d)["snapshot_id"][-1] for d in resent] == ["2"]
    assert spool.acknowledging_api() == "http://b"
    assert [p.name for p in spool.window()] == [second.name, third.name]


def test_a_resend_that_cannot_go_leaves_everything_as_it_was(tmp_path: Path) -> None:
    spool = Spool(tmp_path, grace_s=600)
    first, second = _put(spool, 1), _put(spool, 2)
    assert spool.acknowledged(first, "http://a", lambda _data: True)
    assert not spool.acknowledged(second, "http://b", lambda _data: False)
    assert spool.pending() == [second] and spool.acknowledging_api() == "http://a"
    assert [p.name for p in spool.window()] == [first.name]


def test_the_default_window_is_half_an_hour(tmp_path: Path) -> None:
    """Longer than a mirror's worst lag; `dream collect --grace` defaults to the same."""
    spool = Spool(tmp_path)
    for n, minutes in ((1, 31), (2, 29)):
        path = _put(spool, n)
        assert spool.acknowledged(path, "http://a", lambda _data: True)
        at = time.time() - minutes * 60
        os.utime(spool.sent / path.name, (at, at))
    assert [json.loads(p.read_bytes())["snapshot_id"][-1] for p in spool.window()] == ["2"]
    grace = inspect.signature(collect_command).parameters["grace"].default
    assert parse_interval(grace) == spool.grace_s


def test_no_grace_window_deletes_at_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, grace_s=0)
    first = _put(spool, 1)
    assert spool.acknowledged(first, "http://a", lambda _data: True)
    assert spool.pending() == [] and spool.window() == []


def _snapshots_of(url: str, host: str) -> int:
    items = httpx.get(f"{url}/v1/analytics/breakdown",
                      params={"by": "host", "host": host, "metric": "snapshots",
                              "include_system": "true"}, timeout=10).json()["items"]  # fmt: skip
    return sum(item["snapshots"] for item in items)


@LINUX
def test_dream_collect_fails_over_and_resends_what_the_dead_site_acknowledged(
    tmp_path: Path,
) -> None:
    """Site A acknowledges three snapshots and dies before anything reaches B (two separate
    Dreams here, nothing mirrored at all): the next run, given both urls, stores the three in B
    too, once each, and a further run re-sends nothing."""
    spool = tmp_path / "spool"
    with serve(tmp_path / "site-b") as b:
        with serve(tmp_path / "site-a") as a:
            ids = []
            for _ in range(3):
                done = collect(a.url, spool)
                assert done.returncode == 0, done.stderr
                ids.append(json.loads(done.stdout)["snapshot_id"])
        assert a.process.poll() is not None  # site A is gone
        done = collect(a.url, spool, "--url", b.url, "--retries", "0")
        assert done.returncode == 0, done.stderr
        ids.append(json.loads(done.stdout)["snapshot_id"])
        for sid in ids:
            wait_for(lambda sid=sid: stored(b.url, sid), what=f"{sid} stored in site B")
        assert _snapshots_of(b.url, "collector-test") == 4
        # B acknowledged the window now: another run sends only its own snapshot.
        done = collect(a.url, spool, "--url", b.url, "--retries", "0")
        assert done.returncode == 0, done.stderr
        sid = json.loads(done.stdout)["snapshot_id"]
        wait_for(lambda: stored(b.url, sid), what="the fifth snapshot stored")
        assert _snapshots_of(b.url, "collector-test") == 5
        assert len(list((spool / "sent").glob("*.json"))) == 5


def test_a_new_run_starts_with_the_api_that_answered_the_last_one(tmp_path: Path) -> None:
    """Each `--once` run is a new process: the api that acknowledged last (sent/api.txt) is
    tried first, not the first --url (which would also get the whole window re-sent)."""
    spool = Spool(tmp_path, grace_s=600)

    def run(a: str, b: str) -> RunReport:
        sender = Sender(a, fallback_urls=(b,), retries=0)
        return Collector(sender, spool, user="u", faculty="f", host="h", os_name="linux",
                         listing=lambda _os: ("ps", "PID\n1\n"), log=lambda _: None).run_once()  # fmt: skip

    accepted: list[Scripted | None] = [(202, {}, {"snapshot_id": f"s{n}"}) for n in range(3)]
    with ScriptedPeer(accepted) as a, ScriptedPeer(accepted) as b:
        spool.acknowledged(_put(spool, 1), b.url, lambda _data: True)  # an earlier run's
        assert run(a.url, b.url).sent == ["s0"]
        assert run(a.url, b.url).sent == ["s1"]
    assert a.received == [] and len(b.received) == 2
    assert spool.acknowledging_api() == b.url
