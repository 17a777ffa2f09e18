"""Optional OIDC/JWT bearer tokens, mapped to Dream's roles.

A token is accepted when its signature verifies against the issuer's JWKS, its ``iss`` and
``aud`` match the settings and it has not expired; its role comes from a claim: a list of
strings or one string of names separated by spaces or commas (the strongest Dream role named
wins). Any other shape (an object, a number) names no role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from dream.errors import DreamError
from dream.security.jwks import JwksCache, KeysUnavailable
from dream.security.keys import ROLES, InvalidKey, Principal, Role

class NoDreamRole(DreamError):
    """A valid token whose role claim names no Dream role: authenticated, not authorized."""


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "dream_roles"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_timeout_s: float = 3.0


def claimed_roles(value: Any) -> list[Role]:
    """The Dream roles a claim names: only a list of strings or a space/comma-separated string."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return []
    return [r for r in ROLES if r in value]


class OidcVerifier:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self.jwks = JwksCache(config.jwks_url, timeout_s=config.jwks_timeout_s)
        self.jwks.refresh()  # fetched in the background from the start

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        return token.count(".") == 2 and not token.startswith("dream_")

    async def verify(self, token: str) -> Principal:
        """The token's principal; waits (without a thread) at most one fetch for its key."""
        kid = _kid(token)
        if self.jwks.key(kid) is None:
            await self.jwks.wait_for_refresh()
        else:
            self.jwks.refresh(when_stale=True)  # a new set is fetched behind the requests
        return self.verify_cached(token)

    def verify_cached(self, token: str) -> Principal:
        """The token's principal from the cached key set only (never touches the network)."""
        kid = _kid(token)
        signing_key = self.jwks.key(kid)
        if signing_key is None:
            if not self.jwks.loaded or self.jwks.error is not None:
                raise KeysUnavailable(
                    f"the identity provider's key set is unavailable ({self.jwks.error or 'being fetched'})"
                )
            raise InvalidKey(f"invalid token: no key {kid!r} in the issuer's key set")
        try:
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(self.config.algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidKey(f"invalid token: {exc}") from None
        roles = claimed_roles(claims.get(self.config.role_claim))
        if not roles:
            raise NoDreamRole(
                f"token carries no Dream role in claim {self.config.role_claim!r} (a list of"
                f" {', '.join(ROLES)})"
            )
        role: Role = max(roles, key=ROLES.index)
        return Principal(key_id=f"oidc:{claims['sub']}", name=str(claims["sub"]), role=role)


def _kid(token: str) -> str:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise InvalidKey(f"invalid token: {exc}") from None
    if not isinstance(kid, str) or not kid:
        raise InvalidKey("invalid token: its header names no key (`kid`)")
    return kid


__all__ = ["KeysUnavailable", "NoDreamRole", "OidcConfig", "OidcVerifier", "claimed_roles"]
