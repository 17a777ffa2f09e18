"""`make test` and `make bench` say what they leave running, and keep the run's exit status."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import services
from helpers import unavailable

ROOT = Path(__file__).resolve().parent.parent


def test_the_note_names_what_runs_and_how_to_stop_it() -> None:
    kafka = {"pid": 1, "bootstrap": "127.0.0.1:9092", "workdir": "/w"}
    postgres = {"pgdata": "/data/pg", "url": "postgresql://x"}
    assert services.left_running({}) is None
    both = services.left_running({"kafka": kafka, "postgres": postgres})
    assert both is not None
    assert "Kafka on 127.0.0.1:9092" in both and "PostgreSQL in /data/pg" in both
    assert "make services-down" in both
    assert "Kafka" not in (services.left_running({"postgres": postgres}) or "")


@pytest.mark.parametrize(("target", "module"), [("test", "pytest"), ("bench", "bench.run")])
def test_make_prints_the_note_after_the_run_and_keeps_its_failure(
    target: str, module: str, tmp_path: Path
) -> None:
    if shutil.which("make") is None:
        unavailable("make is not installed")
    python = tmp_path / "python"  # the real interpreter, but the run itself fails with 3
    python.write_text(f'#!/bin/sh\ncase "$2" in {module}) echo "ran $2"; exit 3 ;; esac\n'
                      f'exec {sys.executable} "$@"\n')  # fmt: skip
    python.chmod(0o755)
    done = subprocess.run(["make", "-o", "install", "-o", "browser", target, f"PY={python}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "Error 3" in done.stderr, (done.stdout, done.stderr)
    ran = done.stdout.index(f"ran {module}")
    note = services.left_running(services.running_state())
    if note is not None:  # services recorded by `services.py up` (or an earlier bench) run now
        assert done.stdout.index(note) > ran, done.stdout
    assert "services.py note" in done.stdout[:ran]  # the recipe line, echoed before it runs


def test_kafka_cluster_ids_never_read_as_an_option() -> None:
    # kafka-storage's parser takes an id beginning with "-" for an option; one draw in 64 did,
    # and the broker then failed to start (a CI run lost every Kafka test to it).
    ids = {services._cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def _dry_run(target: str) -> subprocess.CompletedProcess[str]:
    """What `make target` would run. ``--no-print-directory``: under `make test` this make is a
    sub-make (MAKELEVEL set), which would otherwise wrap its output in "Entering directory"."""
    return subprocess.run(["make", "-n", "--no-print-directory", "-o", "install", target],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip


def test_make_dr_drill_runs_the_suites_drill_with_a_lagging_mirror_and_the_failback() -> None:
    """`make dr-drill` is the drill tests/dr/ runs, at full size: the mirror held back 2 s
    before the kill (so the resend has work) and the failback after the counts."""
    if shutil.which("make") is None:
        unavailable("make is not installed")
    done = _dry_run("dr-drill")
    assert done.returncode == 0, done.stderr
    assert "scripts/dr.py drill --failback --lag 2" in done.stdout, done.stdout


@pytest.mark.parametrize("step", ["up", "status", "failover", "failback", "down"])
def test_the_drills_steps_are_make_targets_like_the_services(step: str) -> None:
    if shutil.which("make") is None:
        unavailable("make is not installed")
    done = _dry_run(f"dr-{step}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"scripts/dr.py {step}"), done.stdout
