"""Kill -9 the worker in the middle of a batch's transaction, restart it: stored exactly once.

To be sure the kill lands mid-batch, the test holds a lock on ``processes`` (or ``sessions``):
the worker's transaction upserts its snapshot rows, then waits in COPY (or in merging the
sessions, after the COPY); the kill comes while it waits (PostgreSQL rolls the transaction back;
no offset of that batch was committed).
"""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from faults import assert_each_snapshot_once, dream_env, group_caught_up, spawn, stored, terminate
from helpers import live_ps_aux, snapshot_body, wait_for


def _worker_waiting(url: str, query: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE %s",
            (query,),
        ).fetchone()
    return row[0] > 0


@pytest.mark.parametrize(
    ("table", "waiting_in"),
    # (sessions: whichever statement of the merge comes first; with the host's open sessions
    # in the writer's memory, none reads them back)
    [("processes", "COPY processes%"), ("sessions", "% sessions%")],
)
def test_worker_killed_mid_transaction_then_restarted_stores_each_snapshot_once(
    database_url: str, kafka_bootstrap: str, tmp_path: Path, table: str, waiting_in: str
) -> None:
    env = dream_env(
        database_url, kafka_bootstrap, DREAM_BATCH_SIZE=5, DREAM_KAFKA_SESSION_TIMEOUT_MS=6000,
        DREAM_DATA_DIR=tmp_path,  # the in-process api puts outputs in its blob store there
    )
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
    ids: set[str] = set()
    with TestClient(create_app(dream, publisher=dream.publisher())) as api:

        def post(n: int) -> None:
            for i in range(n):
                body = snapshot_body(output, host=f"sci-{i % 5}")
                assert api.post("/v1/snapshots", json=body).status_code == 202
                ids.add(body["snapshot_id"])

        post(10)
        worker = spawn(["worker"], env, tmp_path / "worker.log")
        try:
            wait_for(lambda: stored(database_url) == 10, timeout_s=60, what="first batch stored")
            with psycopg.connect(database_url) as blocker:
                blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # held
                post(20)
                wait_for(
                    lambda: _worker_waiting(database_url, waiting_in),
                    timeout_s=30,
                    what=f"the worker's transaction waiting for {table}",
                )
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                blocker.rollback()
        finally:
            if worker.poll() is None:
                worker.kill()
        assert stored(database_url) == 10  # the killed transaction left nothing behind

        post(5)
        restarted = spawn(["worker"], env, tmp_path / "worker-2.log")
        try:
            wait_for(lambda: stored(database_url) == len(ids), timeout_s=60, what="all stored")
            wait_for(lambda: group_caught_up(env), timeout_s=30, what="offsets committed")
        finally:
            assert terminate(restarted) == 0
    dream.close()
    assert_each_snapshot_once(database_url, ids)
