"""The disaster-recovery drill (``make dr-drill``), bounded to a few hundred snapshots: two sites
on this machine (their own brokers and PostgreSQL primary and standby, MirrorMaker 2 between
them), site A killed with SIGKILL mid-stream (its mirror and worker frozen for the 2 s before, so
B lacks what A acknowledged last), B promoted, the machines failing over to B and re-sending
their grace window. Nothing either site acknowledged may be missing or stored twice
in B, and B answers the registry's questions as A did for the data both hold. Then the failback
(pg_rewind, the mirror reversed, the switch) brings it all back to A."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import unavailable

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
DR = [sys.executable, str(ROOT / "scripts" / "dr.py")]


def test_fault_failover_to_site_b_loses_and_duplicates_nothing_acknowledged(tmp_path: Path) -> None:
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            unavailable(f"the drill runs Kafka and MirrorMaker 2: `{tool}` is not on PATH")
    figures_file = tmp_path / "figures.json"
    try:
        done = subprocess.run(
            [*DR, "drill", "--machines", "4", "--before", "40", "--during", "40", "--after", "30",
             "--lag", "2", "--failback", "--json", str(figures_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    finally:
        subprocess.run([*DR, "down"], cwd=ROOT, timeout=120)  # also after a timeout's SIGKILL
    assert figures_file.exists(), done.stdout + done.stderr
    figures = json.loads(figures_file.read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    assert figures["accepted_by_a"] >= 80 and figures["accepted_by_b"] >= 30, figures
    # The mirror and A's worker were frozen for the last 2 s: B lacked what A acknowledged
    # then, until the machines re-sent their grace window.
    assert figures["missing_before_resend"] > 0 and figures["rpo_s"] > 0, figures
    assert figures["resent_after_failover"] >= figures["missing_before_resend"], figures
    assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
    # Stored once means derived once too: no process row twice, no sample merged twice.
    assert figures["extra_session_samples"] == 0, figures
    assert figures["stored_in_b"] == figures["accepted_by_a"] + figures["accepted_by_b"], figures
    assert figures["analytics_equal"] is True, figures
    assert 0 < figures["rto_s"] < 120, figures
    # B's workers resumed where MirrorMaker 2 translated A's group offsets to, not from zero.
    assert figures["b_group_at_promotion"]["committed"] > 0, figures
    # Failback: A, rewound into B's standby then promoted, holds everything and answers again.
    assert figures["stored_in_a_after_failback"] == figures["stored_in_b"], figures
    assert figures["a_accepts_again"] and figures["a_answers_as_before"], figures
