"""The transport's two ends: a Publisher (api side) and a Source (worker side).

Implementations: ``direct`` (PostgreSQL is the queue, for the embedded single-process default),
``kafka`` (a topic keyed by host, consumed by a consumer group) and ``memory`` (unit tests of
the worker only). The contract is complete: the worker and the api call nothing else, and a
transport with nothing to do for a step inherits the documented no-op. The same contract suite
(tests/transport/) runs against all three, so they cannot drift apart.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from dream.observability.tracing import TraceHeaders as TraceHeaders  # a delivery's context
from dream.snapshots import Snapshot


@dataclass(frozen=True, slots=True, order=True)
class Lane:
    """Where order holds: one host's snapshots travel in one lane (Kafka: a partition)."""

    name: str  # Kafka: the topic
    index: int = 0  # Kafka: the partition

    def __str__(self) -> str:
        return f"{self.name}/{self.index}"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a delivery was read, and under which assignment of its lane.

    ``generation`` changes each time the lane is (re)assigned to this consumer: a position read
    under an earlier assignment is never acknowledged, so a rebalance never commits on behalf of
    the lane's new owner. ``offset`` is None where the transport has none (direct).
    """

    lane: Lane
    offset: int | None = None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One snapshot as the source handed it out: where it came from and the api's trace."""

    snapshot: Snapshot
    position: Position
    trace_context: TraceHeaders = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery (by index in its batch) that must leave the lane without being stored.

    ``rejected``: it can never be stored as it is; ``parse``: it was stored as ``failed`` and the
    original goes to the dead-letter destination for a later replay.
    """

    index: int
    reason: str
    kind: Literal["rejected", "parse"] = "rejected"


@dataclass(slots=True)
class Batch:
    """Deliveries fetched together, and the positions ``ack`` will acknowledge."""

    deliveries: list[Delivery] = field(default_factory=list)
    # Per lane, the last position read, including messages that could not even be decoded
    # (already sent to the dead-letter destination): acknowledging moves past those too.
    ends: dict[Lane, Position] = field(default_factory=dict)
    rejected: int = 0  # messages the source could not decode
    # The source gave up on this batch (stopping): it must not be acknowledged, nor any after it.
    abandoned: bool = False

    @property
    def snapshots(self) -> list[Snapshot]:
        return [d.snapshot for d in self.deliveries]

    def read(self, position: Position) -> None:
        """Record ``position`` as read (the last one read of its lane so far)."""
        self.ends[position.lane] = position

    def extend(self, more: Batch) -> None:
        """Take in ``more``, fetched after this batch from the same source: its deliveries, the
        later position of each lane, its rejected messages; abandoned if it was."""
        self.deliveries += more.deliveries
        self.ends.update(more.ends)
        self.rejected += more.rejected
        self.abandoned |= more.abandoned

    def drop_lanes(self, lanes: set[Lane]) -> list[int]:
        """Forget the deliveries (and positions) of ``lanes``; returns the indices kept."""
        keep = [i for i, d in enumerate(self.deliveries) if d.position.lane not in lanes]
        self.deliveries = [self.deliveries[i] for i in keep]
        self.ends = {lane: p for lane, p in self.ends.items() if lane not in lanes}
        return keep


def output_bytes(deliveries: Iterable[Delivery]) -> int:
    """Their outputs' bytes, what ``DREAM_BATCH_MAX_BYTES`` bounds a batch by (claim-checked
    outputs count by their raw size)."""
    return sum(d.snapshot.output_bytes for d in deliveries)


RevokeListener = Callable[[list[Lane]], None]


class Publisher(ABC):
    """Hands accepted snapshots to the transport."""

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Guard a whole post (body read included); raise ``Unavailable`` (→ 503) at once when
        the transport cannot take it now. Default: every post is admitted."""
        yield

    @abstractmethod
    async def publish(self, snapshot: Snapshot) -> None:
        """Return only once the snapshot is durable; raise TransportError otherwise."""

    @abstractmethod
    def ready(self) -> tuple[bool, str]:
        """Whether the transport is reachable now, with a short human-readable detail."""

    @abstractmethod
    def close(self) -> None:
        """Flush what was accepted and release the connections (idempotent)."""


class Source(ABC):
    """Yields batches of deliveries for the worker; ``ack`` after they are stored."""

    @abstractmethod
    def fetch(self, max_snapshots: int, wait_s: float) -> Batch:
        """Up to ``max_snapshots`` deliveries, waiting at most ``wait_s`` for the first.

        A delivery fetched and not acknowledged is not handed out again by this source; it is
        delivered again after a ``close`` (to the next source of the same consumer group).
        """

    @abstractmethod
    def ack(self, batch: Batch) -> None:
        """Acknowledge ``batch``; called only after its database transaction committed.

        Positions read under an earlier assignment of their lane are not acknowledged.
        """

    @abstractmethod
    def dead_letter(self, batch: Batch, letters: list[DeadLetter]) -> int | None:
        """Record ``letters`` at the dead-letter destination before ``ack``; retried until done.

        Returns how many reached it (a transport may keep parse failures nowhere but in the
        ``failed`` row the worker stores), or None if stopped before they were all recorded.
        """

    def set_revoke_listener(self, listener: RevokeListener) -> None:
        """Call ``listener`` with the lanes taken away, *before* they go (on the thread that
        fetches), so the batch in hand can still be acknowledged. Default: lanes never move."""
        return None

    def pause(self) -> None:
        """Stop handing out deliveries while the database is away. Default: nothing to stop
        (the source is only read when the worker fetches)."""
        return None

    def resume(self) -> None:
        """Undo ``pause``. Default: nothing to undo."""
        return None

    def idle(self, timeout_s: float) -> None:
        """While paused: keep this consumer's membership alive (and serve revocations) for
        ``timeout_s``. Default: no membership to keep, just wait."""
        time.sleep(timeout_s)

    def interrupt(self) -> None:
        """Stop waiting (e.g. for the dead-letter destination): the worker is stopping. Safe
        from a signal handler. Default: nothing waits for long."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Leave: deliveries not acknowledged go to whoever reads the lanes next."""
