"""Authentication and authorization for the api: ``Authorization: Bearer <key or token>``.

Missing or invalid credentials → 401; a valid caller without the role → 403; over its rate
limit → 429 with ``Retry-After``; a client address with too many failed authentications → 429
until its bucket refills (``DREAM_AUTH_FAILURE_LIMIT``). With ``DREAM_AUTH=off`` every caller is
an anonymous admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
import structlog
from fastapi import HTTPException, Request

from dream.security.jwks import KeysUnavailable
from dream.security.keys import InvalidKey, KeyStore, Principal, Role
from dream.security.oidc import NoDreamRole, OidcVerifier
from dream.security.ratelimit import RateLimiter, retry_after_header

log = structlog.get_logger(__name__)

ANONYMOUS = Principal(key_id="anonymous", name="anonymous", role="admin")
FAILURES = "auth_failures"  # the failure limiter's only "role"


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="dream"'})


class Authenticator:
    """Turns a request's bearer credential into a ``Principal`` and checks its role and rate."""

    def __init__(
        self,
        keys: KeyStore | None,
        *,
        enabled: bool = True,
        oidc: OidcVerifier | None = None,
        limiter: RateLimiter | None = None,
        failures: RateLimiter | None = None,
    ) -> None:
        self.keys = keys
        self.enabled = enabled
        self.oidc = oidc
        self.limiter = limiter
        self.failures = failures  # keyed by client address, limit under FAILURES

    def _verify_key(self, token: str) -> Principal:
        if self.keys is None:
            raise InvalidKey("API keys are not available")
        return self.keys.verify(token)

    async def _verify(self, token: str) -> Principal:
        if self.oidc is not None and OidcVerifier.looks_like_jwt(token):
            # On the event loop: the key set is cached, checking a signature takes microseconds,
            # and a slow identity provider must not hold the worker threads API keys need.
            return await self.oidc.verify(token)
        if self.keys is not None and (fresh := self.keys.cached(token)) is not None:
            return fresh
        return await anyio.to_thread.run_sync(self._verify_key, token)

    def _too_many_failures(self, client: str, wait_s: float) -> HTTPException:
        log.warning("authentication failures over the limit", client=client)
        return HTTPException(
            429,
            "too many failed authentications from this address; retry later",
            headers={"Retry-After": retry_after_header(wait_s)},
        )

    async def authenticate(self, request: Request) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing bearer credentials: send `Authorization: Bearer <key>`")
        client = request.client.host if request.client else "unknown"
        if self.failures is not None and (wait := self.failures.waiting(client, FAILURES)) > 0:
            raise self._too_many_failures(client, wait)  # no more guesses checked for now
        try:
            return await self._verify(token.strip())
        except InvalidKey as exc:
            if self.failures is not None and (wait := self.failures.acquire(client, FAILURES)) > 0:
                raise self._too_many_failures(client, wait) from None
            raise _unauthorized(str(exc)) from None
        except NoDreamRole as exc:
            raise HTTPException(403, str(exc)) from None
        except KeysUnavailable as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None

    def require(self, role: Role) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency admitting callers whose key grants ``role``."""

        async def dependency(request: Request) -> Principal:
            principal = await self.authenticate(request)
            if not principal.may(role):
                raise HTTPException(403, f"this endpoint needs the `{role}` role")
            if self.enabled and self.limiter is not None:
                wait = self.limiter.acquire(principal.key_id, principal.role)
                if wait > 0:
                    raise HTTPException(
                        429,
                        f"rate limit of the `{principal.role}` role exceeded",
                        headers={"Retry-After": retry_after_header(wait)},
                    )
            request.state.principal = principal
            structlog.contextvars.bind_contextvars(key_id=principal.key_id)
            return principal

        return dependency
