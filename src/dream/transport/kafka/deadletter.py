"""The worker's dead-letter producer: original messages, with why, to the dead-letter topic.

A letter carries the original value, key and headers (so it can be replayed as it was), plus
``dream.error`` (the reason) and ``dream.source`` (topic/partition/offset). The batch's offsets
are committed only once every letter is acknowledged by the broker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from dream.observability.sensors import Sensor
from dream.settings import Settings
from dream.transport.base import Position
from dream.transport.kafka.client import client_config

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Original:
    """What the dead-letter topic needs of a consumed message (not the client's object)."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, Any]]

    @classmethod
    def of(cls, msg: Message) -> Original:
        headers = cast(list[tuple[str, Any]], msg.headers() or [])  # consumed: always a list
        return cls(msg.value(), msg.key(), list(headers))


class DeadLetters:
    """Produces letters until the broker acknowledges them all, or until ``stopping``."""

    def __init__(self, settings: Settings, stopping: threading.Event, sensor: Sensor) -> None:
        self.sensor = sensor
        self.topic = settings.kafka_dlq_topic
        self.stopping = stopping
        self.producer = Producer(client_config(settings, "dead-letter"))
        self.closed = False

    def send(self, letters: list[tuple[Position, Original, str]]) -> bool:
        """Send (position, original, reason) letters; False if stopped before all were acked."""
        pending = [self._record(position, original, why) for position, original, why in letters]
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
                    self.producer.produce(**record, on_delivery=on_delivery)
                except (BufferError, KafkaException) as exc:
                    log.warning("dead-letter produce failed", error=str(exc))
                    failed.append(record)
            while self.producer.flush(1.0) > 0:
                if self.stopping.is_set():
                    return False
            pending = failed
            if pending:
                log.warning("dead-letter topic unavailable; retrying", retry_in_s=delay)
                if self.stopping.wait(delay):
                    return False
                delay = min(delay * 2, 10.0)
        return True

    def _record(self, position: Position, original: Original, reason: str) -> dict[str, Any]:
        lane = position.lane
        log.error(
            "message sent to dead-letter topic",
            topic=lane.name,
            partition=lane.index,
            offset=position.offset,
            reason=reason[:500],
        )
        # "parse failed: …", "rejected: …" (never storable), else an undecodable message
        kind = reason.split(" ", 1)[0].rstrip(":")
        self.sensor.on_dead_lettered(kind if kind in ("parse", "rejected") else "invalid")
        headers = [
            *original.headers,
            ("dream.error", reason.encode()),
            ("dream.source", f"{lane.name}/{lane.index}/{position.offset}".encode()),
        ]
        return {"topic": self.topic, "value": original.value, "key": original.key,
                "headers": headers}  # fmt: skip

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.producer.flush(5.0)
        self.producer.close()  # now, rather than left reconnecting until garbage-collected
