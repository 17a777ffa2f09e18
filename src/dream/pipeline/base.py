"""The pipeline's two ends: a Publisher (api side) and a Source (worker side).

Implementations: ``direct`` (PostgreSQL is the queue, for the embedded single-process default)
and ``kafka`` (a topic keyed by host, consumed by a consumer group).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from dream.snapshots import Snapshot


class Publisher(Protocol):
    """Hands accepted snapshots to the pipeline."""

    async def publish(self, snapshot: Snapshot) -> None:
        """Return only once the snapshot is durable; raise TransportError otherwise."""

    def ready(self) -> tuple[bool, str]:
        """Whether the transport is reachable now, with a short human-readable detail."""

    def close(self) -> None: ...


@dataclass(slots=True)
class Batch:
    """Snapshots fetched together, and what the source needs to acknowledge them later."""

    snapshots: list[Snapshot] = field(default_factory=list)
    # Messages the source could not even decode; already sent to the dead-letter destination.
    rejected: int = 0
    token: Any = None
    # Parallel to ``snapshots`` when the source has them: the lane (Kafka: topic and partition)
    # each came from, and the source's original message (for the dead-letter topic).
    lanes: list[Any] = field(default_factory=list)
    origins: list[Any] = field(default_factory=list)
    # The source gave up on this batch (stopping): it must not be acknowledged, nor any after it.
    abandoned: bool = False
    # snapshot_id → the api's trace context as W3C headers, from sources whose messages carry
    # no headers of their own (direct), so the worker's spans continue the api's trace.
    traces: dict[Any, list[tuple[str, bytes]]] = field(default_factory=dict)

    def drop_lanes(self, lanes: set[Any]) -> list[int]:
        """Forget the snapshots (and offsets) of ``lanes``; returns the indices kept."""
        if not self.lanes:
            return list(range(len(self.snapshots)))
        keep = [i for i, lane in enumerate(self.lanes) if lane not in lanes]
        if len(keep) < len(self.lanes):
            self.snapshots = [self.snapshots[i] for i in keep]
            self.origins = [self.origins[i] for i in keep] if self.origins else []
            self.lanes = [self.lanes[i] for i in keep]
        if isinstance(self.token, dict):
            self.token = {k: v for k, v in self.token.items() if k not in lanes}
        return keep


class Source(Protocol):
    """Yields batches of snapshots for the worker; ``ack`` after they are stored.

    Optional, used by the worker when present (the Kafka source has them):
    ``dead_letter(batch, [(index, reason)]) -> bool`` before ``ack`` for snapshots that can
    never be stored (and, with ``origins``, those that failed to parse); ``pause()`` / ``resume()`` / ``idle(timeout_s)`` while the database is away;
    ``set_revoke_listener(fn)`` to hear of lanes taken away; ``interrupt()`` when stopping.
    """

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch: ...

    def ack(self, batch: Batch) -> None:
        """Acknowledge ``batch``; called only after its database transaction committed."""

    def close(self) -> None: ...
