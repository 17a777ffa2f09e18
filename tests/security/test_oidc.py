"""OIDC tokens verified against a JWKS served over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from dream.web.app import create_app
from dream.security.jwks import KeysUnavailable
from dream.security.keys import InvalidKey, Principal
from dream.security.oidc import NoDreamRole, OidcConfig, OidcVerifier
from helpers import wait_for
from test_api_security import ADMIN_TOKEN, bearer, make_dream

ISSUER = "https://login.example.edu/realms/uni"


def verify(verifier: OidcVerifier, token: str) -> Principal:
    return anyio.run(verifier.verify, token)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    server = _jwks_server(lambda: (200, body))
    yield f"http://127.0.0.1:{server.server_port}/certs"
    server.shutdown()


class Fetches:
    """What a test's JWKS server answers, and how often it was asked."""

    def __init__(self, body: bytes) -> None:
        self.body, self.status, self.count = body, 200, 0

    def __call__(self) -> tuple[int, bytes]:
        self.count += 1
        return self.status, self.body


def _jwks_server(answer: object) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer()  # type: ignore[operator]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class HangingIdp:
    """An identity provider that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/certs"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging_idp() -> Iterator[HangingIdp]:
    idp = HangingIdp()
    yield idp
    idp.close()


def token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    base = {"iss": ISSUER, "aud": "dream", "sub": "analyst-7", "exp": int(time.time()) + 300}
    base.update(claims)
    return jwt.encode(base, key, algorithm="RS256", headers={"kid": "k1"})


def test_valid_token_maps_to_the_strongest_named_role(signing_key, jwks_url) -> None:  # type: ignore[no-untyped-def]
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    principal = verify(verifier, token(signing_key, dream_roles=["query", "ingest"]))
    assert principal.role == "query" and principal.key_id == "oidc:analyst-7"
    assert verify(verifier, token(signing_key, dream_roles="admin")).role == "admin"
    assert OidcVerifier.looks_like_jwt(token(signing_key))
    assert not OidcVerifier.looks_like_jwt("dream_0123456789ab_" + "A" * 43)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "(?i)audience"),
        ({"iss": "https://evil.example.com"}, "(?i)issuer"),
        ({"exp": int(time.time()) - 10}, "(?i)expired"),
    ],
)
def test_invalid_tokens_are_refused(signing_key, jwks_url, claims, reason) -> None:  # type: ignore[no-untyped-def]
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    with pytest.raises(InvalidKey, match=reason):
        verify(verifier, token(signing_key, **claims))


@pytest.mark.parametrize(
    "roles",
    [["superuser"], None, {"admin": True}, {"roles": ["admin"]}, 2, 2.5, True, ["admin", 7],
     [["admin"]], ""],
)  # fmt: skip
def test_a_role_claim_of_another_shape_names_no_role(signing_key, jwks_url, roles) -> None:  # type: ignore[no-untyped-def]
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    claims = {} if roles is None else {"dream_roles": roles}
    with pytest.raises(NoDreamRole, match="no Dream role"):
        verify(verifier, token(signing_key, **claims))
    assert verify(verifier, token(signing_key, dream_roles="ingest, query")).role == "query"
    assert verify(verifier, token(signing_key, dream_roles="query steward")).role == "steward"


def test_token_signed_by_another_key_is_refused(jwks_url) -> None:  # type: ignore[no-untyped-def]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=jwks_url))
    with pytest.raises(InvalidKey, match="invalid token"):
        verify(verifier, token(other, dream_roles="admin"))


def test_key_set_is_kept_when_the_issuer_fails_and_unknown_kids_fetch_at_most_once(
    signing_key: rsa.RSAPrivateKey,
) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    fetches = Fetches(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256"}]}).encode())
    server = _jwks_server(fetches)
    try:
        url = f"http://127.0.0.1:{server.server_port}/certs"
        verifier = OidcVerifier(OidcConfig(issuer=ISSUER, audience="dream", jwks_url=url))
        assert verify(verifier, token(signing_key, dream_roles="query")).role == "query"
        fetches.status = 500
        verifier.jwks.min_interval_s = 0.0
        verifier.jwks.refresh().wait(5)  # a failed refresh keeps the cached keys
        assert verifier.jwks.error is not None
        assert verify(verifier, token(signing_key, dream_roles="query")).role == "query"
        with pytest.raises(KeysUnavailable):  # a key it could not fetch: 503, not 401
            verify(verifier, jwt.encode({"sub": "x"}, signing_key, headers={"kid": "k2"},
                                        algorithm="RS256"))  # fmt: skip
        fetches.status = 200
        verifier.jwks.refresh().wait(5)
        verifier.jwks.min_interval_s = 60.0
        asked = fetches.count
        for n in range(20):  # junk kids: one refresh at most, then refused from the cache
            junk = jwt.encode({"sub": "x"}, signing_key, algorithm="RS256", headers={"kid": f"j{n}"})
            with pytest.raises(InvalidKey):
                verify(verifier, junk)
        assert fetches.count - asked <= 1
    finally:
        server.shutdown()


def test_hanging_identity_provider_stalls_neither_keys_nor_tokens(
    signing_key: rsa.RSAPrivateKey, hanging_idp: HangingIdp, database_url: str, tmp_path: Path
) -> None:
    dream = make_dream(database_url, tmp_path, rate_limits="", oidc_issuer=ISSUER,
                       oidc_audience="dream", oidc_jwks_url=hanging_idp.url,
                       oidc_jwks_timeout_s=6.0)  # fmt: skip
    # (6 s: the key's request must come back while the tokens still wait, on a loaded machine
    # too; at 2 s a busy runner let the fetch time out first.)
    jwt_shaped = token(signing_key, dream_roles="query")
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:

            def get(headers: dict[str, str]) -> tuple[int, str]:
                r = client.get("/v1/faculties", headers=headers)
                return r.status_code, r.headers.get("Retry-After", "")

            with ThreadPoolExecutor(max_workers=64) as pool:
                tokens = [pool.submit(get, bearer(jwt_shaped)) for _ in range(60)]
                wait_for(lambda: hanging_idp.held, timeout_s=10,
                         what="the key set fetch to reach the identity provider")  # fmt: skip
                status, _ = pool.submit(get, bearer(ADMIN_TOKEN)).result()
                # The key's answer came while every token still waits on the fetch.
                waiting = sum(not f.done() for f in tokens)
                answers = [f.result() for f in tokens]
    finally:
        dream.close()
    assert status == 200
    assert waiting == len(tokens), "an API-key request waited on the identity provider"
    assert {s for s, _ in answers} == {503}
    assert all(retry for _, retry in answers)
    # The provider never answered: the fetch's timeout ended every token's wait, and one fetch
    # served them all (none waited out a queue of fetches, one after another).
    assert len(hanging_idp.held) == 1, len(hanging_idp.held)


def test_role_claims_of_other_shapes_answer_403_through_the_api(
    signing_key: rsa.RSAPrivateKey, jwks_url: str, database_url: str, tmp_path: Path
) -> None:
    dream = make_dream(database_url, tmp_path, rate_limits="", oidc_issuer=ISSUER,
                       oidc_audience="dream", oidc_jwks_url=jwks_url)  # fmt: skip
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            for roles in ({"admin": True}, 3, ["admin", {"x": 1}]):
                r = client.get("/v1/keys", headers=bearer(token(signing_key, dream_roles=roles)))
                assert r.status_code == 403, (roles, r.status_code, r.text)
                assert "dream_roles" in r.json()["detail"]
            admin = token(signing_key, dream_roles=["admin"])
            assert client.get("/v1/keys", headers=bearer(admin)).status_code == 200
    finally:
        dream.close()
