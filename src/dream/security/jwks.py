"""The OIDC issuer's signing keys, fetched off the request path.

A request never waits on the identity provider for longer than one fetch's timeout, and never
occupies a worker thread while it waits: one fetch at a time runs in a background thread
(single flight), its result replaces the cached key set, a failure keeps the set there was.
An unknown ``kid`` (a rotated key, or junk) asks for a refresh, at most one per
``min_interval_s``, so junk tokens cannot turn into a stream of fetches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import anyio
import httpx
import jwt
import structlog

from dream.errors import DreamError

log = structlog.get_logger(__name__)


class KeysUnavailable(DreamError):
    """The issuer's key set could not be fetched (yet): the token cannot be checked now."""


def _idle_event() -> threading.Event:
    event = threading.Event()  # set while no fetch is in flight
    event.set()
    return event


@dataclass(eq=False)
class JwksCache:
    """The key set at ``url`` by ``kid``; ``refresh`` starts a background fetch."""

    url: str
    _: KW_ONLY
    timeout_s: float = 3.0
    max_age_s: float = 300.0
    min_interval_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    error: str | None = field(default=None, init=False)  # why the last fetch failed, if it did
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False, repr=False)
    _loaded_at: float | None = field(default=None, init=False, repr=False)
    _attempted_at: float = field(default=float("-inf"), init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _idle: threading.Event = field(default_factory=_idle_event, init=False, repr=False)

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            return self._keys.get(kid)

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def refresh(self, *, when_stale: bool = False) -> threading.Event:
        """Start a fetch unless one is in flight or one started within ``min_interval_s``
        (with ``when_stale``: only once the set is older than ``max_age_s``). The event is set
        when no fetch is in flight."""
        now = self.clock()
        with self._lock:
            if when_stale and self._loaded_at is not None and now - self._loaded_at < self.max_age_s:
                return self._idle
            if self._idle.is_set() and now - self._attempted_at >= self.min_interval_s:
                self._attempted_at = now
                self._idle = threading.Event()
                threading.Thread(target=self._fetch, args=(self._idle,), name="jwks-fetch",
                                 daemon=True).start()  # fmt: skip
            return self._idle

    async def wait_for_refresh(self) -> None:
        """Ask for a refresh and wait (without a thread) until it ends, or ``timeout_s``."""
        idle = self.refresh()
        with anyio.move_on_after(self.timeout_s):
            while not idle.is_set():
                await anyio.sleep(0.02)

    def _fetch(self, idle: threading.Event) -> None:
        try:
            response = httpx.get(self.url, timeout=self.timeout_s, follow_redirects=True)
            response.raise_for_status()
            found = jwt.PyJWKSet.from_dict(response.json())
            keys = {k.key_id: k for k in found.keys if k.key_id}
            with self._lock:
                self._keys, self._loaded_at, self.error = keys, self.clock(), None
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("OIDC key set fetch failed; keeping the keys there were",
                        url=self.url, error=self.error, keys=len(self._keys))  # fmt: skip
        finally:
            idle.set()
