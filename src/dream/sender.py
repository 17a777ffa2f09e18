"""How ``dream collect`` sends a snapshot: POST ``{url}/v1/snapshots`` with retries,
exponential backoff and jitter, trying each api it was given in turn (another site's after a
failover). It tells an api that is down (kept, retried later) from one that refuses the snapshot
for good (set aside). Only the standard library and httpx: no server side of Dream.
"""

from __future__ import annotations

import random
import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx

from dream import __version__

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REJECTED_STATUSES = frozenset({400, 413, 415, 422})


class Unreachable(Exception):
    """The api could not be reached or answered with a transient error, after all retries."""


class Misconfigured(Unreachable):
    """No api accepted, and one of them has a problem to fix here, not to wait out: a key refused
    (401/403), a wrong URL (404, another 4xx), a host name that does not resolve, a certificate
    that does not verify. The snapshot still waits in the spool; ``dream collect`` exits 4."""


def _configuration_error(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) is a DNS or certificate failure, or
    a URL that cannot be one of an api (no http/https scheme, no host, an invalid port)."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (socket.gaierror, ssl.SSLCertVerificationError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _stored_id(response: httpx.Response) -> str | None:
    """The ``snapshot_id`` of Dream's 202 answer; None when the body is not that answer."""
    try:
        body = response.json()
    except ValueError:
        return None
    sid = body.get("snapshot_id") if isinstance(body, dict) else None
    return sid if isinstance(sid, str) and sid else None


class Rejected(Exception):
    """The api refused the snapshot for good (it would refuse it again)."""


class _Deadline:
    """One request's total deadline: httpx's timeouts are per operation, so an api trickling
    its answer a byte at a time is never cut. httpcore's trace hook hands over each socket the
    request opens; when the time is up it is shut down, which ends a read blocked on it."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")  # TLS wraps the TCP socket: the newer one is the one
        with self._lock:
            self._socket = stream.get_extra_info("socket") if stream is not None else None
            if self.expired:  # connected past the deadline
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is not None:
            with suppress(OSError):  # the plain socket's shutdown, under a TLS one's too
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


@dataclass
class Sender:
    """POSTs snapshot bodies to ``{url}/v1/snapshots`` with retries and exponential backoff."""

    url: str
    key: str | None = None
    retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 30.0
    sleep: Callable[[float], object] | None = None  # None: wait on `stop`, which ends the wait
    client: httpx.Client | None = None
    fallback_urls: tuple[str, ...] = ()  # other sites' apis, tried when `url` is down
    current: str = field(default="", init=False)  # the api that answered last
    stop: threading.Event = field(default_factory=threading.Event)  # set: give up (SIGTERM)
    _owned: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.current = self.url
        if self.client is None:
            # A connection per post: each request's socket is seen (_Deadline) and can be cut.
            self.client = httpx.Client(timeout=self.timeout_s,
                                       limits=httpx.Limits(max_keepalive_connections=0))  # fmt: skip
            self._owned = True

    def prefer(self, url: str | None) -> None:
        """Try ``url`` first (the api that answered a previous run), if it is one of ours."""
        if url in (self.url, *self.fallback_urls):
            self.current = url

    def headers(self) -> dict[str, str]:
        # Date: this machine's clock when sending, so the api can tell how far off it is
        # (dream_clock_skew_seconds) before its collected_at values are refused as absurd.
        headers = {"Content-Type": "application/json", "User-Agent": f"dream-collect/{__version__}",
                   "Date": formatdate(usegmt=True)}  # fmt: skip
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    def post(self, data: bytes) -> str:
        """Send one snapshot (JSON bytes); returns the stored id, or raises Unreachable/Rejected.
        Each round tries the urls in turn, the last to answer first (another site's after a
        failover), then backs off."""
        urls = (self.url, *self.fallback_urls)
        start = urls.index(self.current) if self.current in urls else 0
        last, misconfigured = "no attempt", False
        for attempt in range(self.retries + 1):
            wait = min(self.max_backoff_s, self.backoff_s * 2**attempt)
            wait *= 0.5 + random.random() / 2  # jitter: a lab of machines does not retry in step
            transient = False
            for step in range(len(urls)):
                index = (start + step) % len(urls)
                sid, reason, retry_after = self._post_to(urls[index], data)
                if sid is not None:
                    self.current = urls[index]
                    return sid
                last = reason if len(urls) == 1 else f"{urls[index]}: {reason}"
                misconfigured = misconfigured or retry_after is None
                if retry_after is not None:
                    transient = True
                    wait = min(self.max_backoff_s, max(wait, retry_after))
            if not transient:  # 401/403 (a key to fix), 404 (wrong url)...: keep it, try later
                break
            if attempt < self.retries and self._pause(wait):
                raise Unreachable(f"stopped while waiting to retry ({last})")
        raise (Misconfigured if misconfigured else Unreachable)(last)

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; True: ``stop`` was set (the daemon is stopping), give up."""
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self.stop.wait(seconds)
        return self.stop.is_set()

    def _post_to(self, url: str, data: bytes) -> tuple[str | None, str, float | None]:
        """(stored id, or None and why, and for a transient failure its Retry-After or 0; None
        for a problem to fix: a 401/403/404, DNS, TLS)."""
        assert self.client is not None
        with _Deadline(self.timeout_s) as deadline:
            try:
                response = self.client.post(f"{url.rstrip('/')}/v1/snapshots", content=data,
                                            headers=self.headers(),
                                            extensions={"trace": deadline.trace})  # fmt: skip
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                if deadline.expired:
                    return None, f"no whole answer within {self.timeout_s:g}s", 0.0
                reason = f"{type(exc).__name__}: {exc}"
                return None, reason, None if _configuration_error(exc) else 0.0
        if response.status_code == 202:
            sid = _stored_id(response)
            if sid is None:  # not Dream's answer (a proxy's page...): nothing says it was stored
                return None, f"202 without a snapshot_id: {response.text[:300]}", 0.0
            return sid, "", None
        reason = f"HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code in REJECTED_STATUSES:
            raise Rejected(reason)
        if response.status_code not in TRANSIENT_STATUSES:
            return None, reason, None
        retry_after = response.headers.get("Retry-After", "")
        return None, reason, float(retry_after) if retry_after.isdigit() else 0.0

    def close(self) -> None:
        if self._owned and self.client is not None:
            self.client.close()


__all__ = ["Misconfigured", "REJECTED_STATUSES", "Rejected", "Sender", "TRANSIENT_STATUSES",
           "Unreachable"]  # fmt: skip
