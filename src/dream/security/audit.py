"""The audit trail: who asked what of the analytics and the rows, kept in PostgreSQL.

One entry per request (key id and name, role, path, parameters, status, rows answered, rows the
k-anonymity floor withheld, time). Requests only hand entries over (``record``: an append); a
thread writes them in batches, so a question never waits for its audit row. While the database
is away entries wait in memory, up to ``max_pending``; beyond, the oldest are dropped, counted
(``dropped``) and logged, never silently.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from psycopg.rows import dict_row
from pydantic import BaseModel, Field
from psycopg.types.json import Jsonb

from dream.errors import StorageError, StorageRefused
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.queries import NamedQueries

log = structlog.get_logger(__name__)
_q = NamedQueries("dream.security").query


class AuditEntry(BaseModel):
    """One request: who (the key), what (method, path, parameters), and what it was shown."""

    at: datetime
    key_id: str
    key_name: str
    role: str
    method: str
    path: str
    params: dict[str, str]
    status: int
    rows: int | None = Field(description="Rows answered; null: none (a refusal, a raw output).")
    suppressed: int | None = Field(
        description="Rows the k-anonymity floor withheld; null: no floor applied."
    )
    duration_ms: float

    def row(self) -> dict[str, Any]:
        return {"at": self.at, "key_id": self.key_id, "key_name": self.key_name,
                "role": self.role, "method": self.method, "path": self.path,
                "params": Jsonb(self.params), "status": self.status, "rows": self.rows,
                "suppressed": self.suppressed, "duration_ms": self.duration_ms}  # fmt: skip


@dataclass(eq=False)
class AuditTrail:
    """Entries in, batches out to ``audit_log`` every ``flush_s`` (or sooner when ``batch``
    are waiting)."""

    db: Database
    flush_s: float = 1.0
    batch: int = 500
    max_pending: int = 100_000
    dropped: int = 0
    _pending: deque[AuditEntry] = field(default_factory=deque, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def record(self, entry: AuditEntry) -> None:
        """Keep ``entry`` for the next batch (never blocks on the database)."""
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.error("audit entries dropped: the database is not taking them",
                              dropped=self.dropped)  # fmt: skip
            self._pending.append(entry)
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the writer after a last flush."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush()
        except Exception as exc:  # shutting down with the database away: say what is lost
            log.error("audit entries lost at shutdown", lost=len(self._pending), error=str(exc))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # the database away: entries wait for the next round
                log.warning("audit entries not written yet", error=str(exc),
                            pending=len(self._pending))  # fmt: skip

    def flush(self) -> int:
        """Write every waiting entry; returns how many. On failure they stay, in order."""
        with self._lock:
            taken = list(self._pending)
            self._pending.clear()
        if not taken:
            return 0
        try:
            try:
                self._write(taken)
            except StorageRefused:  # one entry the database refuses must not hold the rest
                for entry in taken:
                    try:
                        self._write([entry])
                    except StorageRefused as exc:
                        self.dropped += 1
                        log.error("audit entry refused by the database, dropped",
                                  path=entry.path, key_id=entry.key_id, error=str(exc))  # fmt: skip
        except BaseException:
            with self._lock:
                self._pending.extendleft(reversed(taken))
            raise
        return len(taken)

    def _write(self, entries: list[AuditEntry]) -> None:
        with storage_errors(), self.db.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(_q("insert_audit"), [e.row() for e in entries])

    def page(self, *, after: int = 0, limit: int = 100, key_id: str | None = None,
             start: datetime | None = None, end: datetime | None = None,
             ) -> tuple[list[dict[str, Any]], int | None]:  # fmt: skip
        """Entries in id order after ``after``, and the cursor of the next page (None: last);
        those waiting are written first, so a reader sees every request answered before."""
        try:
            self.flush()
        except StorageError as exc:  # the read may still work; the writer retries them
            log.warning("audit entries not written before a read", error=str(exc))
        params = {"after": after, "limit": limit + 1, "key_id": key_id, "from": start, "to": end}
        with storage_errors(), self.db.pool.connection() as conn:
            rows = conn.cursor(row_factory=dict_row).execute(_q("list_audit"), params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1]["id"] if more else None)


def prune_audit(conn: Any, days: int) -> int:
    """Delete entries older than ``days`` (DREAM_AUDIT_RETENTION_DAYS); returns how many."""
    return conn.execute(_q("prune_audit"), {"days": days}).rowcount


__all__ = ["AuditEntry", "AuditTrail", "prune_audit"]
