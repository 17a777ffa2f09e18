"""An in-memory transport, for unit tests of the worker only (never wired into the app).

It behaves as the Kafka transport does where the worker can tell: messages are bytes keyed by
host into lanes (so one host stays in order), a consumer group shares the lanes, a lane moving
to another member is announced to its owner *before* it goes (inside that owner's fetch or
idle, as librdkafka serves rebalances inside poll), what was not acknowledged is delivered
again to whoever reads the lane next, and dead letters land in a list. tests/transport/ runs
the same contract cases against it, the direct transport and a real broker, so it cannot drift.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from dream.errors import TransportError
from dream.observability.tracing import inject_headers
from dream.snapshots import Snapshot
from dream.transport.base import (
    Batch,
    DeadLetter,
    Delivery,
    Lane,
    Position,
    Publisher,
    RevokeListener,
    Source,
    TraceHeaders,
)
from dream.transport.breaker import Unavailable

Message = tuple[bytes, TraceHeaders]


class MemoryBroker:
    """Lanes of messages, committed positions per group, and the dead-letter list."""

    def __init__(self, lanes: int = 2, topic: str = "snapshots") -> None:
        self.lanes = [Lane(topic, i) for i in range(lanes)]
        self.log: dict[Lane, list[Message]] = {lane: [] for lane in self.lanes}
        self.committed: dict[tuple[str, Lane], int] = {}  # (group, lane) → next offset
        self.dead_letters: list[tuple[bytes, str]] = []  # (original message, reason)
        # Fault switches for tests: refuse publishing; keep dead letters from landing.
        self.down = False
        self.dead_letters_down = False
        self.changed = threading.Condition()
        self._members: dict[str, list[MemorySource]] = {}

    def lane_of(self, host: str) -> Lane:
        return self.lanes[zlib.crc32(host.encode()) % len(self.lanes)]

    def append(self, lane: Lane, value: bytes, headers: TraceHeaders | None = None) -> None:
        """Put a message (possibly not a snapshot at all) at the end of ``lane``."""
        with self.changed:
            self.log[lane].append((value, list(headers or [])))
            self.changed.notify_all()

    # The group: each member's share of the lanes -------------------------------------------

    def join(self, member: MemorySource) -> None:
        with self.changed:
            self._members.setdefault(member.group, []).append(member)
            self._rebalance(member.group)

    def leave(self, member: MemorySource) -> None:
        with self.changed:
            members = self._members.get(member.group, [])
            if member in members:
                members.remove(member)
                self._rebalance(member.group)

    def _rebalance(self, group: str) -> None:
        """Deal the lanes out again; an owner keeps each lane until it has served its revocation."""
        members = self._members[group]
        for i, member in enumerate(members):
            member.target = {lane for j, lane in enumerate(self.lanes) if j % len(members) == i}
        self.changed.notify_all()

    def claimable(self, member: MemorySource) -> list[Lane]:
        """Lanes dealt to ``member`` that no other member of its group still owns."""
        others = [m for m in self._members.get(member.group, []) if m is not member]
        held = set().union(*(m.owned for m in others)) if others else set()
        return sorted(lane for lane in member.target - member.owned.keys() if lane not in held)


class MemoryPublisher(Publisher):
    """Appends each snapshot to its host's lane, as the Kafka publisher keys by host."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.broker.down:
            raise Unavailable("the memory broker is down", 1)
        yield

    async def publish(self, snapshot: Snapshot) -> None:
        if self.broker.down:
            raise TransportError("the memory broker is down")
        value = snapshot.model_dump_json().encode()
        self.broker.append(self.broker.lane_of(snapshot.host), value, inject_headers())

    def ready(self) -> tuple[bool, str]:
        return (False, "memory broker down") if self.broker.down else (True, "memory")

    def close(self) -> None:
        return None  # nothing buffered: publish returned once the message was in its lane


class MemorySource(Source):
    """One member of a consumer group on a ``MemoryBroker``."""

    def __init__(self, broker: MemoryBroker, group: str = "workers") -> None:
        self.broker = broker
        self.group = group
        self.target: set[Lane] = set()  # dealt to this member by the last rebalance
        self.owned: dict[Lane, int] = {}  # lane → generation of the assignment that gave it
        self._next: dict[Lane, int] = {}  # lane → next offset to hand out
        self._generations = 0
        self._listener: RevokeListener | None = None
        self._paused = False
        self._closed = False
        self.stopping = threading.Event()
        broker.join(self)

    def set_revoke_listener(self, listener: RevokeListener) -> None:
        self._listener = listener

    def _serve_rebalance(self) -> None:
        """Announce lanes dealt away (then let them go), and take up lanes dealt to us."""
        with self.broker.changed:
            revoked = sorted(lane for lane in self.owned if lane not in self.target)
        if revoked and self._listener is not None:
            self._listener(revoked)  # still owned: the listener may acknowledge what it stored
        with self.broker.changed:
            for lane in revoked:
                self.owned.pop(lane, None)
                self._next.pop(lane, None)
            for lane in self.broker.claimable(self):
                self._generations += 1
                self.owned[lane] = self._generations
                self._next[lane] = self.broker.committed.get((self.group, lane), 0)
            if revoked:
                self.broker.changed.notify_all()

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        deadline = time.monotonic() + wait_s
        batch = Batch()
        dead: list[tuple[bytes, str]] = []
        while True:
            self._serve_rebalance()
            if not self._paused and not self._closed:
                self._read(batch, max_snapshots, dead)
            remaining = deadline - time.monotonic()
            if batch.deliveries or batch.rejected or remaining <= 0 or self.stopping.is_set():
                break
            with self.broker.changed:
                self.broker.changed.wait(min(remaining, 0.05))
        # The batch's positions are acknowledged later; the dead letters must be in before that.
        if dead and not self._send(dead):
            batch.ends, batch.abandoned = {}, True
        return batch

    def _read(self, batch: Batch, max_snapshots: int, dead: list[tuple[bytes, str]]) -> None:
        with self.broker.changed:
            for lane, generation in sorted(self.owned.items()):
                messages = self.broker.log[lane]
                while len(batch.deliveries) < max_snapshots and self._next[lane] < len(messages):
                    offset = self._next[lane]
                    value, headers = messages[offset]
                    self._next[lane] = offset + 1
                    position = Position(lane, offset, generation)
                    batch.read(position)
                    try:
                        snapshot = Snapshot.model_validate_json(value)
                    except ValidationError as exc:
                        dead.append((value, f"invalid snapshot message: {exc}"))
                        batch.rejected += 1
                        continue
                    batch.deliveries.append(Delivery(snapshot, position, headers))

    def _send(self, letters: list[tuple[bytes, str]]) -> bool:
        """Record ``letters``, waiting while the dead-letter list is down; False if stopped."""
        while self.broker.dead_letters_down:
            if self.stopping.wait(0.05):
                return False
        with self.broker.changed:
            self.broker.dead_letters.extend(letters)
        return True

    def dead_letter(self, batch: Batch, letters: list[DeadLetter]) -> int | None:
        """The original messages, with their reasons, to ``broker.dead_letters``."""
        originals = []
        with self.broker.changed:
            for letter in letters:
                position = batch.deliveries[letter.index].position
                value, _headers = self.broker.log[position.lane][position.offset or 0]
                originals.append((value, letter.reason))
        return len(originals) if self._send(originals) else None

    def ack(self, batch: Batch) -> None:
        with self.broker.changed:
            for lane, position in batch.ends.items():
                if self.owned.get(lane) == position.generation and position.offset is not None:
                    key = (self.group, lane)
                    self.broker.committed[key] = max(
                        self.broker.committed.get(key, 0), position.offset + 1
                    )

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def idle(self, timeout_s: float) -> None:
        """Serve rebalances while paused, as polling a paused Kafka consumer does."""
        self._serve_rebalance()
        self.stopping.wait(timeout_s)

    def interrupt(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self.owned.clear()
        self.broker.leave(self)
