"""Fail fast while the broker is away: a circuit breaker and a bound on requests in flight.

The api answers ``202`` only once the broker acknowledged, so a dead broker would make every
request wait for the produce timeout, and requests would pile up. Instead:

* ``CircuitBreaker``: after ``failure_threshold`` consecutive failures (or when the Kafka client
  reports every broker down and a metadata probe confirms it) the circuit *opens*: requests are
  refused at once with ``Unavailable`` (→ 503 with ``Retry-After``). After ``reset_timeout_s``
  it turns *half-open*: one probe runs in the background (a metadata request, not a client's
  snapshot) while requests are still refused; the probe succeeding *closes* the circuit, failing
  re-opens it for another ``reset_timeout_s``. No request ever waits on a broker known to be down.
* ``InFlightLimit``: at most ``limit`` requests read and produce at once; one more gets 503 at
  once rather than a queue (memory stays bounded by ``limit`` × the body size limit).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import structlog

from dream.errors import TransportError

log = structlog.get_logger(__name__)

State = Literal["closed", "open", "half-open"]


class Unavailable(TransportError):
    """Refused without trying: the circuit is open or too many requests are in flight."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class CircuitBreaker:
    """Closed → open (failures) → half-open (background probe) → closed. Thread-safe."""

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        reset_timeout_s: float = 5.0,
        probe: Callable[[], bool] | None = None,
        name: str = "broker",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.name = name
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._reason = ""
        self._probing = False
        self.opened_count = 0  # how often it opened, for logs and tests

    @property
    def state(self) -> State:
        with self._lock:
            return self._current_state()

    @property
    def reason(self) -> str:
        return self._reason

    def _current_state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._state = "half-open"
        return self._state

    def retry_after_s(self) -> float:
        with self._lock:
            if self._state == "closed":
                return 1.0
            return max(1.0, self.reset_timeout_s - (self._clock() - self._opened_at))

    def check(self) -> None:
        """Raise ``Unavailable`` unless the circuit is closed; start a probe when it is due."""
        with self._lock:
            state = self._current_state()
            if state == "closed" or (state == "half-open" and self._probe is None):
                return  # without a probe, half-open lets requests through as the trial
            start_probe = state == "half-open" and not self._probing and self._probe is not None
            if start_probe:
                self._probing = True
            retry = max(1.0, self.reset_timeout_s - (self._clock() - self._opened_at))
            reason = self._reason
        if start_probe:
            threading.Thread(target=self._run_probe, name=f"{self.name}-probe", daemon=True).start()
        raise Unavailable(f"{self.name} unavailable ({reason}); retry shortly", retry)

    def _run_probe(self) -> None:
        try:
            ok = bool(self._probe())  # type: ignore[misc]
        except Exception as exc:  # a failing probe is an answer, not a crash
            log.debug("probe raised", error=str(exc))
            ok = False
        with self._lock:
            self._probing = False
            if self._state == "closed":
                return
            if ok:
                self._close()
            else:
                self._open(self._reason or "probe failed")

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            if self._state != "closed":
                self._close()

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            state = self._current_state()
            if state == "half-open" or (
                state == "closed" and self._failures >= self.failure_threshold
            ):
                self._open(reason)

    def trip(self, reason: str) -> None:
        """Open now (the client library says the broker is gone, and a probe agreed)."""
        with self._lock:
            if self._state == "closed":
                self._open(reason)

    def _open(self, reason: str) -> None:
        if self._state == "closed":
            self.opened_count += 1
            log.warning("circuit opened: refusing posts", circuit=self.name, reason=reason)
        self._state = "open"
        self._opened_at = self._clock()
        self._reason = reason

    def _close(self) -> None:
        log.info("circuit closed: accepting posts again", circuit=self.name)
        self._state = "closed"
        self._failures = 0
        self._reason = ""


class InFlightLimit:
    """A non-blocking counting gate: ``acquire`` refuses at once when ``limit`` are taken."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def acquire(self) -> None:
        with self._lock:
            if self._count >= self.limit:
                raise Unavailable(f"{self._count} requests in flight; retry shortly", 1)
            self._count += 1

    def release(self) -> None:
        with self._lock:
            self._count -= 1


@contextmanager
def admitted(breaker: CircuitBreaker, in_flight: InFlightLimit) -> Iterator[None]:
    """Hold a place for one request, or raise ``Unavailable`` (→ 503) at once: the circuit is
    open, or ``in_flight`` is full. Guards a whole post, body read included."""
    breaker.check()
    in_flight.acquire()
    try:
        yield
    finally:
        in_flight.release()
