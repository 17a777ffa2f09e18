"""Per-key token buckets: ``DREAM_RATE_LIMITS="ingest=50/s:100,query=20/s:40"``; the same
buckets, per client address, limit failed authentications (``DREAM_AUTH_FAILURE_LIMIT``).

Limits hold per api replica; for a limit across replicas put one in the ingress as well
(docs/security.md).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(?P<role>\w+)\s*=\s*(?P<rate>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|m|h)\s*:\s*(?P<burst>\d+)\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PRUNE_AT = 10_000  # buckets kept before full ones are forgotten


@dataclass(frozen=True, slots=True)
class Limit:
    rate_per_s: float
    burst: int


def parse_limits(spec: str) -> dict[str, Limit]:
    """``"ingest=50/s:100,query=20/s:40"`` → ``{"ingest": Limit(50, 100), ...}``."""
    limits: dict[str, Limit] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = _SPEC.match(part)
        if match is None:
            raise ValueError(f"rate limit {part!r} is not ROLE=RATE/UNIT:BURST (e.g. ingest=50/s:100)")
        rate = float(match["rate"]) / _UNIT_SECONDS[match["unit"]]
        burst = int(match["burst"])
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit {part!r} must allow at least one request")
        limits[match["role"]] = Limit(rate, burst)
    return limits


class RateLimiter:
    """Token buckets keyed by caller; ``acquire`` answers how long to wait (0: go ahead)."""

    def __init__(self, limits: dict[str, Limit], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, updated_at)
        self._pruned_at = float("-inf")
        self._lock = threading.Lock()

    def waiting(self, key: str, role: str) -> float:
        """The seconds until ``key`` has a token (0: it has one now); takes nothing."""
        limit = self.limits.get(role)
        if limit is None:
            return 0.0
        with self._lock:
            tokens = self._tokens(key, limit, self._clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / limit.rate_per_s

    def _tokens(self, key: str, limit: Limit, now: float) -> float:
        tokens, updated = self._buckets.get(key, (float(limit.burst), now))
        return min(float(limit.burst), tokens + (now - updated) * limit.rate_per_s)

    def _prune(self, now: float) -> None:
        """Forget buckets idle long enough to be full again (they equal a new one), so keys
        seen once (client addresses) cannot grow the table without bound; at most once a second."""
        if len(self._buckets) < _PRUNE_AT or now - self._pruned_at < 1.0 or not self.limits:
            return
        self._pruned_at = now
        refill_s = max(lim.burst / lim.rate_per_s for lim in self.limits.values())
        for key in [k for k, (_, updated) in self._buckets.items() if now - updated >= refill_s]:
            del self._buckets[key]

    def acquire(self, key: str, role: str) -> float:
        """Take one token for ``key``; 0 if allowed, else the seconds until one is available."""
        limit = self.limits.get(role)
        if limit is None:
            return 0.0
        now = self._clock()
        with self._lock:
            self._prune(now)
            tokens = self._tokens(key, limit, now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / limit.rate_per_s


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
