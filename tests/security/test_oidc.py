"""OIDC tokens verified against a JWKS served over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dream.security.keys import InvalidKey
from dream.security.oidc import OidcConfig, OidcVerifier

ISSUER = "https://login.example.edu/realms/uni"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/certs"
    server.shutdown()


def token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    base = {"iss": ISSUER, "aud": "dream", "sub": "analyst-7", "exp": int(time.time()) + 300}
    base.update(claims)
    return jwt.encode(base, key, algorithm="RS256", headers={"kid": "k1"})


def test_valid_token_maps_to_the_strongest_named_role(signing_key, jwks_url) -> None:  # type: ignore[no-untyped-def]
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    principal = verifier.verify(token(signing_key, dream_roles=["query", "ingest"]))
    assert principal.role == "query" and principal.key_id == "oidc:analyst-7"
    assert verifier.verify(token(signing_key, dream_roles="admin")).role == "admin"
    assert OidcVerifier.looks_like_jwt(token(signing_key))
    assert not OidcVerifier.looks_like_jwt("dream_0123456789ab_" + "A" * 43)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"iss": "https://evil.example.com"}, "(?i)issuer"),
        ({"exp": int(time.time()) - 10}, "(?i)expired"),
        ({"dream_roles": ["superuser"]}, "no Dream role"),
        ({}, "no Dream role"),
    ],
)
def test_invalid_tokens_are_refused(signing_key, jwks_url, claims, reason) -> None:  # type: ignore[no-untyped-def]
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    with pytest.raises(InvalidKey, match=reason):
        verifier.verify(token(signing_key, **claims))


def test_token_signed_by_another_key_is_refused(jwks_url) -> None:  # type: ignore[no-untyped-def]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    with pytest.raises(InvalidKey, match="invalid token"):
        verifier.verify(token(other, dream_roles="admin"))
