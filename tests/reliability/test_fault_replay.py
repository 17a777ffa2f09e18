"""`dream replay` re-reads the topic into the database idempotently."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from faults import assert_each_snapshot_once, dream_env, group_caught_up, spawn, stored, terminate
from helpers import live_ps_aux, snapshot_body, wait_for


def _replay(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "dream", "replay", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _forget(url: str, ids: set[str]) -> None:
    """What a restore from an older backup looks like: these snapshots are gone."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM processes WHERE snapshot_id = ANY(%s::uuid[])", (list(ids),))
        conn.execute("DELETE FROM snapshots WHERE snapshot_id = ANY(%s::uuid[])", (list(ids),))


def test_replay_from_offset_and_since_fills_in_exactly_what_is_missing(
    database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = dream_env(database_url, kafka_bootstrap, DREAM_LOG_LEVEL="warning")
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=env["DREAM_KAFKA_TOPIC"],
        kafka_dlq_topic=env["DREAM_KAFKA_DLQ_TOPIC"],
        kafka_partitions=3,
        data_dir=tmp_path,
    )
    dream = Dream(settings).open()
    output = live_ps_aux()
    early, late = [], []
    with TestClient(create_app(dream, publisher=dream.publisher())) as api:
        for i in range(8):
            body = snapshot_body(output, host=f"eng-{i % 4}")
            assert api.post("/v1/snapshots", json=body).status_code == 202
            early.append(body["snapshot_id"])
        # Not waits for an event: the clock passes a boundary. Every early message is stamped
        # (in milliseconds) clearly before ``since``, every late one clearly after.
        time.sleep(1.0)
        since = datetime.now(UTC)
        time.sleep(0.5)
        for i in range(8):
            body = snapshot_body(output, host=f"eng-{i % 4}")
            assert api.post("/v1/snapshots", json=body).status_code == 202
            late.append(body["snapshot_id"])
    dream.close()
    everything = set(early) | set(late)

    worker = spawn(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for(lambda: stored(database_url) == 16 and group_caught_up(env), timeout_s=60)
    finally:
        assert terminate(worker) == 0

    # Lose a few, replay everything: exactly the lost ones are written, nothing is doubled.
    lost = set(early[:3]) | set(late[-2:])
    _forget(database_url, lost)
    result = _replay(env, "--from-offset", "0")
    assert result == {
        "messages": 16, "written": 5, "already_stored": 11, "undecodable": 0, "complete": True
    }  # fmt: skip
    assert_each_snapshot_once(database_url, everything)
    assert _replay(env, "--from-offset", "0")["written"] == 0  # a replay of a replay: no-op

    # --since: only what the broker received from then on.
    _forget(database_url, everything)
    result = _replay(env, "--since", since.isoformat())
    assert (result["messages"], result["written"]) == (8, 8)
    assert_each_snapshot_once(database_url, set(late))
    assert group_caught_up(env)  # the workers' committed offsets were not touched
