"""The Kafka pipeline: an idempotent producer (api) and a consumer group (worker).

Messages are snapshots as JSON, keyed by host so one machine's snapshots stay in order on one
partition. The consumer commits offsets only after the batch's database transaction committed;
a message delivered again after a crash or rebalance is written once thanks to the idempotent
upsert on ``snapshot_id``. docs/guarantees.md says what holds under which failure.

Api side: a circuit breaker and a bound on requests in flight make a dead broker cost a client
a fast 503, not a wait (see breaker.py). Worker side: offsets are committed only for partitions
still owned *in the same assignment* as when their messages were fetched, so a rebalance never
commits on behalf of a partition's new owner.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, cast

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from dream.errors import SnapshotTooLarge, TransportError
from dream.pipeline.base import Batch
from dream.pipeline.breaker import CircuitBreaker, InFlightLimit, Unavailable, admitted
from dream.settings import Settings
from dream.observability.metrics import (
    CIRCUIT_STATE,
    CONSUMER_LAG,
    DLQ_MESSAGES,
    PRODUCE_ERRORS,
)
from dream.observability.tracing import inject_headers, tracer
from dream.snapshots import Snapshot

log = structlog.get_logger(__name__)


def ensure_topics(settings: Settings, timeout_s: float = 15.0) -> None:
    """Create the snapshot topic and its dead-letter topic if they do not exist."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap or "", **settings.kafka_client_config()}
    )
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


_BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


def _settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(TransportError(f"broker did not acknowledge: {error.str()}"))


# After a broker restart, reconnect within a second rather than librdkafka's default 10 s backoff.
_RECONNECT = {"reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000}


class KafkaPublisher:
    """The api side: produce with ``acks=all`` and answer only once the broker acknowledged.

    ``admit()`` guards a whole request (body read included): it refuses at once while the
    circuit is open or ``max_in_flight`` requests are being served.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.kafka_topic
        self.timeout_s = settings.kafka_produce_timeout_s
        self.breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failures,
            reset_timeout_s=settings.breaker_reset_s,
            probe=self._probe,
            name="kafka",
        )
        self.in_flight = InFlightLimit(settings.max_in_flight)
        CIRCUIT_STATE.set_function(lambda: _BREAKER_STATES[self.breaker.state])
        self._lock = threading.Lock()
        self._verifying = False
        self._fatal: str | None = None
        self.producer = self._new_producer()
        self._closed = threading.Event()
        # Delivery callbacks run inside poll(); a thread keeps them flowing.
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _new_producer(self) -> Producer:
        return Producer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap,
                **self.settings.kafka_client_config(),
                "client.id": "dream-api",
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 5,
                "message.max.bytes": self.settings.kafka_max_message_bytes,
                "message.timeout.ms": int(self.settings.kafka_produce_timeout_s * 1000),
                # Bounded: a full queue is a 503, never unbounded memory.
                "queue.buffering.max.kbytes": 256 * 1024,
                "error_cb": self._on_error,
                **_RECONNECT,
            }
        )

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self.producer.poll(0.1)

    def _on_error(self, error: KafkaError) -> None:
        """Client-level errors (poll thread). All brokers down: verify, then open the circuit."""
        if error.fatal():
            # The idempotent producer cannot go on (e.g. its producer id was fenced); the next
            # request builds a new one.
            log.error("fatal producer error; the producer will be rebuilt", error=error.str())
            self._fatal = error.str()
            self.breaker.trip(f"fatal producer error: {error.str()}")
            return
        if error.code() != KafkaError._ALL_BROKERS_DOWN:
            log.debug("kafka client error", error=error.str())
            return
        with self._lock:
            if self._verifying:
                return
            self._verifying = True
        # An idle connection closed by the broker also says "all brokers down" for an instant;
        # only a metadata request that fails too opens the circuit.
        threading.Thread(target=self._verify_down, args=(error.str(),), daemon=True).start()

    def _verify_down(self, reason: str) -> None:
        try:
            if not self._probe():
                self.breaker.trip(reason)
        finally:
            with self._lock:
                self._verifying = False

    def _probe(self) -> bool:
        """The broker answers metadata and every partition of the topic has a leader."""
        try:
            metadata = self.producer.list_topics(self.topic, timeout=2.0)
        except KafkaException:
            return False
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            return False
        return all(p.leader >= 0 and p.error is None for p in topic.partitions.values())

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for one request, or raise ``Unavailable`` (→ 503) at once."""
        if self._fatal is not None:
            self._rebuild()
        with admitted(self.breaker, self.in_flight):
            yield

    def _rebuild(self) -> None:
        with self._lock:
            if self._fatal is None:
                return
            old, self.producer = self.producer, self._new_producer()
            self._fatal = None
        old.flush(0)
        log.info("producer rebuilt after a fatal error")

    async def publish(self, snapshot: Snapshot) -> None:
        with tracer().start_as_current_span("produce snapshot", kind=SpanKind.PRODUCER) as span:
            span.set_attribute("dream.snapshot_id", str(snapshot.snapshot_id))
            span.set_attribute("messaging.destination.name", self.topic)
            await self._publish(snapshot)

    async def _publish(self, snapshot: Snapshot) -> None:
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()

        def on_delivery(error: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, delivered, error)

        try:
            self.producer.produce(
                self.topic,
                value=snapshot.model_dump_json().encode(),
                key=snapshot.host.encode(),
                headers=[("snapshot_id", str(snapshot.snapshot_id).encode()), *inject_headers()],
                on_delivery=on_delivery,
            )
        except BufferError as exc:
            PRODUCE_ERRORS.labels("queue_full").inc()
            raise Unavailable("the producer queue is full; retry shortly", 1) from exc
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise SnapshotTooLarge(
                    f"the snapshot exceeds the pipeline's message limit of"
                    f" {self.settings.kafka_max_message_bytes} bytes"
                ) from exc
            self.breaker.record_failure(str(exc))
            PRODUCE_ERRORS.labels("produce").inc()
            raise TransportError(f"could not produce: {exc}") from exc
        try:
            await asyncio.wait_for(delivered, timeout=self.timeout_s + 1.0)
        except TimeoutError as exc:
            self.breaker.record_failure("acknowledgement timed out")
            PRODUCE_ERRORS.labels("ack_timeout").inc()
            raise TransportError("the broker did not acknowledge in time") from exc
        except TransportError as exc:
            self.breaker.record_failure(str(exc))
            PRODUCE_ERRORS.labels("delivery").inc()
            raise
        self.breaker.record_success()

    def ready(self) -> tuple[bool, str]:
        if self.breaker.state != "closed":
            with suppress(Unavailable):
                self.breaker.check()  # half-open: starts the probe, as a post would
            if self.breaker.state != "closed":
                return False, f"circuit {self.breaker.state}: {self.breaker.reason}"
        try:
            metadata = self.producer.list_topics(self.topic, timeout=2.0)
        except KafkaException as exc:
            return False, f"broker unreachable: {exc}"
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            return False, f"topic {self.topic} unavailable"
        return True, f"{len(metadata.brokers)} broker(s), {len(topic.partitions)} partition(s)"

    def close(self) -> None:
        if self._closed.is_set():
            return  # closed already (a closed producer refuses every call)
        remaining = self.producer.flush(self.timeout_s)
        if remaining:
            log.warning("producer closed with messages unacknowledged", messages=remaining)
        self._closed.set()
        self._poller.join(timeout=1.0)
        # Destroy the client now, not whenever the last reference goes: until then it keeps
        # reconnecting (and logging) to a broker that may be long gone.
        self.producer.close()


Lane = tuple[str, int]  # (topic, partition)


def consumed(msg: Message) -> tuple[str, int, int] | None:
    """(topic, partition, offset) of a consumed message; None (logged) for an error event."""
    error = msg.error()
    if error is not None:
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error", error=error.str())
        return None
    return cast(str, msg.topic()), cast(int, msg.partition()), cast(int, msg.offset())

RevokeListener = Callable[[list[Lane]], None]


class KafkaSource:
    """The worker side: a consumer in the worker group, committing only what is stored.

    It knows which partitions it owns, and since which assignment (an epoch): ``ack`` commits a
    batch's offset for a partition only if that partition has been owned without interruption
    since the batch was fetched. A listener (the worker) is told of revocations *before* they
    take effect, so it can finish and commit the batch in hand or give those partitions up.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self._lag_observed_at = 0.0
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                **settings.kafka_client_config(),
                "group.id": settings.kafka_group,
                "client.id": "dream-worker",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "session.timeout.ms": settings.kafka_session_timeout_ms,
                "max.poll.interval.ms": settings.kafka_max_poll_interval_ms,
                "max.partition.fetch.bytes": settings.kafka_max_message_bytes,
                "fetch.max.bytes": 4 * settings.kafka_max_message_bytes,
                **_RECONNECT,
            }
        )
        self._owned: dict[Lane, int] = {}  # partition → epoch of the assignment that gave it
        self._epochs = 0
        self._paused = False
        self._listener: RevokeListener | None = None
        self._dlq_closed = False
        try:
            self.consumer.subscribe(
                [settings.kafka_topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._dlq = Producer(
                {
                    "bootstrap.servers": settings.kafka_bootstrap,
                    **settings.kafka_client_config(),
                    "client.id": "dream-worker-dlq",
                    "enable.idempotence": True,
                    "acks": "all",
                    "message.max.bytes": settings.kafka_max_message_bytes,
                    "message.timeout.ms": 30_000,
                    **_RECONNECT,
                }
            )
        except BaseException:
            self.consumer.close()  # never leave a consumer to the interpreter's exit (see cli)
            raise

    # Rebalances (callbacks run inside consume/poll, on the worker's thread) -------------------

    def set_revoke_listener(self, listener: RevokeListener) -> None:
        self._listener = listener

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._epochs += 1
            self._owned[(tp.topic, tp.partition)] = self._epochs
        log.info("partitions assigned", partitions=[tp.partition for tp in partitions])
        if self._paused and partitions:
            # Waiting for the database: take the partitions, but do not fetch from them yet.
            consumer.incremental_assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lanes = [(tp.topic, tp.partition) for tp in partitions]
        log.info("partitions revoked", partitions=[tp.partition for tp in partitions])
        if self._listener is not None and lanes:
            self._listener(lanes)  # still owned: the listener may commit what it stored
        for lane in lanes:
            self._owned.pop(lane, None)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lanes = [(tp.topic, tp.partition) for tp in partitions]
        log.warning("partitions lost", partitions=[tp.partition for tp in partitions])
        for lane in lanes:
            self._owned.pop(lane, None)  # no commit for them any more
        if self._listener is not None and lanes:
            self._listener(lanes)

    def owns(self, lane: Lane) -> bool:
        return lane in self._owned

    # Pausing while the database is away ---------------------------------------------------------

    def pause(self) -> None:
        """Stop fetching (the position stays after the last message handed out)."""
        if not self._paused:
            self._paused = True
            self.consumer.pause(self.consumer.assignment())

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.consumer.resume(self.consumer.assignment())

    def idle(self, timeout_s: float) -> None:
        """Poll while paused: serves rebalances and keeps this member in the group."""
        msg = self.consumer.poll(timeout_s)
        where = consumed(msg) if msg is not None else None
        if where is None:
            return
        # Not expected while paused; put it back rather than lose it.
        tp = TopicPartition(*where)
        self.consumer.seek(tp)
        self.consumer.pause([tp])

    # Fetching and acknowledging -------------------------------------------------------------------

    def _messages(self, batch: Batch, max_snapshots: int, wait_s: float) -> Iterator[Message]:
        """Messages one at a time, until ``max_snapshots`` came, ``wait_s`` passed or ``batch``
        holds ``DREAM_BATCH_MAX_BYTES`` of output: memory is bounded by bytes, not only counts
        (it may pass the bound by the last snapshot; claim-checked outputs count by raw size)."""
        deadline = time.monotonic() + wait_s
        for _ in range(max_snapshots):
            if sum(s.output_bytes for s in batch.snapshots) >= self.settings.batch_max_bytes:
                return
            messages = self.consumer.consume(
                num_messages=1, timeout=max(0.0, deadline - time.monotonic())
            )
            if not messages:
                return
            yield messages[0]

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        batch = Batch(token={})
        dead: list[tuple[Message, str]] = []
        for msg in self._messages(batch, max_snapshots, wait_s):
            where = consumed(msg)
            if where is None:
                continue
            topic, partition, offset = where
            lane = (topic, partition)
            epoch = self._owned.get(lane)
            if epoch is None:  # fetched before a revocation served in this same call
                continue
            batch.token[lane] = (offset + 1, epoch)
            try:
                snapshot = Snapshot.model_validate_json(msg.value() or b"")
            except ValidationError as exc:
                dead.append((msg, f"invalid snapshot message: {exc}"))
                batch.rejected += 1
                continue
            batch.snapshots.append(snapshot)
            batch.lanes.append(lane)
            batch.origins.append(msg)
        self._observe_lag()
        # The batch's offsets are committed later; the dead letters must be durable before that.
        if dead and not self._dead_letter(dead):
            batch.token = {}  # stopping with dead letters undelivered: acknowledge nothing
            batch.abandoned = True
        return batch

    def _observe_lag(self) -> None:
        """Lag per owned partition, from the client's cached high watermarks (no broker call)."""
        now = time.monotonic()
        if now - self._lag_observed_at < 1.0:
            return
        self._lag_observed_at = now
        owned = [TopicPartition(t, p) for (t, p) in self._owned]
        try:
            positions = self.consumer.position(owned) if owned else []
        except KafkaException:
            return
        for tp in positions:
            try:
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high is not None and high >= 0 and tp.offset is not None and tp.offset >= 0:
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - tp.offset))

    def dead_letter(self, batch: Batch, failures: list[tuple[int, str]]) -> bool:
        """Send the snapshots at ``failures`` (index, reason) with their original message."""
        return self._dead_letter([(batch.origins[i], reason) for i, reason in failures])

    def _dead_letter(self, items: list[tuple[Message, str]]) -> bool:
        """Produce to the dead-letter topic until acknowledged; False if stopped before that."""
        pending = [self._dead_letter_record(msg, reason) for msg, reason in items]
        delay = 0.2
        while pending:
            failed: list[dict[str, Any]] = []
            for record in pending:

                def on_delivery(
                    error: KafkaError | None, _m: Message, r: dict = record, into: list = failed
                ) -> None:
                    if error is not None:
                        into.append(r)

                try:
                    self._dlq.produce(**record, on_delivery=on_delivery)
                except (BufferError, KafkaException) as exc:
                    log.warning("dead-letter produce failed", error=str(exc))
                    failed.append(record)
            while self._dlq.flush(1.0) > 0:
                if self.stopping.is_set():
                    return False
            pending = failed
            if pending:
                log.warning("dead-letter topic unavailable; retrying", retry_in_s=delay)
                if self.stopping.wait(delay):
                    return False
                delay = min(delay * 2, 10.0)
        return True

    def _dead_letter_record(self, msg: Message, reason: str) -> dict[str, Any]:
        log.error(
            "message sent to dead-letter topic",
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            reason=reason[:500],
        )
        # "parse failed: …", "rejected: …" (never storable), else an undecodable message
        kind = reason.split(" ", 1)[0].rstrip(":")
        DLQ_MESSAGES.labels(kind if kind in ("parse", "rejected") else "invalid").inc()
        headers = list(cast(list[tuple[str, Any]], msg.headers() or []))
        headers += [
            ("dream.error", reason.encode()),
            ("dream.source", f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode()),
        ]
        return {
            "topic": self.settings.kafka_dlq_topic,
            "value": msg.value(),
            "key": msg.key(),
            "headers": headers,
        }

    def ack(self, batch: Batch) -> None:
        if not batch.token:
            return
        offsets = [
            TopicPartition(t, p, offset)
            for (t, p), (offset, epoch) in batch.token.items()
            if self._owned.get((t, p)) == epoch
        ]
        if len(offsets) < len(batch.token):
            log.info(
                "not committing partitions revoked since the batch was fetched",
                partitions=sorted(p for (_, p) in batch.token if not self.owns((_, p))),
            )
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance in progress, or the partition was taken away. The rows are stored: the
            # next batch's commit covers these offsets too, and whoever reads the messages again
            # writes nothing (idempotent on snapshot_id).
            log.warning("offset commit failed; messages may be re-read", error=str(exc))

    def interrupt(self) -> None:
        """Stop waiting for the dead-letter topic (shutting down)."""
        self.stopping.set()

    def close(self) -> None:
        self.stopping.set()
        if self._dlq_closed:
            return
        self._dlq_closed = True
        self._dlq.flush(5.0)
        self.consumer.close()
        self._dlq.close()  # now, rather than left reconnecting until garbage-collected
