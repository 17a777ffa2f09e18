"""Optional OIDC/JWT bearer tokens, mapped to Dream's roles.

A token is accepted when its signature verifies against the issuer's JWKS, its ``iss`` and
``aud`` match the settings and it has not expired; its role comes from a claim (a string or a
list; the strongest Dream role named wins).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from dream.security.keys import ROLES, InvalidKey, Principal, Role

_STRENGTH = {"ingest": 0, "query": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    role_claim: str = "dream_roles"
    algorithms: tuple[str, ...] = ("RS256", "ES256")


class OidcVerifier:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        # PyJWKClient caches the key set and refetches it when a token names an unknown kid.
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300, timeout=5)

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        return token.count(".") == 2 and not token.startswith("dream_")

    def verify(self, token: str) -> Principal:
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(self.config.algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise InvalidKey(f"invalid token: {exc}") from None
        named = claims.get(self.config.role_claim, [])
        if isinstance(named, str):
            named = named.replace(",", " ").split()
        roles = [r for r in named if r in ROLES]
        if not roles:
            raise InvalidKey(f"token carries no Dream role in claim {self.config.role_claim!r}")
        role: Role = max(roles, key=_STRENGTH.__getitem__)
        return Principal(key_id=f"oidc:{claims['sub']}", name=str(claims["sub"]), role=role)
