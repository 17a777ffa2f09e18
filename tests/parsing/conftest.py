"""Shared locations for the parsing tests; the corpora live outside the repo and are never copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from dream.parsing import accel
from helpers import SHARED

PUBLIC_JC = SHARED / "fixtures" / "public-jc"
SAMPLES = SHARED / "fixtures" / "samples"


def require(path: Path) -> Path:
    """``path`` if it exists, else skip the test: the shared fixtures are not part of the repo."""
    if not path.exists():
        pytest.skip(f"shared fixture {path} is not available on this machine")
    return path


@pytest.fixture(scope="session")
def public_jc() -> Path:
    """jc's public ps corpus (``*.out`` with jc's expected ``*.json``)."""
    return require(PUBLIC_JC)


@pytest.fixture(scope="session")
def samples() -> Path:
    """Real Windows tasklist captures."""
    return require(SAMPLES)


@pytest.fixture(params=["c", "python"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A test run twice: with the C row loops (when built) and with the reference alone."""
    if request.param == "python":
        monkeypatch.setattr(accel, "SPEEDUPS", None)
    elif accel.SPEEDUPS is None:
        pytest.skip(f"C loops unavailable: {accel.UNAVAILABLE}")
    return str(request.param)
