"""Fleet health from what the api hears: each accepted snapshot's host, agent (``User-Agent``),
clock (``Date``) and times, written to ``fleet_hosts`` off the request path, in batches,
best-effort like the receipts (a failed write is logged, never retried into memory without
bound); and how many hosts are reporting, late or silent, for the ``dream_fleet_hosts`` gauge.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import structlog

from dream.errors import StorageError
from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.storage import fleet
from dream.storage.database import Database
from dream.storage.errors import storage_errors

log = structlog.get_logger(__name__)

MAX_AGENT_CHARS = 200


def agent_of(user_agent: str | None) -> str | None:
    """The product and version a ``User-Agent`` names first (``dream-agent/1.2.0``)."""
    words = (user_agent or "").split()
    return words[0][:MAX_AGENT_CHARS] if words else None


@dataclass(eq=False)
class FleetRecorder:
    """Heard snapshots, flushed every ``flush_s``; the status counts every ``count_s``."""

    db: Database
    sensor: Sensor = NULL_SENSOR
    flush_s: float = 1.0
    count_s: float = 30.0
    capacity: int = 100_000
    _pending: list[fleet.Heard] = field(default_factory=list, init=False)
    _dropped: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def add(self, heard: fleet.Heard) -> None:
        """Never blocks; beyond ``capacity`` waiting (database away for long) it is dropped,
        counted and logged at the next flush."""
        with self._lock:
            if len(self._pending) < self.capacity:
                self._pending.append(heard)
            else:
                self._dropped += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dream-fleet", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        counted = 0.0
        while not self._stop.wait(self.flush_s):
            self.flush()
            if time.monotonic() - counted >= self.count_s:
                counted = time.monotonic()
                self.count()
        self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.warning("fleet health not recorded: too many waiting", snapshots=dropped)
        if not batch:
            return
        try:
            with storage_errors(), self.db.pool.connection(timeout=5) as conn:
                fleet.record(conn, batch)
        except StorageError as exc:  # fleet health is advisory: the snapshots themselves are safe
            log.warning("could not record fleet health", snapshots=len(batch), error=str(exc))

    def count(self) -> None:
        try:
            with storage_errors(), self.db.pool.connection(timeout=5) as conn:
                self.sensor.on_fleet_status(fleet.status_counts(conn))
        except StorageError as exc:
            log.warning("could not count the fleet's hosts", error=str(exc))
