"""Kafka mode with two api replicas: a snapshot posted to one is `pending` on the other (the
receipt in PostgreSQL), then `stored` once the worker wrote it; an id nobody accepted is 404."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from helpers import live_ps_aux, snapshot_body, wait_for


def test_status_is_the_same_on_every_replica(
    database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, kafka_bootstrap=kafka_bootstrap,
                        kafka_partitions=1, data_dir=tmp_path, **kafka_names)  # fmt: skip
    dreams = [Dream(settings).open() for _ in range(3)]  # two api replicas and a worker
    a, b = (create_app(d, publisher=d.publisher()) for d in dreams[:2])
    try:
        with TestClient(a) as api_a, TestClient(b) as api_b:
            body = snapshot_body(live_ps_aux())
            assert api_a.post("/v1/snapshots", json=body).status_code == 202
            url = f"/v1/snapshots/{body['snapshot_id']}"
            pending = wait_for(lambda: (r := api_b.get(url)).status_code == 200 and r.json(),
                               timeout_s=10, what="the other replica to know the snapshot")  # fmt: skip
            assert pending["status"] == "pending"
            assert api_b.get(f"/v1/snapshots/{uuid.uuid4()}").status_code == 404

            worker = dreams[2].worker()
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            try:
                stored = wait_for(lambda: (r := api_b.get(url).json())["status"] == "stored" and r,
                                  timeout_s=60, what="the snapshot stored")  # fmt: skip
                assert stored["process_count"] > 0
            finally:
                worker.stop()
                thread.join(timeout=30)
                worker.source.close()
    finally:
        for d in dreams:
            d.close()
