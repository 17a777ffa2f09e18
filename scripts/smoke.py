"""Smoke test of a running Dream api: keys are checked, a posted `ps aux` is stored, the api is
ready, the dashboard and a Parquet export answer. Exits non-zero naming the first failure.

    python scripts/smoke.py http://127.0.0.1:8080 dream_<admin key>

Used by tests/test_wheel.py (the installed wheel) and by CI against the Docker image; needs only
httpx, so it runs outside Dream's venv.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


class SmokeFailure(AssertionError):
    """What did not work, with the api's answer."""


def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise SmokeFailure(f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}")
    return response


def smoke(url: str, admin_key: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Run the checks against ``url``; returns the stored snapshot's state."""
    url = url.rstrip("/")
    auth = {"Authorization": f"Bearer {admin_key}"}
    output = subprocess.run(["ps", "aux"], capture_output=True, text=True, check=True).stdout
    body = {
        "host": "smoke-test", "os": "linux", "user": "smoke", "faculty": "engineering",
        "collected_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "command": "ps aux", "output": output, "snapshot_id": str(uuid.uuid4()),
    }  # fmt: skip
    with httpx.Client(base_url=url, timeout=10) as http:
        _expect(http.post("/v1/snapshots", json=body), 401, "a post without a key")
        _expect(http.post("/v1/snapshots", json=body, headers=auth), 202, "a post with the key")
        deadline = time.monotonic() + timeout_s
        while True:
            state = _expect(http.get(f"/v1/snapshots/{body['snapshot_id']}", headers=auth), 200,
                            "the snapshot's state").json()  # fmt: skip
            if state["status"] != "pending":
                break
            if time.monotonic() > deadline:
                raise SmokeFailure(f"the snapshot is still pending after {timeout_s:.0f}s")
            time.sleep(0.2)
        if state["status"] != "stored" or state.get("process_count", 0) < 1:
            raise SmokeFailure(f"the snapshot was not stored: {state}")
        _expect(http.get("/readyz"), 200, "/readyz")
        page = _expect(http.get("/"), 200, "the dashboard")
        if "<html" not in page.text.lower():
            raise SmokeFailure(f"the dashboard is not HTML: {page.text[:200]}")
        parquet = _expect(http.get("/v1/export", headers=auth,
                                   params={"query": "processes", "format": "parquet"}),
                          200, "a Parquet export")  # fmt: skip
        if not parquet.content.startswith(b"PAR1"):
            raise SmokeFailure(f"the Parquet export is not Parquet: {parquet.content[:40]!r}")
    return state


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        state = smoke(sys.argv[1], sys.argv[2])
    except (SmokeFailure, httpx.HTTPError) as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)
        return 1
    print(f"smoke test passed: snapshot {state['snapshot_id']} stored"
          f" with {state['process_count']} processes")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
