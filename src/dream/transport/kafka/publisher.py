"""The api side of the Kafka transport: produce with ``acks=all``, answer once acknowledged.

Messages are snapshots as JSON, keyed by host so one machine's snapshots stay in order on one
partition. A circuit breaker and a bound on requests in flight make a dead broker cost a client
a fast 503, not a wait (see breaker.py). docs/guarantees.md says what holds under which failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from opentelemetry.trace import SpanKind

from dream.errors import SnapshotTooLarge, TransportError
from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.observability.tracing import inject_headers, tracer
from dream.snapshots import Snapshot
from dream.transport.base import Publisher
from dream.transport.breaker import CircuitBreaker, InFlightLimit, Unavailable, admitted
from dream.transport.kafka.client import client_config
from dream.settings import Settings

log = structlog.get_logger(__name__)




def _settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(TransportError(f"broker did not acknowledge: {error.str()}"))


class KafkaPublisher(Publisher):
    """The api side: produce with ``acks=all`` and answer only once the broker acknowledged.

    ``admit()`` guards a whole request (body read included): it refuses at once while the
    circuit is open or ``max_in_flight`` requests are being served.
    """

    def __init__(self, settings: Settings, sensor: Sensor = NULL_SENSOR) -> None:
        self.settings = settings
        self.sensor = sensor
        self.topic = settings.kafka_topic
        self.timeout_s = settings.kafka_produce_timeout_s
        self.breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failures,
            reset_timeout_s=settings.breaker_reset_s,
            probe=self._probe,
            name="kafka",
        )
        self.in_flight = InFlightLimit(settings.max_in_flight)
        sensor.watch_breaker(lambda: self.breaker.state)
        self._lock = threading.Lock()
        self._verifying = False
        self._fatal: str | None = None
        self.producer = self._new_producer()
        self._closed = threading.Event()
        # Delivery callbacks run inside poll(); a thread keeps them flowing.
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def _new_producer(self) -> Producer:
        return Producer(client_config(self.settings, "api", error_cb=self._on_error))

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
            self.sensor.on_produce_failed("queue_full")
            raise Unavailable("the producer queue is full; retry shortly", 1) from exc
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE:
                raise SnapshotTooLarge(
                    f"the snapshot exceeds the pipeline's message limit of"
                    f" {self.settings.kafka_max_message_bytes} bytes"
                ) from exc
            self.breaker.record_failure(str(exc))
            self.sensor.on_produce_failed("produce")
            raise TransportError(f"could not produce: {exc}") from exc
        try:
            await asyncio.wait_for(delivered, timeout=self.timeout_s + 1.0)
        except TimeoutError as exc:
            self.breaker.record_failure("acknowledgement timed out")
            self.sensor.on_produce_failed("ack_timeout")
            raise TransportError("the broker did not acknowledge in time") from exc
        except TransportError as exc:
            self.breaker.record_failure(str(exc))
            self.sensor.on_produce_failed("delivery")
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
