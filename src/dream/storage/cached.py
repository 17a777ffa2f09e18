"""A list read from PostgreSQL and kept in memory, for checks on the ingest path (opt-outs, the
managed faculties) that must not wait on the database.

The list is read again once it is older than ``ttl_s``, in a background thread, while the last
list read stays in use; a read that fails keeps that list (while PostgreSQL is away it stays in
force) and is tried again ``retry_s`` later. Of two reads under way, the one started last is
kept, so a change committed before a read starts (an opt-out taken through this replica) is
never undone by an earlier read ending after it. A list never read (``value is None``) is told apart
from one read empty: each user decides what it means (opt-outs: read it now, 503 if it cannot
be; faculties: accept any, as an empty list does).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import structlog

from dream.errors import StorageError
from dream.storage.database import Database
from dream.storage.errors import storage_errors

T = TypeVar("T")
_log = structlog.get_logger(__name__)


class CachedList(Generic[T]):
    """The rows of ``sql`` (a named query), as ``build`` makes them, read at most every ``ttl_s`` (``what``
    names the list in errors and logs)."""

    def __init__(self, db: Database, sql: bytes, build: Callable[[Sequence[Any]], T], *,
                 what: str, ttl_s: float, retry_s: float | None = None, timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._db = db
        self._sql = sql
        self._build = build
        self.what = what
        self.ttl_s = ttl_s
        self.retry_s = ttl_s if retry_s is None else retry_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._reads = itertools.count()  # each read's number, in the order they start
        self._kept = -1  # the number of the read whose list is kept
        self._due = float("-inf")  # the clock's time from which the next read is due

    @property
    def value(self) -> T | None:
        """The list as last read; None while it has never been read."""
        return self._value

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def read(self) -> None:
        """Read the list now (blocking, at most ``timeout_s`` for a connection); StorageError
        when it cannot be read, the last list kept."""
        with self._lock:
            number = next(self._reads)
        with (
            storage_errors(f"could not read {self.what}"),
            self._db.pool.connection(timeout=self.timeout_s) as conn,
        ):
            value = self._build(conn.execute(self._sql).fetchall())
        with self._lock:
            if number > self._kept:  # else a read started later has ended first: its list holds
                self._value, self._kept = value, number
                self._due = self._clock() + self.ttl_s

    def read_if_due(self) -> None:
        """Read the list now unless it is fresh or a read failed less than ``retry_s`` ago
        (blocking); a failure is logged and keeps the last list."""
        if self._claim():
            self._read_quietly()

    def current(self) -> T | None:
        """The list as last read (None: never read), without waiting: once it is stale it is
        read again in a background thread (one at a time)."""
        if self._value is not None and self._claim():
            name = f"read {self.what}"
            threading.Thread(target=self._read_quietly, name=name, daemon=True).start()
        return self._value

    def _claim(self) -> bool:
        """Whether a read is due; if so, the next one is not before ``retry_s`` from now."""
        with self._lock:
            now = self._clock()
            if now < self._due:
                return False
            self._due = now + self.retry_s
            return True

    def _read_quietly(self) -> None:
        try:
            self.read()
        except StorageError as exc:
            _log.warning("list not read: the last list read holds", what=self.what,
                         error=str(exc), read_before=self.loaded)  # fmt: skip


__all__ = ["CachedList"]
