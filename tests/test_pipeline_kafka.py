"""The pipeline over a real Kafka broker and a real PostgreSQL: api → topic → worker → tables."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from dream.worker.runner import Worker
from helpers import group_caught_up, live_ps_aux, snapshot_body, wait_for


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=3,
        batch_size=4,
        batch_wait_s=0.1,
        data_dir=tmp_path,
        **kafka_names,
    )


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    dream = Dream(settings).open()
    app = create_app(dream, publisher=dream.publisher())
    with TestClient(app) as client:
        yield client
    dream.close()


class WorkerThread:
    def __init__(self, settings: Settings) -> None:
        self.dream = Dream(settings).open()
        self.worker: Worker = self.dream.worker()
        self.thread = threading.Thread(target=self.worker.run, daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *exc: object) -> None:
        self.worker.stop()
        self.thread.join(timeout=20)
        self.worker.source.close()
        self.dream.close()


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def stored(url: str) -> int:
    return count(url, "SELECT count(*) FROM snapshots WHERE status <> 'pending'")


def assert_each_snapshot_once(url: str, expected_ids: set[str]) -> None:
    with psycopg.connect(url) as conn:
        ids = {str(r[0]) for r in conn.execute("SELECT snapshot_id FROM snapshots")}
        duplicated = conn.execute(
            "SELECT snapshot_id, pid, count(*) FROM processes GROUP BY 1, 2 HAVING count(*) > 1"
        ).fetchall()
        per_snapshot = conn.execute(
            "SELECT s.snapshot_id, s.process_count, count(p.pid)"
            " FROM snapshots s LEFT JOIN processes p USING (snapshot_id)"
            " GROUP BY 1, 2 HAVING s.process_count IS DISTINCT FROM count(p.pid)"
        ).fetchall()
    assert ids == expected_ids
    assert duplicated == []
    assert per_snapshot == []


def test_snapshot_travels_through_kafka_into_postgres(api: TestClient, settings: Settings) -> None:
    url = settings.database_url.get_secret_value()
    output = live_ps_aux()
    body = snapshot_body(output)
    response = api.post("/v1/snapshots", json=body)
    assert response.status_code == 202, response.text
    # The api itself writes nothing to the database in Kafka mode; it knows the id is pending.
    assert api.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"] == "pending"
    assert count(url, "SELECT count(*) FROM snapshots") == 0

    with WorkerThread(settings):
        wait_for(lambda: stored(url) == 1, what="snapshot stored by the worker")
    state = api.get(f"/v1/snapshots/{body['snapshot_id']}").json()
    assert state["status"] == "stored"
    expected_rows = len([ln for ln in output.splitlines()[1:] if ln.strip()])
    assert state["process_count"] == expected_rows
    assert count(url, "SELECT count(*) FROM processes") == expected_rows
    ready = api.get("/readyz").json()
    assert ready["checks"]["pipeline"] == {
        "ok": True, "transport": "kafka", "detail": ready["checks"]["pipeline"]["detail"]
    }  # fmt: skip
    assert "3 partition(s)" in ready["checks"]["pipeline"]["detail"]


def test_same_snapshot_id_twice_through_kafka_is_stored_once(
    api: TestClient, settings: Settings
) -> None:
    url = settings.database_url.get_secret_value()
    body = snapshot_body(live_ps_aux())
    other = snapshot_body(live_ps_aux(), host="eng-lab-05")
    for payload in (body, body, other, body):
        assert api.post("/v1/snapshots", json=payload).status_code == 202
    with WorkerThread(settings):
        wait_for(lambda: stored(url) == 2, what="two snapshots stored")
        # Give the worker time to (wrongly) write the duplicates if it were going to.
        assert api.post("/v1/snapshots", json=body).status_code == 202
        wait_for(lambda: _group_caught_up(settings), what="worker caught up")
    assert_each_snapshot_once(url, {body["snapshot_id"], other["snapshot_id"]})


def _group_caught_up(settings: Settings) -> bool:
    return group_caught_up(settings.kafka_bootstrap, settings.kafka_group, settings.kafka_topic,
                           settings.kafka_partitions)


def _worker_process(settings: Settings, **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DREAM_DATABASE_URL": settings.database_url.get_secret_value(),
        "DREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "DREAM_KAFKA_TOPIC": settings.kafka_topic,
        "DREAM_KAFKA_DLQ_TOPIC": settings.kafka_dlq_topic,
        "DREAM_KAFKA_GROUP": settings.kafka_group,
        # The api's blob store (raw outputs travel by reference) and pseudonym key.
        "DREAM_DATA_DIR": str(settings.data_dir),
        "DREAM_BATCH_SIZE": "3",
        "DREAM_LOG_LEVEL": "warning",
        # The killed worker's partitions move after its session times out (45 s by default).
        "DREAM_KAFKA_SESSION_TIMEOUT_MS": "6000",
        **extra,
    }
    return subprocess.Popen([sys.executable, "-m", "dream", "worker"], env=env,
                            stderr=subprocess.PIPE, text=True)


def test_worker_killed_mid_stream_then_restarted_loses_and_doubles_nothing(
    api: TestClient, settings: Settings
) -> None:
    url = settings.database_url.get_secret_value()
    output = live_ps_aux()
    ids = set()
    for i in range(60):
        body = snapshot_body(output, host=f"eng-lab-{i % 7:02d}")
        assert api.post("/v1/snapshots", json=body).status_code == 202
        ids.add(body["snapshot_id"])

    worker = _worker_process(settings)
    try:
        wait_for(lambda: stored(url) >= 6, timeout_s=60, what="the worker to store some")
        worker.send_signal(signal.SIGKILL)  # no chance to commit offsets or finish its batch
        worker.wait(timeout=10)
        assert stored(url) < len(ids), "the worker finished before it could be killed"
    finally:
        if worker.poll() is None:
            worker.kill()

    restarted = _worker_process(settings)
    try:
        wait_for(lambda: stored(url) == len(ids), timeout_s=90, what="all snapshots stored")
        wait_for(lambda: _group_caught_up(settings), timeout_s=30, what="offsets committed")
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
    assert_each_snapshot_once(url, ids)


def test_a_worker_that_cannot_start_exits_with_a_clear_error(settings: Settings) -> None:
    """Its consumer already exists when the metrics port turns out taken: the process must
    still exit (an unclosed consumer can hang librdkafka at interpreter exit, forever)."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = _worker_process(settings, DREAM_METRICS_PORT=str(port))
        try:
            _, stderr = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert worker.returncode == 2, stderr
    assert f"cannot serve metrics on port {port}" in stderr


def test_malformed_message_goes_to_the_dead_letter_topic(settings: Settings) -> None:
    url = settings.database_url.get_secret_value()
    dream = Dream(settings).open()
    dream.publisher().close()  # creates the topics
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.kafka_topic, key=b"eng-lab-01", value=b"{not json")
    good = snapshot_body(live_ps_aux())
    from dream.snapshots import Snapshot, SnapshotIn

    message = Snapshot.accept(SnapshotIn.model_validate(good)).model_dump_json().encode()
    producer.produce(settings.kafka_topic, key=b"eng-lab-01", value=message)
    assert producer.flush(10) == 0

    with WorkerThread(settings):
        wait_for(lambda: stored(url) == 1, what="the good snapshot stored")

    dlq = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    dlq.subscribe([settings.kafka_dlq_topic])
    try:
        msg = wait_for(lambda: dlq.poll(1.0), timeout_s=30, what="a dead letter")
        assert msg.value() == b"{not json"
        headers = dict(msg.headers())
        assert b"invalid snapshot message" in headers["dream.error"]
        assert headers["dream.source"].startswith(settings.kafka_topic.encode())
    finally:
        dlq.close()
    dream.close()
