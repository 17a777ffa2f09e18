"""The spool's bound (`--spool-max-bytes`, as the Go agent's): a machine that cannot reach an api
for weeks deletes its oldest unsent snapshots rather than fill its disk, counts them, and tells
the api with each later snapshot (`spool_evicted`, shown per host by `GET /v1/hosts`)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

import services
from dream.collector import Collector, Sender
from dream.spool import Spool
from helpers import Scripted, ScriptedPeer, wait_for
from served import serve
from test_collector import LINUX, collect


def _put(spool: Spool, n: int, pad: int = 1000) -> Path:
    return spool.put({"snapshot_id": f"00000000-0000-0000-0000-00000000000{n}",
                      "collected_at": f"2026-11-27T10:0{n}:00+00:00", "output": "x" * pad})  # fmt: skip


def test_a_full_spool_evicts_its_oldest_waiting_snapshots_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, grace_s=600, max_bytes=0)
    first = _put(spool, 1)
    size = first.stat().st_size  # every body below is this size
    heard = spool.reject(_put(spool, 0), "422: bad")  # an api heard these: not the spool's to evict
    spool.acknowledged(_put(spool, 9), "http://a", lambda _: True)
    assert spool.evict(keep=first) == 0 and spool.evicted() == 0  # 0: unbounded

    spool.max_bytes = 2 * size + size // 2  # room for two waiting snapshots
    evicted = []
    for n in range(2, 6):
        evicted.append(spool.evict(keep=_put(spool, n)))
    assert evicted == [0, 1, 1, 1]  # 2 fits beside 1; 1 went for 3, 2 for 4, 3 for 5
    assert [p.name[-7:-5] for p in spool.pending()] == ["04", "05"]  # the newest stay
    assert heard.exists() and len(spool.window()) == 1
    assert Spool(tmp_path).evicted() == 3  # kept on disk across runs

    # The snapshot just taken stays even when it alone is over the bound.
    spool.max_bytes = 1
    newest = _put(spool, 6, pad=5000)
    assert spool.evict(keep=newest) == 2 and spool.pending() == [newest]
    assert spool.evicted() == 5


@LINUX
def test_dream_collect_bounds_its_spool_and_the_fleet_hears_what_it_lost(tmp_path: Path) -> None:
    port = services.free_port()
    spool = tmp_path / "spool"
    # Nothing listens on the port; a bound of 1 byte keeps only the snapshot just taken.
    reports = []
    for _ in range(3):
        done = collect(f"http://127.0.0.1:{port}", spool, "--retries", "1", "--timeout", "2",
                       "--spool-max-bytes", "1")  # fmt: skip
        assert done.returncode == 3, done.stdout + done.stderr
        reports.append(json.loads(done.stdout))
    assert [(r["evicted"], r["evicted_total"], r["spooled"]) for r in reports] == [
        (0, 0, 1), (1, 1, 1), (1, 2, 1)]  # fmt: skip
    assert "evicted the 1 oldest snapshot(s)" in done.stderr
    waiting = [json.loads(p.read_text()) for p in sorted(spool.glob("*.json"))]
    assert [w["snapshot_id"] for w in waiting] == [reports[-1]["snapshot_id"]]
    assert waiting[0]["spool_evicted"] == 1  # what was lost before it was taken

    with serve(tmp_path / "data", port=port) as served:
        done = collect(served.url, spool)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["sent"] == [reports[-1]["snapshot_id"], report["snapshot_id"]]
        assert (report["evicted"], report["evicted_total"]) == (0, 2)

        def heard() -> dict | None:
            items = httpx.get(f"{served.url}/v1/hosts", timeout=5).json()["items"]
            host = next((h for h in items if h["host"] == "collector-test"), None)
            return host if host and host["snapshots_received"] == 2 else None

        host = wait_for(heard, what="the fleet's row of the collector's host")
        assert host["spool_evicted"] == 2 and host["agent"].startswith("dream-collect/")


def test_a_run_that_reaches_the_api_sends_what_waits_rather_than_evicting_it(
    tmp_path: Path,
) -> None:
    """The bound holds one snapshot: the one waiting from an earlier run and the new one are
    both sent, none evicted (the spool was over its bound only until the drain)."""
    spool = Spool(tmp_path / "spool")
    waiting = _put(spool, 1)
    spool.max_bytes = waiting.stat().st_size + 10
    script: list[Scripted | None] = [(202, {}, {"snapshot_id": f"sid-{n}"}) for n in (1, 2)]
    with ScriptedPeer(script) as peer:
        run = Collector(Sender(peer.url, retries=0), spool, user="u", faculty="f", host="h",
                        os_name="linux", listing=lambda _os: ("ps", "PID\n" + "1\n" * 600),
                        log=lambda _: None)  # fmt: skip
        report = run.run_once()
    posted = [json.loads(body)["snapshot_id"] for *_, body in peer.received]
    assert posted == ["00000000-0000-0000-0000-000000000001", report.collected]
    assert report.sent == ["sid-1", "sid-2"] and report.evicted == 0 and spool.evicted() == 0
    assert spool.pending() == []
