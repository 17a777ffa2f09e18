"""`dream status` where there is nothing to report on, or its database is away: it says so."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def test_status_without_a_database_says_so_and_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    data_dir = tmp_path / "nothing-here"
    for args in ([], ["--json"]):
        done = subprocess.run([sys.executable, "-m", "dream", "status", *args], cwd=tmp_path,
                              env={**env, "DREAM_DATA_DIR": str(data_dir)},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "no database" in done.stderr and "DREAM_DATABASE_URL" in done.stderr, done.stderr
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []  # nor ./.dream, the default data dir


def test_status_with_its_database_away_reports_it_unhealthy(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    done = subprocess.run([sys.executable, "-m", "dream", "status", "--json"], cwd=tmp_path,
                          env={**env, "DREAM_DATABASE_URL": f"postgresql://x@127.0.0.1:{port}/x"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, (done.stdout, done.stderr)
    report = json.loads(done.stdout)
    assert report["healthy"] is False
    assert report["database"].startswith("unreachable: ") and str(port) in report["database"]
