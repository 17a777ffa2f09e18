"""`dream serve` with no configuration: embedded PostgreSQL, direct pipeline, one process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx

import services
from helpers import live_ps_aux, snapshot_body, unavailable, wait_for


def _readme_example() -> list[str]:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- readme-example", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return block.replace("\\\n", " ").splitlines()


def _run_readme_example(port: int) -> None:
    """The README's curl lines, verbatim but for the port, against the running server."""
    if shutil.which("curl") is None:
        unavailable("curl is not installed: the README example needs it")
    lines = [ln.replace("localhost:8080", f"127.0.0.1:{port}") for ln in _readme_example()]
    post, get_state, get_rows = (ln.split("  #", 1)[0] for ln in lines if ln.startswith(("ps", "curl")))
    accepted = json.loads(subprocess.run(["bash", "-c", post], capture_output=True, text=True,
                                         check=True).stdout)  # fmt: skip
    assert accepted["status"] == "accepted"
    sid = accepted["snapshot_id"]

    def state() -> dict | None:
        out = subprocess.run(["bash", "-c", get_state.replace("<snapshot_id>", sid)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        parsed = json.loads(out)
        return parsed if parsed["status"] != "pending" else None

    stored = wait_for(state, what="the README example's snapshot")
    assert stored["status"] == "stored" and stored["format"] == "ps-aux", stored
    rows = json.loads(subprocess.run(["bash", "-c", get_rows.replace("<snapshot_id>", sid)],
                                     capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert len(rows["processes"]) == stored["process_count"] > 1
    assert {"ps", "unix-shell"} & {p["app"] for p in rows["processes"]}  # bash: by product


def test_serve_with_no_configuration_stores_a_posted_listing(tmp_path: Path) -> None:
    port = services.free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "dream", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"dream serve exited: {server.stdout.read()}")
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout_s=90, what="dream serve to answer")
        body = snapshot_body(live_ps_aux())
        response = httpx.post(f"{base}/v1/snapshots", json=body, timeout=10)
        assert response.status_code == 202, response.text

        def stored() -> dict | None:
            state = httpx.get(f"{base}/v1/snapshots/{body['snapshot_id']}", timeout=5).json()
            return state if state["status"] != "pending" else None

        state = wait_for(stored, what="the snapshot to be stored")
        assert state["status"] == "stored"
        assert state["process_count"] > 1
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
        assert httpx.get(f"{base}/readyz", timeout=5).json()["checks"]["pipeline"]["transport"] == (
            "direct"
        )
        _run_readme_example(port)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
    assert code == 0, server.stdout.read()
    # The embedded database stopped with the process.
    wait_for(
        lambda: not (data_dir / "pgdata" / "postmaster.pid").exists(),
        timeout_s=20,
        what="embedded PostgreSQL to stop",
    )
