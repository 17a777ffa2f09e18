"""Poison messages: recorded, sent to the dead-letter topic with the original payload, and the
partition keeps flowing past them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from dream.snapshots import Snapshot, SnapshotIn
from dream.worker.runner import Worker
from faults import count, stored
from helpers import listing_of_absurd_pids, live_ps_aux, snapshot_body, wait_for


@pytest.fixture
def settings(
    database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path
) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=2,
        batch_size=4,
        batch_wait_s=0.1,
        data_dir=tmp_path,
        **kafka_names,
    )


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    dream = Dream(settings).open()
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:
        yield client
    dream.close()


def _dead_letters(settings: Settings, n: int) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.kafka_dlq_topic])
    found: list = []
    try:

        def more() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                found.append(msg)
            return len(found) >= n

        wait_for(more, timeout_s=30, what=f"{n} dead letter(s)")
    finally:
        consumer.close()
    return found


@contextmanager
def running_worker(settings: Settings) -> Iterator[tuple[Worker, threading.Thread]]:
    """A worker of its own in a thread, stopped (and its consumer closed) afterwards."""
    dream = Dream(settings).open()
    worker = dream.worker()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker, thread
    finally:
        worker.stop()
        thread.join(timeout=20)
        worker.source.close()
        dream.close()


def _message(body: dict[str, Any], **changes: Any) -> bytes:
    """The message the api would produce for ``body``, with ``changes`` made behind its back."""
    message = json.loads(Snapshot.accept(SnapshotIn.model_validate(body)).model_dump_json())
    message.update(changes)
    return json.dumps(message).encode()


def test_unparseable_snapshot_is_failed_and_dead_lettered_and_the_partition_flows_on(
    api: TestClient, settings: Settings
) -> None:
    url = settings.database_url.get_secret_value()
    good = snapshot_body(live_ps_aux(), host="law-pc-01")
    bad = snapshot_body("this is not a process listing\nat all", host="law-pc-01")
    after = snapshot_body(live_ps_aux(), host="law-pc-01")  # same host: same partition, later
    for body in (good, bad, after):
        assert api.post("/v1/snapshots", json=body).status_code == 202

    with running_worker(settings) as (worker, _):
        wait_for(lambda: stored(url) == 3, what="all three final")
        wait_for(lambda: worker.totals.dead_lettered == 1, what="the dead letter counted")

    assert api.get(f"/v1/snapshots/{good['snapshot_id']}").json()["status"] == "stored"
    assert api.get(f"/v1/snapshots/{after['snapshot_id']}").json()["status"] == "stored"
    failed = api.get(f"/v1/snapshots/{bad['snapshot_id']}").json()
    assert failed["status"] == "failed" and "ps aux header" in failed["error"]

    [letter] = _dead_letters(settings, 1)
    payload = json.loads(letter.value())  # the original message, as the api produced it
    assert payload["snapshot_id"] == bad["snapshot_id"]
    assert payload["output"] is None  # the raw text stays in the blob store, by reference
    assert payload["raw"]["size"] == len(bad["output"].encode())
    headers = dict(letter.headers())
    assert headers["snapshot_id"] == bad["snapshot_id"].encode()
    assert b"parse failed" in headers["dream.error"] and b"ps aux header" in headers["dream.error"]
    assert headers["dream.source"].startswith(settings.kafka_topic.encode())


def test_malformed_message_lands_in_the_dead_letter_topic_and_the_rest_is_stored(
    settings: Settings,
) -> None:
    url = settings.database_url.get_secret_value()
    dream = Dream(settings).open()
    dream.publisher().close()  # creates the topics
    dream.close()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    good = [snapshot_body(live_ps_aux(), host="law-pc-02") for _ in range(3)]
    messages = [Snapshot.accept(SnapshotIn.model_validate(b)).model_dump_json() for b in good]
    for value in (messages[0], '{"host": "law-pc-02"}', messages[1], "\x00garbage", messages[2]):
        producer.produce(settings.kafka_topic, key=b"law-pc-02", value=value.encode())
    assert producer.flush(10) == 0

    with running_worker(settings):
        wait_for(lambda: stored(url) == 3, what="the good snapshots stored")
    letters = _dead_letters(settings, 2)
    assert sorted(m.value() for m in letters) == sorted([b'{"host": "law-pc-02"}', b"\x00garbage"])
    assert all(b"invalid snapshot message" in dict(m.headers())["dream.error"] for m in letters)


def test_snapshot_no_partition_can_hold_is_dead_lettered_and_the_worker_goes_on(
    settings: Settings,
) -> None:
    """Year 1 at +14:00 is year 0 in UTC: produced behind the api's back, it must not stop
    the partition (it used to crash the worker on every restart)."""
    url = settings.database_url.get_secret_value()
    dream = Dream(settings).open()
    dream.publisher().close()  # creates the topics
    dream.close()
    good = [snapshot_body(live_ps_aux(), host="law-pc-03") for _ in range(3)]
    poison = snapshot_body(live_ps_aux(), host="law-pc-03")
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    for value in (
        _message(good[0]),
        _message(poison, collected_at="0001-01-01T00:00:00+14:00"),
        _message(good[1]),
        _message(good[2]),
    ):
        producer.produce(settings.kafka_topic, key=b"law-pc-03", value=value)
    assert producer.flush(10) == 0

    with running_worker(settings) as (worker, thread):
        wait_for(lambda: stored(url) == 3, what="the good snapshots stored")
        wait_for(lambda: worker.totals.dead_lettered == 1, what="the poison dead-lettered")
        assert thread.is_alive() and worker.totals.rejected == 1
    with psycopg.connect(url) as conn:
        ids = {str(r[0]) for r in conn.execute("SELECT snapshot_id FROM snapshots")}
    assert ids == {b["snapshot_id"] for b in good}
    assert count(url, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'processes'::regclass") == 1

    [letter] = _dead_letters(settings, 1)
    assert json.loads(letter.value())["snapshot_id"] == poison["snapshot_id"]
    reason = dict(letter.headers())["dream.error"]
    assert reason.startswith(b"rejected: collected_at") and b"0001-01-01T00:00:00+14:00" in reason


def test_snapshot_the_database_refuses_is_isolated_from_its_batch(
    api: TestClient, settings: Settings
) -> None:
    """A PID beyond ``integer`` fails the batch's COPY: the batch is split until only that
    snapshot is left out, dead-lettered with the database's reason; no endless retry."""
    url = settings.database_url.get_secret_value()
    before = snapshot_body(live_ps_aux(), host="law-pc-04")
    poison = snapshot_body(listing_of_absurd_pids(), host="law-pc-04")
    after = snapshot_body(live_ps_aux(), host="law-pc-04")
    for body in (before, poison, after):
        assert api.post("/v1/snapshots", json=body).status_code == 202

    with running_worker(settings) as (worker, thread):
        wait_for(lambda: stored(url) == 2, what="the two good snapshots stored")
        wait_for(lambda: worker.totals.dead_lettered == 1, what="the poison dead-lettered")
        assert thread.is_alive()
    for body in (before, after):
        assert api.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"] == "stored"
    [letter] = _dead_letters(settings, 1)
    assert json.loads(letter.value())["snapshot_id"] == poison["snapshot_id"]
    reason = dict(letter.headers())["dream.error"]
    assert reason.startswith(b"rejected: refused by the database") and b"out of range" in reason
