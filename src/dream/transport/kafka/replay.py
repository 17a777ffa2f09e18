"""``dream replay``: re-read the snapshot topic from an offset or a time into the database.

A consumer of its own (``assign`` + explicit start offsets, never a commit) reads every
partition from the start point up to the end the topic had when the replay began, and feeds the
ordinary worker. Writes are idempotent on ``snapshot_id``: a snapshot already stored (or
recorded failed) is left exactly as it is, so a replay only fills in what is missing — after
restoring the database from a backup, say. The worker group's committed offsets are untouched.

Limits: a replay sees only what the topic still retains (``retention.ms``); it does not re-parse
snapshots already final in the database; undecodable messages are counted and skipped (the live
worker already sent them to the dead-letter topic), and it sends nothing to the dead-letter topic.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from pydantic import ValidationError

from dream.errors import TransportError
from dream.settings import Settings
from dream.snapshots import Snapshot
from dream.transport.base import Batch, DeadLetter, Delivery, Lane, Position, Source
from dream.transport.kafka.client import client_config
from dream.transport.kafka.source import consumed, trace_headers

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ReplayPlan:
    """Per partition: where the replay starts and the end (exclusive) it reads up to."""

    topic: str
    start: dict[int, int] = field(default_factory=dict)
    end: dict[int, int] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(max(0, self.end[p] - self.start[p]) for p in self.start)


class ReplaySource(Source):
    """A Source reading a fixed range of the topic; ``exhausted`` once it has all been read."""

    def __init__(
        self,
        settings: Settings,
        *,
        from_offset: int | None = None,
        since: datetime | None = None,
        partitions: list[int] | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        if (from_offset is None) == (since is None):
            raise ValueError("give exactly one of from_offset and since")
        self.settings = settings
        self.consumer = Consumer(
            client_config(
                settings, "replay",
                # Never joins the workers' group and never commits: assign() only.
                **{"group.id": f"{settings.kafka_group}.replay-{uuid.uuid4().hex[:8]}",
                   "enable.auto.offset.store": False},
            )
        )  # fmt: skip
        self.plan = self._plan(from_offset, since, partitions, timeout_s)
        self.position = dict(self.plan.start)
        self.undecodable = 0
        self.read = 0
        self._progress_at = time.monotonic()
        todo = [
            TopicPartition(self.plan.topic, p, self.plan.start[p])
            for p in sorted(self.plan.start)
            if self.plan.start[p] < self.plan.end[p]
        ]
        if todo:
            self.consumer.assign(todo)

    def _plan(
        self,
        from_offset: int | None,
        since: datetime | None,
        partitions: list[int] | None,
        timeout_s: float,
    ) -> ReplayPlan:
        topic = self.settings.kafka_topic
        try:
            metadata = self.consumer.list_topics(topic, timeout=timeout_s)
        except KafkaException as exc:
            raise TransportError(f"broker unreachable: {exc}") from exc
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            raise TransportError(f"topic {topic} unavailable")
        wanted = sorted(info.partitions) if partitions is None else sorted(partitions)
        plan = ReplayPlan(topic)
        for p in wanted:
            low, high = self.consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=timeout_s
            )
            plan.end[p] = high
            if from_offset is not None:
                plan.start[p] = min(max(low, from_offset), high)
        if since is not None:
            ms = int(since.timestamp() * 1000)
            found = self.consumer.offsets_for_times(
                [TopicPartition(topic, p, ms) for p in wanted], timeout=timeout_s
            )
            for tp in found:
                # -1: no message at or after ``since`` in this partition.
                plan.start[tp.partition] = plan.end[tp.partition] if tp.offset < 0 else tp.offset
        return plan

    @property
    def exhausted(self) -> bool:
        return all(self.position[p] >= self.plan.end[p] for p in self.plan.start)

    def stalled(self, after_s: float) -> bool:
        """Nothing read for ``after_s`` although the plan is not done (messages deleted?)."""
        return time.monotonic() - self._progress_at > after_s

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        batch = Batch()
        if self.exhausted:
            return batch
        for msg in self.consumer.consume(num_messages=max_snapshots, timeout=wait_s):
            where = consumed(msg)
            if where is None:
                continue
            topic, p, offset = where
            if offset >= self.plan.end[p]:
                continue  # produced after the replay began: the live worker's business
            self.position[p] = max(self.position[p], offset + 1)
            self.read += 1
            self._progress_at = time.monotonic()
            try:
                snapshot = Snapshot.model_validate_json(msg.value() or b"")
            except ValidationError:
                self.undecodable += 1
                continue
            position = Position(Lane(topic, p), offset)
            batch.deliveries.append(Delivery(snapshot, position, trace_headers(msg)))
        return batch

    def ack(self, batch: Batch) -> None:
        """Nothing to commit: the replay's progress is not recorded anywhere."""

    def dead_letter(self, batch: Batch, letters: list[DeadLetter]) -> int:
        """Sends nothing: the live worker already dead-lettered these messages when it first
        read them; a replay only fills in what is missing from the database."""
        for letter in letters:
            if letter.kind == "rejected":
                log.error("replayed snapshot cannot be stored; left out", reason=letter.reason,
                          snapshot_id=str(batch.deliveries[letter.index].snapshot.snapshot_id))
        return 0

    def close(self) -> None:
        self.consumer.close()
