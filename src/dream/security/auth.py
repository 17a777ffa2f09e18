"""Authentication and authorization for the api: ``Authorization: Bearer <key or token>``.

Missing or invalid credentials → 401; a valid caller without the role → 403; over its rate
limit → 429 with ``Retry-After``. With ``DREAM_AUTH=off`` every caller is an anonymous admin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
import psycopg
import structlog
from fastapi import HTTPException, Request

from dream.errors import StorageError
from dream.security.keys import InvalidKey, KeyStore, Principal, Role
from dream.security.oidc import OidcVerifier
from dream.security.ratelimit import RateLimiter, retry_after_header

log = structlog.get_logger(__name__)

ANONYMOUS = Principal(key_id="anonymous", name="anonymous", role="admin")


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
    ) -> None:
        self.keys = keys
        self.enabled = enabled
        self.oidc = oidc
        self.limiter = limiter

    def _verify(self, token: str) -> Principal:
        if self.oidc is not None and OidcVerifier.looks_like_jwt(token):
            return self.oidc.verify(token)
        if self.keys is None:
            raise InvalidKey("API keys are not available")
        return self.keys.verify(token)

    async def authenticate(self, request: Request) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing bearer credentials: send `Authorization: Bearer <key>`")
        try:
            return await anyio.to_thread.run_sync(self._verify, token.strip())
        except InvalidKey as exc:
            raise _unauthorized(str(exc)) from None
        except psycopg.Error as exc:
            raise StorageError(f"cannot check the API key: {exc}") from exc

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
