"""The Kafka pipeline: an idempotent producer (api) and a consumer group (worker).

Messages are snapshots as JSON, keyed by host so one machine's snapshots stay in order on one
partition. The consumer commits offsets only after the batch's database transaction committed;
a message delivered again after a crash or rebalance is written once thanks to the idempotent
upsert on ``snapshot_id``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import ValidationError

from dream.errors import TransportError
from dream.pipeline.base import Batch
from dream.settings import Settings
from dream.snapshots import Snapshot

log = structlog.get_logger(__name__)


def ensure_topics(settings: Settings, timeout_s: float = 15.0) -> None:
    """Create the snapshot topic and its dead-letter topic if they do not exist."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    config = {"max.message.bytes": str(settings.kafka_max_message_bytes)}
    wanted = [
        NewTopic(
            topic,
            num_partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            config=config,
        )
        for topic in (settings.kafka_topic, settings.kafka_dlq_topic)
    ]
    for topic, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransportError(f"could not create topic {topic}: {exc}") from exc


def _settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(TransportError(f"broker did not acknowledge: {error.str()}"))


class KafkaPublisher:
    """The api side: produce with ``acks=all`` and answer only once the broker acknowledged."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.kafka_topic
        self.timeout_s = settings.kafka_produce_timeout_s
        self.producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "client.id": "dream-api",
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 5,
                "message.max.bytes": settings.kafka_max_message_bytes,
                "message.timeout.ms": int(settings.kafka_produce_timeout_s * 1000),
                "queue.buffering.max.kbytes": 256 * 1024,
            }
        )
        self._closed = threading.Event()
        # Delivery callbacks run inside poll(); a thread keeps them flowing.
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self.producer.poll(0.1)

    async def publish(self, snapshot: Snapshot) -> None:
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()

        def on_delivery(error: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, delivered, error)

        try:
            self.producer.produce(
                self.topic,
                value=snapshot.model_dump_json().encode(),
                key=snapshot.host.encode(),
                headers=[("snapshot_id", str(snapshot.snapshot_id).encode())],
                on_delivery=on_delivery,
            )
        except BufferError as exc:
            raise TransportError("the producer queue is full; retry shortly") from exc
        except KafkaException as exc:
            raise TransportError(f"could not produce: {exc}") from exc
        try:
            await asyncio.wait_for(delivered, timeout=self.timeout_s + 1.0)
        except TimeoutError as exc:
            raise TransportError("the broker did not acknowledge in time") from exc

    def ready(self) -> tuple[bool, str]:
        try:
            metadata = self.producer.list_topics(self.topic, timeout=2.0)
        except KafkaException as exc:
            return False, f"broker unreachable: {exc}"
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            return False, f"topic {self.topic} unavailable"
        return True, f"{len(metadata.brokers)} broker(s), {len(topic.partitions)} partition(s)"

    def close(self) -> None:
        self.producer.flush(self.timeout_s)
        self._closed.set()
        self._poller.join(timeout=1.0)


class KafkaSource:
    """The worker side: a consumer in the worker group, committing only what is stored."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": settings.kafka_group,
                "client.id": "dream-worker",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "max.partition.fetch.bytes": settings.kafka_max_message_bytes,
                "fetch.max.bytes": 4 * settings.kafka_max_message_bytes,
            }
        )
        self.consumer.subscribe([settings.kafka_topic])
        self._dlq = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "client.id": "dream-worker-dlq",
                "enable.idempotence": True,
                "acks": "all",
                "message.max.bytes": settings.kafka_max_message_bytes,
            }
        )

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        messages = self.consumer.consume(num_messages=max_snapshots, timeout=wait_s)
        batch = Batch(token={})
        for msg in messages:
            if msg.error() is not None:
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", error=msg.error().str())
                continue
            batch.token[(msg.topic(), msg.partition())] = msg.offset() + 1
            try:
                batch.snapshots.append(Snapshot.model_validate_json(msg.value() or b""))
            except ValidationError as exc:
                self._dead_letter(msg, f"invalid snapshot message: {exc}")
                batch.rejected += 1
        # The batch's offsets are committed later; the dead letters must be durable before that.
        if batch.rejected and self._dlq.flush(10.0) > 0:
            raise TransportError("the dead-letter topic did not acknowledge; stopping")
        return batch

    def _dead_letter(self, msg: Message, reason: str) -> None:
        log.error(
            "message sent to dead-letter topic",
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            reason=reason[:500],
        )
        headers: list[tuple[str, Any]] = list(msg.headers() or [])
        headers += [
            ("dream.error", reason.encode()),
            ("dream.source", f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
        ]
        self._dlq.produce(
            self.settings.kafka_dlq_topic, value=msg.value(), key=msg.key(), headers=headers
        )

    def ack(self, batch: Batch) -> None:
        if not batch.token:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in batch.token.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Typically a rebalance took the partition away. The rows are stored; whoever gets
            # the partition re-reads these messages and the idempotent write skips them.
            log.warning("offset commit failed; messages will be re-read", error=str(exc))

    def close(self) -> None:
        self._dlq.flush(5.0)
        self.consumer.close()
