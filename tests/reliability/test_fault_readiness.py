"""A worker that cannot make progress is alive but not ready, and says why.

While its blob store or database fails the worker retries for ever (nothing is lost), so only
readiness can tell the operator that snapshots stay ``pending``. Where the worker is the one
storing raw outputs (they travel inline: ``DREAM_PII_MODE=off``; otherwise the api stores them
and a post answers 503 while the store is away), real worker set-ups:
`dream serve`'s in-process worker over a blob directory that cannot be created (then fixed), a
`dream worker` process whose S3 endpoint is a closed port, and one whose PostgreSQL stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import services
from fastapi.testclient import TestClient

from dream.settings import Settings
from faults import dream_env, in_process_api, spawn, terminate
from helpers import direct_client, snapshot_body, wait_for

OUTPUT = "  PID TTY          TIME CMD\n    1 ?        00:00:01 init\n  412 pts/0    00:00:00 bash\n"


def _worker_check(client: TestClient) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()["checks"]["worker"]


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A blob directory under a regular file: it cannot be created, even by root."""
    (tmp_path / "not-a-dir").write_text("")
    return tmp_path / "not-a-dir" / "blobs"


@pytest.fixture
def serve(database_url: str, tmp_path: Path, blocked: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, blob_dir=blocked,
                        pii_mode="off", batch_wait_s=0.05)  # fmt: skip
    with direct_client(settings) as (client, _):
        yield client


def test_serve_is_not_ready_while_the_blob_store_fails_and_recovers(
    serve: TestClient, blocked: Path
) -> None:
    assert serve.get("/readyz").status_code == 200
    body = snapshot_body(OUTPUT)
    assert serve.post("/v1/snapshots", json=body).status_code == 202

    _, worker = wait_for(
        lambda: (got := _worker_check(serve))[0] == 503 and got, what="readiness to fail"
    )
    assert worker["ok"] is False
    assert worker["reason"].startswith("blob store unavailable: filesystem"), worker
    assert str(blocked) in worker["reason"] and worker["since"]
    assert serve.get("/healthz").status_code == 200  # alive: restarting would not help
    assert serve.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"] == "pending"

    blocked.parent.unlink()  # the operator fixes the volume
    blocked.mkdir(parents=True)
    wait_for(lambda: serve.get("/readyz").status_code == 200, what="readiness to recover")
    state = wait_for(
        lambda: (s := serve.get(f"/v1/snapshots/{body['snapshot_id']}").json())["status"]
        == "stored" and s, what="the snapshot stored",
    )  # fmt: skip
    assert state["process_count"] == 2
    # (acknowledged just after the commit the GET saw)
    _, worker = wait_for(lambda: (got := _worker_check(serve))[1]["last_stored"] and got)
    assert worker["ok"] is True and worker["reason"] is None


def test_serve_is_not_ready_while_a_batch_is_stuck(database_url: str, tmp_path: Path) -> None:
    """A write that neither fails nor ends (here: waiting on a lock) is reported once the batch
    has been in hand longer than DREAM_WORKER_STUCK_AFTER_S."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05,
                        worker_stuck_after_s=1)  # fmt: skip
    with direct_client(settings) as (client, _), psycopg.connect(database_url) as blocker:
        blocker.execute("LOCK TABLE processes IN ACCESS EXCLUSIVE MODE")
        body = snapshot_body(OUTPUT)
        assert client.post("/v1/snapshots", json=body).status_code == 202
        _, worker = wait_for(
            lambda: (got := _worker_check(client))[0] == 503 and got, what="a stuck batch"
        )
        assert "a batch has been in hand for" in worker["reason"], worker
        blocker.rollback()  # the lock goes: the write goes through
        wait_for(lambda: client.get("/readyz").status_code == 200, what="readiness back")
        stored = client.get(f"/v1/snapshots/{body['snapshot_id']}").json()
        assert stored["status"] == "stored"


class WorkerProcess:
    """`dream worker` over ``env`` with its /readyz and /healthz on a port of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = services.free_port()
        self.log = log
        self.proc = spawn(["worker"], {**env, "DREAM_METRICS_PORT": str(self.port)}, log)

    def get(self, path: str) -> httpx.Response | None:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=3)
        except httpx.HTTPError:
            return None

    def wait_readyz(self, status: int, worker_reason: str | None = None) -> dict:
        """The checks once /readyz answers ``status`` (with a worker reason starting so)."""

        def answered() -> dict | None:
            r = self.get("/readyz")
            if r is None or r.status_code != status:
                return None
            checks = r.json()["checks"]
            reason = checks["worker"]["reason"] or ""
            return checks if worker_reason is None or reason.startswith(worker_reason) else None

        return wait_for(answered, timeout_s=60, what=f"the worker's /readyz to answer {status}")

    def stop(self) -> None:
        rc = terminate(self.proc)
        assert rc == 0, self.log.read_text()[-3000:]


def _post_one(env: dict[str, str], tmp_path: Path) -> None:
    with in_process_api(env, tmp_path, partitions=3) as api:
        assert api.post("/v1/snapshots", json=snapshot_body(OUTPUT)).status_code == 202


def test_worker_process_is_not_ready_while_s3_is_unreachable(
    database_url: str, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DREAM_PII_MODE", "off")  # the in-process api's settings read it
    env = dream_env(
        database_url, kafka_bootstrap,
        DREAM_PII_MODE="off",
        DREAM_S3_BUCKET="dream-raw",
        DREAM_S3_ENDPOINT_URL=f"http://127.0.0.1:{services.free_port()}",  # nothing listens
        DREAM_S3_ACCESS_KEY_ID="dream",
        DREAM_S3_SECRET_ACCESS_KEY="dream-secret",
        DREAM_S3_REGION="us-east-1",
    )  # fmt: skip
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_readyz(200)  # nothing to do yet: nothing fails
        _post_one(env, tmp_path)
        checks = worker.wait_readyz(503, "blob store unavailable: s3://dream-raw/")
        assert checks["database"] == {"ok": True}
        assert (health := worker.get("/healthz")) is not None and health.status_code == 200
    finally:
        worker.stop()


def test_worker_process_is_not_ready_while_its_database_is_down(
    own_postgres, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = dream_env(own_postgres.url, kafka_bootstrap)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_readyz(200)
        with in_process_api(env, tmp_path, partitions=3) as api:
            own_postgres.stop()  # Kafka mode: the api needs no database to accept a snapshot
            assert api.post("/v1/snapshots", json=snapshot_body(OUTPUT)).status_code == 202
        checks = worker.wait_readyz(503, "database unavailable: ")  # its write fails
        assert checks["database"] == {"ok": False}
        own_postgres.restart()
        worker.wait_readyz(200)
        wait_for(lambda: worker.wait_readyz(200)["worker"]["last_stored"], what="batch stored")
    finally:
        worker.stop()
