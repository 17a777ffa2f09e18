"""No personal data in transit: the Kafka topic, its dead-letter topic and direct mode's pending
rows hold pseudonyms and blob references, never user names, e-mails, home paths or raw text.

Real broker, real PostgreSQL, real blob store (a directory): the bytes checked are the bytes
the broker keeps for the topic's whole retention.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from helpers import snapshot_body, wait_for
from pii_data import SECRET_LISTING, SECRETS, text_values

# What must never be readable in transit: the user, an e-mail, a home path, a token.
CLEAR = [*SECRETS, "/home/jdoe"]


def _leaks(data: bytes) -> list[str]:
    return [secret for secret in CLEAR if secret.encode() in data]


def _message_bytes(msg: Message) -> bytes:
    """Everything a reader of the topic sees of one message: key, value and headers."""
    headers = b"".join(k.encode() + (v or b"") for k, v in msg.headers() or [])
    return (msg.key() or b"") + (msg.value() or b"") + headers


def _read_topic(settings: Settings, topic: str, snapshot_id: str) -> Message:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"reader-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    found: list[Message] = []
    try:

        def more() -> bool:
            msg = consumer.poll(0.5)
            if (msg is not None and msg.error() is None
                    and dict(msg.headers() or []).get("snapshot_id") == snapshot_id.encode()):
                found.append(msg)
            return bool(found)

        wait_for(more, timeout_s=30, what=f"snapshot {snapshot_id} on {topic}")
    finally:
        consumer.close()
    return found[0]


@pytest.fixture
def kafka_settings(database_url: str, kafka_bootstrap: str, kafka_names: dict,
                   tmp_path: Path) -> Settings:  # fmt: skip
    return Settings(database_url=database_url, kafka_bootstrap=kafka_bootstrap,
                    kafka_partitions=1, batch_size=4, batch_wait_s=0.1, data_dir=tmp_path,
                    **kafka_names)  # fmt: skip


@contextmanager
def _kafka_api_and_worker(settings: Settings) -> Iterator[TestClient]:
    dream = Dream(settings).open()
    worker = Dream(settings).open().worker()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            yield client
    finally:
        worker.stop()
        thread.join(timeout=20)
        worker.source.close()
        worker.db.close()
        dream.close()


def _settled(client: TestClient, snapshot_id: str) -> dict:
    return wait_for(lambda: (s := client.get(f"/v1/snapshots/{snapshot_id}").json())
                    and s.get("status") not in (None, "pending") and s)  # fmt: skip


def test_the_topic_carries_no_user_email_or_home_path(kafka_settings: Settings) -> None:
    body = snapshot_body(SECRET_LISTING, user="jdoe", command="ps aux --user jdoe")
    with _kafka_api_and_worker(kafka_settings) as client:
        assert client.post("/v1/snapshots", json=body).status_code == 202
        msg = _read_topic(kafka_settings, kafka_settings.kafka_topic, body["snapshot_id"])
        assert _leaks(_message_bytes(msg)) == []
        message = json.loads(msg.value())
        assert message["output"] is None and message["raw"]["size"] == len(SECRET_LISTING)
        assert message["user"].startswith("u_") and "--user u_" in message["command"]
        # The worker parses the output from the blob store, and scrubs the rows as before.
        state = _settled(client, body["snapshot_id"])
        assert state["status"] == "stored" and state["process_count"] == 4
        assert state["user"] == message["user"]  # pseudonymized once, at the api
    leaks = [v for v in text_values(kafka_settings.database_url.get_secret_value())
             if any(secret in v for secret in CLEAR)]  # fmt: skip
    assert leaks == []


def test_the_dead_letter_topic_carries_none_either(kafka_settings: Settings) -> None:
    output = "jdoe logged in from /home/jdoe, mail jane.doe@uni.example.edu: not a listing\n"
    body = snapshot_body(output, user="jdoe")
    with _kafka_api_and_worker(kafka_settings) as client:
        assert client.post("/v1/snapshots", json=body).status_code == 202
        assert _settled(client, body["snapshot_id"])["status"] == "failed"
        letter = _read_topic(kafka_settings, kafka_settings.kafka_dlq_topic, body["snapshot_id"])
    assert b"parse failed" in dict(letter.headers())["dream.error"]
    assert _leaks(_message_bytes(letter)) == []
    assert json.loads(letter.value())["raw"]["size"] == len(output)  # replayable from the store


def test_a_pending_snapshot_shows_no_clear_user_in_direct_mode(database_url: str,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """Direct mode's queue is the snapshots table: a pending row must hold what a stored one
    may, nothing more (the raw output is in the blob store)."""
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05)).open()
    body = snapshot_body(SECRET_LISTING, user="jdoe", command="ps aux --user jdoe")
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:  # no worker
        assert client.post("/v1/snapshots", json=body).status_code == 202
        pending = client.get(f"/v1/snapshots/{body['snapshot_id']}").json()
        assert pending["status"] == "pending"
        assert pending["user"] == dream.scrubber.user("jdoe") != "jdoe"
        assert [v for v in text_values(database_url) if any(s in v for s in CLEAR)] == []
        summary = dream.worker().run_once()  # the worker finds the output in the blob store
        assert summary is not None and summary.process_rows == 4
        assert client.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"] == "stored"
    dream.close()


def test_without_raw_storage_the_output_leaves_the_blob_store_once_stored(
    database_url: str, tmp_path: Path
) -> None:
    """DREAM_STORE_RAW=false: the blob store only carries the output to the worker."""
    blobs = tmp_path / "blobs"
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, store_raw=False,
                           blob_dir=blobs)).open()  # fmt: skip
    body = snapshot_body(SECRET_LISTING, user="jdoe")
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:
        assert client.post("/v1/snapshots", json=body).status_code == 202
        assert [p for p in blobs.rglob("*") if p.is_file()] != []  # in transit
        summary = dream.worker().run_once()
        assert summary is not None and summary.process_rows == 4
        assert [p for p in blobs.rglob("*") if p.is_file()] == []
        assert client.get(f"/v1/snapshots/{body['snapshot_id']}/raw").status_code == 404
    dream.close()
