"""The linter CI's workflow runs, kept green by the suite itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import unavailable

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        unavailable("ruff is not installed (a dev dependency)")
    result = subprocess.run(
        [str(ruff), "check", "src", "tests", "bench", "scripts"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    mypy = Path(sys.executable).parent / "mypy"
    if not mypy.exists():
        unavailable("mypy is not installed (a dev dependency)")
    result = subprocess.run(
        [str(mypy), "src/dream"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
