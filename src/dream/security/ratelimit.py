"""Per-key token buckets: ``DREAM_RATE_LIMITS="ingest=50/s:100,query=20/s:40"``.

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
        self._lock = threading.Lock()

    def acquire(self, key: str, role: str) -> float:
        """Take one token for ``key``; 0 if allowed, else the seconds until one is available."""
        limit = self.limits.get(role)
        if limit is None:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - updated) * limit.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / limit.rate_per_s


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
