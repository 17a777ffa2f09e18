"""Whether the worker is making progress: what its readiness (and the api's, under `dream serve`)
reports.

The worker loop records here what it achieved (a batch stored) and what fails right now (the
blob store, the database: the error and since when). A worker that retries for ever is alive
but useless; readiness makes that visible instead of answering green while snapshots stay
``pending``. Not ready while a dependency fails, while a batch has been in hand longer than
``stuck_after_s`` without being stored, or once the loop has stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def _iso(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str | None = None
    since: str | None = None  # when the reason started (ISO 8601, UTC)
    last_stored: str | None = None  # when a batch was last stored

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "since": self.since,
                "last_stored": self.last_stored}  # fmt: skip


class Progress:
    """Thread-safe record of the worker's progress (the loop, the writer and the blob threads
    all report here)."""

    def __init__(self, stuck_after_s: float = 300.0) -> None:
        self.stuck_after_s = stuck_after_s
        self._lock = threading.Lock()
        self._failing: dict[str, tuple[str, float]] = {}  # component → (error, wall time since)
        self._in_hand: dict[int, tuple[float, float]] = {}  # id(batch) → (monotonic, wall)
        self._last_stored: float | None = None
        self._stopped: tuple[str, float] | None = None

    def failing(self, component: str, error: str) -> None:
        """``component`` (e.g. "blob store") failed; the first failure's time is kept."""
        with self._lock:
            since = self._failing.get(component, (error, time.time()))[1]
            self._failing[component] = (error, since)

    def recovered(self, component: str) -> None:
        if component in self._failing:  # (a cheap test first: called on every success)
            with self._lock:
                self._failing.pop(component, None)

    def started(self, batch: object, snapshots: int) -> None:
        """A batch of ``snapshots`` was fetched; it is in hand until ``finished``."""
        if snapshots:
            with self._lock:
                self._in_hand.setdefault(id(batch), (time.monotonic(), time.time()))

    def finished(self, batch: object) -> None:
        """A batch was stored and acknowledged."""
        with self._lock:
            if self._in_hand.pop(id(batch), None) is not None:
                self._last_stored = time.time()

    def stopped(self, why: str) -> None:
        """The loop ended (the first reason is kept: a crash before the final cleanup)."""
        with self._lock:
            if self._stopped is None:
                self._stopped = (why, time.time())

    def check(self) -> Verdict:
        with self._lock:
            last = _iso(self._last_stored)
            if self._stopped is not None:
                why, at = self._stopped
                return Verdict(False, f"worker stopped: {why}", _iso(at), last)
            if self._failing:
                component, (error, since) = min(self._failing.items(), key=lambda i: i[1][1])
                return Verdict(False, f"{component} unavailable: {error}", _iso(since), last)
            if self._in_hand:
                started, wall = min(self._in_hand.values())
                held = time.monotonic() - started
                if held > self.stuck_after_s:
                    reason = (f"a batch has been in hand for {held:.0f} s without being stored"
                              f" (DREAM_WORKER_STUCK_AFTER_S={self.stuck_after_s:g})")  # fmt: skip
                    return Verdict(False, reason, _iso(wall), last)
            return Verdict(True, last_stored=last)


def readiness(progress: Progress, ping_database: Callable[[], bool]) -> tuple[bool, dict[str, Any]]:
    """The worker's ``/readyz`` body: its progress, and whether the database answers."""
    verdict = progress.check()
    db_ok = ping_database()
    ok = verdict.ok and db_ok
    body = {
        "status": "ready" if ok else "unavailable",
        "checks": {"database": {"ok": db_ok}, "worker": verdict.as_dict()},
    }
    return ok, body
