"""Acceptance: a 20 MB output is accepted, travels through Kafka by reference (the message
stays small), is parsed by the worker, and /raw returns the identical bytes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.demo.listings import ps_aux_output
from dream.web.app import create_app
from dream.settings import Settings
from helpers import snapshot_body
from raw_helpers import settled, sha, snapshot_row

pytestmark = pytest.mark.kafka


def _messages(settings: Settings, count: int, timeout_s: float = 30.0) -> list:
    consumer = Consumer({
        "bootstrap.servers": settings.kafka_bootstrap, "group.id": f"peek-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    consumer.subscribe([settings.kafka_topic])
    found, deadline = [], time.monotonic() + timeout_s
    try:
        while len(found) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                found.append(msg)
    finally:
        consumer.close()
    return found


def test_20_mb_output_travels_by_reference_and_comes_back_identical(
    database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path,
    store_settings: dict,
) -> None:  # fmt: skip
    lines = 185_000
    output = ps_aux_output(lines)
    raw = output.encode()
    assert len(raw) > 20_000_000
    settings = Settings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, kafka_partitions=1,
        batch_size=4, batch_wait_s=0.1, data_dir=tmp_path, auth="off", **kafka_names,
        **store_settings,
    )  # fmt: skip
    body = snapshot_body(output)
    api_dream = Dream(settings).open()
    app = create_app(api_dream, publisher=api_dream.publisher())
    with TestClient(app) as client:
        response = client.post("/v1/snapshots", content=json.dumps(body),
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 202, response.text

        # Only the claim check went through Kafka.
        [message] = _messages(settings, 1)
        assert len(message.value()) < 4096, len(message.value())
        travelled = json.loads(message.value())
        assert travelled["output"] is None
        assert travelled["raw"]["sha256"] == sha(raw) and travelled["raw"]["size"] == len(raw)

        worker_dream = Dream(settings).open()
        worker = worker_dream.worker()
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            state = settled(client, body["snapshot_id"], timeout_s=180)
        finally:
            worker.stop()
            thread.join(timeout=60)
            worker.source.close()
            worker_dream.close()
        assert state["status"] == "stored", state
        assert state["format"] == "ps-aux" and state["process_count"] == lines

        fetched = client.get(f"/v1/snapshots/{body['snapshot_id']}/raw")
        assert fetched.status_code == 200
        assert int(fetched.headers["content-length"]) == len(raw)
        assert sha(fetched.content) == sha(raw)
        row = snapshot_row(database_url, body["snapshot_id"])
        assert row["raw_output"] is None and row["raw_sha256"] == sha(raw)
    api_dream.close()
