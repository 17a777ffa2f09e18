"""API keys: ``dream_<key id>_<secret>``; the id finds the row, the secret is checked by hash."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal

import structlog
from psycopg.rows import dict_row

from dream.errors import DreamError, StorageUnavailable
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.queries import NamedQueries

Role = Literal["ingest", "query", "steward", "admin"]
# Weakest first (an OIDC token naming several roles gets the strongest).
ROLES: tuple[Role, ...] = ("ingest", "query", "steward", "admin")
# What each role may do beyond itself: `query` reads aggregates (under the k-anonymity floor);
# `steward` also rows, per-user and per-host questions, whole answers; admin may do everything.
GRANTS: dict[Role, frozenset[Role]] = {
    "ingest": frozenset({"ingest"}),
    "query": frozenset({"query"}),
    "steward": frozenset({"query", "steward"}),
    "admin": frozenset({"ingest", "query", "steward", "admin"}),
}
DP_BUDGET_ANSWERS = 100  # a DP key's monthly budget when none is given: this many answers
log = structlog.get_logger(__name__)
_TOKEN = re.compile(r"^dream_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")


class InvalidKey(DreamError):
    """The presented key is malformed, unknown, revoked or wrong."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key (or a token) and the role it carries."""

    key_id: str
    name: str
    role: Role
    # Differential privacy (opt in per key): each answer's epsilon, and its budget per month.
    dp_epsilon: float | None = None
    dp_budget: float | None = None

    def may(self, role: Role) -> bool:
        return role in GRANTS[self.role]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    name: str
    role: Role
    secret: str  # the whole bearer token; shown once


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_q = NamedQueries("dream.security").query


@dataclass(eq=False, repr=False)
class KeyStore:
    """Creates, verifies, lists and revokes keys in PostgreSQL.

    Verified keys are remembered for ``cache_s`` seconds so a busy collector does not cost a
    query per request; a revocation through this process takes effect at once, through another
    replica within ``cache_s``. While the database is away, keys verified within ``stale_s``
    keep working (ingestion over Kafka must not depend on PostgreSQL) and are re-checked in the
    background; an unknown key fails at once with StorageError (503), never waits for the
    database longer than ``check_timeout_s``.
    """

    db: Database
    cache_s: float = 10.0
    _: KW_ONLY
    stale_s: float = 3600.0
    check_timeout_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, Principal]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _down_at: float | None = field(default=None, init=False)  # a key check found the db away
    _rechecking: bool = field(default=False, init=False)

    def create(self, name: str, role: Role, token: str | None = None, *,
               dp_epsilon: float | None = None, dp_budget: float | None = None) -> IssuedKey:  # fmt: skip
        """A new key; with ``token`` (DREAM_BOOTSTRAP_ADMIN_KEY) that exact token is registered.
        ``dp_epsilon``: its answers are differentially private, each spending that much of
        ``dp_budget`` a month (default DP_BUDGET_ANSWERS answers' worth); `query` keys only."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if dp_epsilon is not None and role != "query":
            raise ValueError("differential privacy is for `query` keys (aggregates) only")
        if dp_budget is not None and dp_epsilon is None:
            raise ValueError("a privacy budget needs dp_epsilon")
        if dp_epsilon is not None and dp_budget is None:
            dp_budget = dp_epsilon * DP_BUDGET_ANSWERS
        if token is None:
            key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
            token = f"dream_{key_id}_{secret}"
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError("a key looks like dream_<12 hex digits>_<43 url-safe characters>")
        params = {
            "key_id": match["key_id"], "name": name, "role": role,
            "secret_sha256": _sha256(match["secret"]), "dp_epsilon": dp_epsilon,
            "dp_budget": dp_budget,
        }  # fmt: skip
        with self.db.pool.connection() as conn:
            conn.execute(_q("insert_key"), params)
        return IssuedKey(match["key_id"], name, role, token)

    def cached(self, token: str) -> Principal | None:
        """The principal of ``token`` if it was verified within ``cache_s``, else None. Never
        blocks, so the api answers most requests with it on its event loop, without the
        worker thread ``verify`` needs for a database check."""
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and self.clock() - cached[0] < self.cache_s:
            return cached[1]
        return None

    def verify(self, token: str) -> Principal:
        match = _TOKEN.match(token)
        if match is None:
            raise InvalidKey("malformed API key")
        if (fresh := self.cached(token)) is not None:
            return fresh
        now = self.clock()
        with self._lock:
            cached = self._cache.get(token)
            down = self._down_at is not None
        usable = cached is not None and now - cached[0] < self.stale_s
        if down:
            self._recheck_in_background()
            if usable and cached is not None:
                return cached[1]
            raise StorageUnavailable("the database is unavailable to check this API key")
        try:
            return self._check(token, match["key_id"], match["secret"])
        except StorageUnavailable as exc:
            with self._lock:
                self._down_at = now
            log.warning("API keys cannot be checked: database unavailable", error=str(exc))
            if usable and cached is not None:
                return cached[1]
            raise StorageUnavailable(f"cannot check the API key: {exc}") from exc

    def _check(self, token: str, key_id: str, secret: str) -> Principal:
        """Verify against the database and cache the result (a refusal drops the cache)."""
        checked_at = self.clock()
        try:
            with (
                storage_errors(),
                self.db.pool.connection(timeout=self.check_timeout_s) as conn,
            ):
                cur = conn.cursor(row_factory=dict_row)
                row = cur.execute(_q("get_key"), {"key_id": key_id}).fetchone()
                if row is None or not hmac.compare_digest(row["secret_sha256"], _sha256(secret)):
                    raise InvalidKey("unknown API key")
                if row["revoked_at"] is not None:
                    raise InvalidKey("revoked API key")
                conn.execute(_q("touch_key"), {"key_id": key_id})
        except InvalidKey:
            with self._lock:
                self._cache.pop(token, None)
            raise
        principal = Principal(key_id, row["name"], row["role"], row["dp_epsilon"], row["dp_budget"])
        with self._lock:
            self._cache[token] = (checked_at, principal)
            self._down_at = None
        return principal

    def _recheck_in_background(self) -> None:
        """One thread at a time re-checks the cached keys; the first success ends the outage."""
        with self._lock:
            if self._rechecking:
                return
            self._rechecking = True
        threading.Thread(target=self._recheck, name="key-recheck", daemon=True).start()

    def _recheck(self) -> None:
        try:
            while True:
                with self._lock:
                    tokens = list(self._cache)
                try:
                    if not tokens:  # nothing to re-check: ask the database whether it is back
                        with (
                            storage_errors(),
                            self.db.pool.connection(timeout=self.check_timeout_s) as conn,
                        ):
                            conn.execute(b"SELECT 1")
                        with self._lock:
                            self._down_at = None
                    for token in tokens:
                        match = _TOKEN.match(token)
                        if match is not None:
                            with contextlib.suppress(InvalidKey):  # revoked: dropped
                                self._check(token, match["key_id"], match["secret"])
                    return
                except StorageUnavailable:
                    time.sleep(min(1.0, self.cache_s))  # still away; try again shortly
        finally:
            with self._lock:
                self._rechecking = False

    def list(self) -> list[dict[str, Any]]:
        with self.db.pool.connection() as conn:
            return conn.cursor(row_factory=dict_row).execute(_q("list_keys")).fetchall()

    def revoke(self, key_id: str) -> bool:
        with self.db.pool.connection() as conn:
            revoked = conn.execute(_q("revoke_key"), {"key_id": key_id}).fetchone() is not None
        with self._lock:
            for token in [t for t, (_, p) in self._cache.items() if p.key_id == key_id]:
                del self._cache[token]
        return revoked
