"""The three transports behind one harness, for the contract suite: memory, direct (a real
PostgreSQL) and kafka (a real broker). A case written once runs against each."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from confluent_kafka import Consumer

from dream.settings import Settings
from dream.snapshots import Snapshot, SnapshotIn
from dream.storage.database import Database
from dream.transport.base import Batch, Publisher, Source
from dream.transport.direct import DirectTransport
from dream.transport.kafka.admin import ensure_topics
from dream.transport.kafka.client import client_config
from dream.transport.kafka.publisher import KafkaPublisher
from dream.transport.kafka.source import KafkaSource
from dream.transport.memory import MemoryBroker, MemoryPublisher, MemorySource

from helpers import live_ps_aux, snapshot_body


@dataclass
class Harness:
    """One transport: make its ends, and read what reached its dead-letter destination."""

    name: str
    publisher: Callable[[], Publisher]
    source: Callable[[], Source]  # a new consumer (of the same group)
    dead_lettered: Callable[[], set[uuid.UUID]]
    # What the worker's write transaction does to a batch before ``ack`` (direct: the
    # transaction itself is the acknowledgement, as its rows leave ``pending``).
    commit_write: Callable[[Batch], None] = lambda _batch: None
    lanes_move: bool = True  # whether lanes can be dealt to another consumer (direct: never)
    wait_s: float = 2.0  # how long a consumer may take to be handed its lanes
    opened: list[Publisher | Source] = field(default_factory=list)

    def open_publisher(self) -> Publisher:
        publisher = self.publisher()
        self.opened.append(publisher)
        return publisher

    def open_source(self) -> Source:
        source = self.source()
        self.opened.append(source)
        return source


def make_snapshot(host: str = "eng-lab-04", minutes_ago: float = 5.0) -> Snapshot:
    body = snapshot_body(
        live_ps_aux(), host=host,
        collected_at=(datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
    )  # fmt: skip
    return Snapshot.accept(SnapshotIn.model_validate(body), received_at=datetime.now(UTC))


@contextmanager
def memory() -> Iterator[Harness]:
    broker = MemoryBroker(lanes=3)
    with _closing(Harness(
        "memory",
        publisher=lambda: MemoryPublisher(broker),
        source=lambda: MemorySource(broker),
        dead_lettered=lambda: {
            uuid.UUID(json.loads(value)["snapshot_id"]) for value, _ in broker.dead_letters
        },
    )) as harness:  # fmt: skip
        yield harness


@contextmanager
def direct(database_url: str) -> Iterator[Harness]:
    db = Database(database_url, pool_size=4)
    db.open()

    def failed() -> set[uuid.UUID]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT snapshot_id FROM snapshots WHERE status = 'failed'")
            return {r[0] for r in rows}

    def stored(batch: Batch) -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute("UPDATE snapshots SET status = 'stored' WHERE snapshot_id = ANY(%s)",
                         [[s.snapshot_id for s in batch.snapshots]])  # fmt: skip

    harness = Harness(
        "direct",
        publisher=lambda: DirectTransport(db),
        source=lambda: DirectTransport(db),
        dead_lettered=failed,
        commit_write=stored,
        lanes_move=False,
    )
    try:
        with _closing(harness):
            yield harness
    finally:
        db.close()


@contextmanager
def kafka(settings: Settings) -> Iterator[Harness]:
    ensure_topics(settings)

    def dead_lettered() -> set[uuid.UUID]:
        reader = Consumer(client_config(settings, "status", **{
            "group.id": f"dlq-reader-{uuid.uuid4().hex}"}))  # fmt: skip
        reader.subscribe([settings.kafka_dlq_topic])
        found: set[uuid.UUID] = set()
        deadline = time.monotonic() + 20.0
        try:
            while time.monotonic() < deadline:  # until the topic is read to its end
                messages = reader.consume(num_messages=100, timeout=1.0)
                found |= {uuid.UUID(json.loads(m.value())["snapshot_id"])
                          for m in messages if m.error() is None}  # fmt: skip
                if found and not messages:
                    break
        finally:
            reader.close()
        return found

    with _closing(Harness(
        "kafka",
        publisher=lambda: KafkaPublisher(settings),
        source=lambda: KafkaSource(settings),
        dead_lettered=dead_lettered,
        wait_s=30.0,
    )) as harness:  # fmt: skip
        yield harness


@contextmanager
def _closing(harness: Harness) -> Iterator[Harness]:
    try:
        yield harness
    finally:
        while harness.opened:
            harness.opened.pop().close()


