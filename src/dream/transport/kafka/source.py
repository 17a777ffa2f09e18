"""The worker side of the Kafka transport: a consumer group member committing only what is stored.

The consumer commits offsets only after the batch's database transaction committed; a message
delivered again after a crash or rebalance is written once thanks to the idempotent upsert on
``snapshot_id``. Offsets are committed only for partitions still owned *in the same assignment*
(the position's generation) as when their messages were fetched, so a rebalance never commits on
behalf of a partition's new owner. docs/guarantees.md says what holds under which failure.

The client's ``Message`` objects stay here: the worker sees ``Delivery`` values, and what the
dead-letter topic needs of each message is kept by position until its batch is acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import cast

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.settings import Settings
from dream.snapshots import Snapshot
from dream.transport.base import (
    Batch,
    DeadLetter,
    Delivery,
    Lane,
    Position,
    RevokeListener,
    Source,
    TraceHeaders,
    output_bytes,
)
from dream.transport.kafka.client import client_config
from dream.transport.kafka.deadletter import DeadLetters, Original

log = structlog.get_logger(__name__)


def consumed(msg: Message) -> tuple[str, int, int] | None:
    """(topic, partition, offset) of a consumed message; None (logged) for an error event."""
    error = msg.error()
    if error is not None:
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error", error=error.str())
        return None
    return cast(str, msg.topic()), cast(int, msg.partition()), cast(int, msg.offset())


def trace_headers(msg: Message) -> TraceHeaders:
    """The message's headers (the api's trace context among them), as a delivery carries them."""
    headers = cast(list[tuple[str, object]], msg.headers() or [])  # consumed: always a list
    return [(k, v) for k, v in headers if isinstance(v, bytes)]


class KafkaSource(Source):
    """A consumer in the worker group; it knows which partitions it owns, and since which
    assignment (a generation). A listener (the worker) is told of revocations *before* they
    take effect, so it can finish and commit the batch in hand or give those partitions up."""

    def __init__(self, settings: Settings, sensor: Sensor = NULL_SENSOR) -> None:
        self.settings = settings
        self.sensor = sensor
        self.stopping = threading.Event()
        self._lag_observed_at = 0.0
        self.consumer = Consumer(client_config(settings, "worker"))
        self._owned: dict[Lane, int] = {}  # partition → generation of the assignment that gave it
        self._generations = 0
        self._paused = False
        self._listener: RevokeListener | None = None
        self._originals: dict[Position, Original] = {}  # handed out, not yet acknowledged
        try:
            self.consumer.subscribe(
                [settings.kafka_topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._letters = DeadLetters(settings, self.stopping, sensor)
        except BaseException:
            self.consumer.close()  # never leave a consumer to the interpreter's exit (see cli)
            raise

    # Rebalances (callbacks run inside consume/poll, on the worker's thread) -------------------

    def set_revoke_listener(self, listener: RevokeListener) -> None:
        self._listener = listener

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._generations += 1
            self._owned[Lane(tp.topic, tp.partition)] = self._generations
        log.info("partitions assigned", partitions=[tp.partition for tp in partitions])
        if self._paused and partitions:
            # Waiting for the database: take the partitions, but do not fetch from them yet.
            consumer.incremental_assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lanes = [Lane(tp.topic, tp.partition) for tp in partitions]
        log.info("partitions revoked", partitions=[tp.partition for tp in partitions])
        if self._listener is not None and lanes:
            self._listener(lanes)  # still owned: the listener may commit what it stored
        self._forget(lanes)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lanes = [Lane(tp.topic, tp.partition) for tp in partitions]
        log.warning("partitions lost", partitions=[tp.partition for tp in partitions])
        self._forget(lanes)  # no commit for them any more
        if self._listener is not None and lanes:
            self._listener(lanes)

    def _forget(self, lanes: list[Lane]) -> None:
        for lane in lanes:
            self._owned.pop(lane, None)
        gone = set(lanes)
        for position in [p for p in self._originals if p.lane in gone]:
            del self._originals[position]

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
        counted = size = 0  # the bytes of batch.deliveries[:counted]: each delivery added once
        for _ in range(max_snapshots):
            size += output_bytes(batch.deliveries[counted:])
            counted = len(batch.deliveries)
            if size >= self.settings.batch_max_bytes:
                return
            messages = self.consumer.consume(
                num_messages=1, timeout=max(0.0, deadline - time.monotonic())
            )
            if not messages:
                return
            yield messages[0]

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        batch = Batch()
        dead: list[tuple[Position, Original, str]] = []
        for msg in self._messages(batch, max_snapshots, wait_s):
            where = consumed(msg)
            if where is None:
                continue
            topic, partition, offset = where
            lane = Lane(topic, partition)
            generation = self._owned.get(lane)
            if generation is None:  # fetched before a revocation served in this same call
                continue
            position = Position(lane, offset, generation)
            batch.read(position)
            try:
                snapshot = Snapshot.model_validate_json(msg.value() or b"")
            except ValidationError as exc:
                dead.append((position, Original.of(msg), f"invalid snapshot message: {exc}"))
                batch.rejected += 1
                continue
            self._originals[position] = Original.of(msg)
            batch.deliveries.append(Delivery(snapshot, position, trace_headers(msg)))
        self._observe_lag()
        # The batch's offsets are committed later; the dead letters must be durable before that.
        if dead and not self._letters.send(dead):
            batch.ends = {}  # stopping with dead letters undelivered: acknowledge nothing
            batch.abandoned = True
        return batch

    def _observe_lag(self) -> None:
        """Lag per owned partition, from the client's cached high watermarks (no broker call)."""
        now = time.monotonic()
        if now - self._lag_observed_at < 1.0:
            return
        self._lag_observed_at = now
        owned = [TopicPartition(lane.name, lane.index) for lane in self._owned]
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
                self.sensor.on_consumer_lag(tp.topic, tp.partition, max(0, high - tp.offset))

    def dead_letter(self, batch: Batch, letters: list[DeadLetter]) -> int | None:
        """Send the deliveries at ``letters`` with their original message."""
        items = []
        for letter in letters:
            delivery = batch.deliveries[letter.index]
            original = self._originals.get(delivery.position) or _republished(delivery)
            items.append((delivery.position, original, letter.reason))
        return len(items) if self._letters.send(items) else None

    def ack(self, batch: Batch) -> None:
        for delivery in batch.deliveries:
            self._originals.pop(delivery.position, None)
        ends = batch.ends
        offsets = [
            TopicPartition(lane.name, lane.index, cast(int, p.offset) + 1)
            for lane, p in ends.items()
            if self._owned.get(lane) == p.generation
        ]
        if len(offsets) < len(ends):
            log.info(
                "not committing partitions revoked since the batch was fetched",
                partitions=sorted(lane.index for lane in ends if not self.owns(lane)),
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
        if self._letters.closed:
            return
        self._letters.close()
        self.consumer.close()
        self._originals.clear()


def _republished(delivery: Delivery) -> Original:
    """The message as the api produced it, for a delivery whose partition was revoked while its
    batch was being written (its original was forgotten with the partition)."""
    snapshot = delivery.snapshot
    headers = [("snapshot_id", str(snapshot.snapshot_id).encode()), *delivery.trace_context]
    return Original(snapshot.model_dump_json().encode(), snapshot.host.encode(), headers)
