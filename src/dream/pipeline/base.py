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


class Source(Protocol):
    """Yields batches of snapshots for the worker; ``ack`` after they are stored."""

    def fetch(self, max_snapshots: int, wait_s: float) -> Batch: ...

    def ack(self, batch: Batch) -> None:
        """Acknowledge ``batch``; called only after its database transaction committed."""

    def close(self) -> None: ...
