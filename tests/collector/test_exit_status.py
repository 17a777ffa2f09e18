"""`dream collect --once`'s exit status says what became of the snapshot: 0 sent, 3 spooled for
a later run, 4 spooled but a configuration to fix, 5 refused by the api and kept in rejected/,
6 lost (neither sent nor spooled), 1 the listing command failed, 2 a bad option."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import services
from dream.collector import Collector, CollectorError, RunReport, Sender, Spool
from helpers import Scripted, ScriptedPeer, snapshot_body
from served import dream_env
from test_collector import LINUX, collect

REFUSED: Scripted = (422, {}, {"detail": "host: field required"})


def accepted(n: int = 1) -> list[Scripted | None]:
    return [(202, {}, {"snapshot_id": f"sid-{i}", "status": "accepted"}) for i in range(n)]


class FullSpool(Spool):
    """A spool on a full disk: nothing new can be written to it."""

    def put(self, body: dict[str, Any]) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")


def collector(spool: Spool, url: str) -> Collector:
    return Collector(Sender(url, retries=0, sleep=lambda _: None), spool, user="u", faculty="f",
                     host="h", os_name="linux", listing=lambda _os: ("ps", "PID\n1\n"),
                     log=lambda _: None)  # fmt: skip


def test_the_worst_outcome_of_a_run_decides_its_status() -> None:
    """6 > 1 > 4 > 5 > 3 > 0."""
    assert RunReport().exit_status() == 0
    assert RunReport(error="down").exit_status() == 3
    assert RunReport(error="down", rejected=["a.json"]).exit_status() == 5
    assert RunReport(error="401", misconfigured=True, rejected=["a.json"]).exit_status() == 4
    assert RunReport(error="401", misconfigured=True, lost=True).exit_status() == 6
    assert RunReport(listing_error="ps", error="401", misconfigured=True).exit_status() == 1
    assert RunReport(listing_error="ps", lost=True).exit_status() == 6


@LINUX
def test_a_snapshot_neither_spooled_nor_sent_is_lost_exit_6(tmp_path: Path) -> None:
    """The spool path is a file and nothing listens on the api's port: the snapshot exists
    nowhere, which exit 3 (spooled, fine for systemd) would have hidden."""
    spool = tmp_path / "spool"
    spool.write_text("not a directory")
    done = collect(f"http://127.0.0.1:{services.free_port()}", spool, "--retries", "0",
                   "--no-executables")  # fmt: skip
    assert done.returncode == 6, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["spooled"] == 0 and report["sent"] == [] and report["lost"] is True
    assert "ConnectError" in report["error"] and "snapshot lost" in done.stderr


@LINUX
def test_a_snapshot_refused_by_the_api_exits_5_and_is_kept(tmp_path: Path) -> None:
    with ScriptedPeer([REFUSED]) as peer:
        done = collect(peer.url, tmp_path / "spool", "--no-executables")
    assert done.returncode == 5, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert len(report["rejected"]) == 1 and report["sent"] == [] and report["error"] is None
    (kept,) = (tmp_path / "spool" / "rejected").glob("*.json")
    assert json.loads(kept.read_text())["snapshot_id"] == report["snapshot_id"]
    assert "422" in kept.with_suffix(".reason.txt").read_text()


def test_a_full_spool_sends_directly_and_keeps_a_refused_snapshot_in_rejected(
    tmp_path: Path,
) -> None:
    with ScriptedPeer(accepted()) as peer:
        report = collector(FullSpool(tmp_path / "spool"), peer.url).run_once()
    assert report.sent == ["sid-0"] and report.exit_status() == 0
    with ScriptedPeer([REFUSED]) as peer:
        report = collector(FullSpool(tmp_path / "spool"), peer.url).run_once()
    assert report.exit_status() == 5 and not report.lost
    (kept,) = (tmp_path / "spool" / "rejected").glob("*.json")
    assert kept.name == report.rejected[0]
    assert json.loads(kept.read_text())["snapshot_id"] == report.collected


def test_a_refused_snapshot_that_cannot_be_kept_is_lost(tmp_path: Path) -> None:
    blocked = tmp_path / "spool"
    blocked.write_text("a file where the spool should be: no rejected/ either")
    with ScriptedPeer([REFUSED]) as peer:
        report = collector(Spool(blocked), peer.url).run_once()
    assert report.lost and report.exit_status() == 6
    assert report.error is not None and "422" in report.error and "rejected/" in report.error


@pytest.mark.parametrize("status", [400, 413, 415, 422])
def test_every_content_refusal_is_exit_5(tmp_path: Path, status: int) -> None:
    with ScriptedPeer([(status, {}, {"detail": "no"})]) as peer:
        report = collector(Spool(tmp_path / "spool"), peer.url).run_once()
    assert report.exit_status() == 5 and len(report.rejected) == 1 and report.pending == 0


def test_a_failed_listing_still_drains_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    waiting = snapshot_body("PID\n1\n")
    spool.put(waiting)

    def no_ps(_os: str) -> tuple[str, str]:
        raise CollectorError("'ps' is not installed or not on PATH")

    with ScriptedPeer(accepted()) as peer:
        run = collector(spool, peer.url)
        run.listing = no_ps
        report = run.run_once()
    assert peer.received and json.loads(peer.received[0][3])["snapshot_id"] == waiting["snapshot_id"]
    assert report.sent == ["sid-0"] and report.collected is None and spool.pending() == []
    assert report.listing_error is not None and report.exit_status() == 1


def test_dream_collect_without_ps_sends_the_spool_then_exits_1(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(snapshot_body("PID\n1\n"))
    with ScriptedPeer(accepted()) as peer:
        done = subprocess.run(
            [sys.executable, "-m", "dream", "collect", "--once", "--url", peer.url, "--faculty",
             "law", "--spool-dir", str(spool.directory), "--no-executables", "--user", "u"],
            env={**dream_env(), "PATH": "/nonexistent"}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not on PATH" in done.stderr
    report = json.loads(done.stdout)
    assert report["sent"] == ["sid-0"] and report["snapshot_id"] is None and report["exit"] == 1
    assert spool.pending() == []
