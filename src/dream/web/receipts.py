"""Receipts of accepted snapshots in PostgreSQL, so any api replica can answer ``pending``.

In Kafka mode a snapshot exists only in the topic until the worker stores it; the replica that
took the post remembers it in memory, the others would answer 404. Each replica therefore
records (snapshot_id, received_at, host) in ``snapshot_receipts`` — off the request path, in
batches, best-effort: the 202 never waits on PostgreSQL, and a failed write is logged and
counted, never retried into memory without bound.
"""

from __future__ import annotations

import queue
from collections import OrderedDict
import threading
import uuid
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime

import structlog

from dream.errors import StorageError
from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.queries import NamedQueries

log = structlog.get_logger(__name__)

_q = NamedQueries("dream.web", "receipts.sql").query


@dataclass(eq=False)
class Receipts:
    """A bounded queue of receipts and the thread that writes them every ``flush_s``."""

    db: Database
    sensor: Sensor = NULL_SENSOR
    _: KW_ONLY
    flush_s: float = 0.2
    capacity: int = 100_000
    batch: int = 5000
    _flushes: int = field(default=0, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[tuple[uuid.UUID, datetime, str]] = queue.Queue(self.capacity)
        self._thread = threading.Thread(target=self._run, name="dream-receipts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, snapshot_id: uuid.UUID, received_at: datetime, host: str) -> None:
        """Never blocks: a full queue (database away for long) drops the receipt, counted."""
        try:
            self._queue.put_nowait((snapshot_id, received_at, host))
        except queue.Full:
            self.sensor.on_receipts_dropped(1)

    def known(self, snapshot_id: uuid.UUID) -> bool:
        """Some replica accepted ``snapshot_id`` (raises StorageError while the database is away)."""
        with storage_errors("could not look the snapshot up"), self.db.pool.connection() as conn:
            return conn.execute(_q("lookup_receipt"), (snapshot_id,)).fetchone() is not None

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()
        self.flush()

    def flush(self) -> None:
        items: list[tuple[uuid.UUID, datetime, str]] = []
        while len(items) < self.batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not items:
            return
        ids, times, hosts = (list(column) for column in zip(*items, strict=True))
        try:
            with storage_errors(), self.db.pool.connection(timeout=5) as conn:
                conn.execute(_q("insert_receipts"), (ids, times, hosts))
                self._flushes += 1
                if self._flushes % 1000 == 1:
                    conn.execute(_q("prune_receipts"))
        except StorageError as exc:  # receipts are a convenience: dropped, counted
            self.sensor.on_receipts_dropped(len(items))
            log.warning("could not record receipts", count=len(items), error=str(exc))

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


class RecentlyAccepted:
    """Ids this api process accepted lately, so a GET right after a POST says ``pending``."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def add(self, snapshot_id: uuid.UUID) -> None:
        with self._lock:
            self._ids[snapshot_id] = None
            self._ids.move_to_end(snapshot_id)
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)

    def __contains__(self, snapshot_id: object) -> bool:
        with self._lock:
            return snapshot_id in self._ids
