"""`dream serve` as a subprocess on a free port with its own data directory (embedded PostgreSQL,
direct pipeline), for the tests that drive Dream from outside: dashboard, collector, demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import services
from helpers import wait_for


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen
    log: Path


def dream_env() -> dict[str, str]:
    """The environment without DREAM_* settings, as a newcomer's shell would be."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}


@contextmanager
def serve(data_dir: Path, port: int | None = None, timeout_s: float = 90,
          **env: str) -> Iterator[Served]:  # fmt: skip
    port = port or services.free_port()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "dream", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    log = data_dir.parent / f"serve-{port}.log"
    with serve_command(argv, port, env={**dream_env(), **env}, log=log,
                       timeout_s=timeout_s) as served:  # fmt: skip
        yield served


@contextmanager
def serve_command(
    argv: list[str | Path],
    port: int,
    *,
    env: dict[str, str],
    log: Path,
    cwd: Path | None = None,
    timeout_s: float = 90,
) -> Iterator[Served]:
    """Run ``argv`` (a `dream serve` on ``port``) until its /healthz answers; SIGTERM after."""
    with open(log, "w") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"dream serve exited: {log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, timeout_s=timeout_s, what=f"{' '.join(map(str, argv[:3]))} to answer")
        yield Served(url, port, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
