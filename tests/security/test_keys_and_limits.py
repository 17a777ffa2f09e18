"""API keys in a real PostgreSQL, and the token-bucket rate limiter."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from dream.security.keys import InvalidKey, KeyStore
from dream.security.ratelimit import Limit, RateLimiter, parse_limits, retry_after_header
from dream.storage.database import Database
from helpers import FakeClock


@pytest.fixture
def keys(database_url: str) -> Iterator[KeyStore]:
    db = Database(database_url)
    db.open()
    yield KeyStore(db)
    db.close()


def test_keys_are_stored_hashed_and_verified(keys: KeyStore, database_url: str) -> None:
    issued = keys.create("lab collectors", "ingest")
    assert issued.secret.startswith(f"dream_{issued.key_id}_")
    principal = keys.verify(issued.secret)
    assert (principal.key_id, principal.role, principal.name) == (issued.key_id, "ingest",
                                                                    "lab collectors")  # fmt: skip
    with psycopg.connect(database_url) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM api_keys") for v in row)
    assert issued.secret.split("_", 2)[2] not in stored  # never the secret itself
    listed = keys.list()
    assert [k["key_id"] for k in listed] == [issued.key_id]
    assert "secret_sha256" not in listed[0]


def test_wrong_malformed_and_revoked_keys_are_refused(keys: KeyStore) -> None:
    issued = keys.create("analyst", "query")
    wrong = issued.secret[:-4] + ("AAAA" if not issued.secret.endswith("AAAA") else "BBBB")
    for token in (wrong, "dream_nothex000000_x", "Bearer nonsense", ""):
        with pytest.raises(InvalidKey):
            keys.verify(token)
    assert keys.verify(issued.secret).role == "query"  # cached now
    assert keys.revoke(issued.key_id) is True
    assert keys.revoke(issued.key_id) is False
    with pytest.raises(InvalidKey, match="revoked"):
        keys.verify(issued.secret)


def test_a_revocation_through_another_replica_applies_once_the_cache_expires(
    keys: KeyStore, database_url: str
) -> None:
    issued = keys.create("lab collectors", "ingest")
    clock = FakeClock()
    db = Database(database_url)
    db.open()
    try:
        replica = KeyStore(db, cache_s=10.0, clock=clock)
        assert replica.cached(issued.secret) is None  # never verified here: the database says
        assert replica.verify(issued.secret).role == "ingest"  # cached by this replica
        assert keys.revoke(issued.key_id) is True  # through the other one
        clock.advance(9.9)
        assert replica.verify(issued.secret).role == "ingest"  # within cache_s: still cached
        # What the api's event loop answers with, without a database check: the same.
        assert replica.cached(issued.secret) == replica.verify(issued.secret)
        clock.advance(0.2)
        assert replica.cached(issued.secret) is None  # past cache_s: to the database again
        with pytest.raises(InvalidKey, match="revoked"):
            replica.verify(issued.secret)
        assert replica.cached(issued.secret) is None  # a refusal is not cached
    finally:
        db.close()


def test_bootstrap_token_is_registered_as_given(keys: KeyStore) -> None:
    token = "dream_0123456789ab_" + "A" * 43
    issued = keys.create("automation", "admin", token=token)
    assert issued.secret == token and issued.key_id == "0123456789ab"
    keys.create("automation", "admin", token=token)  # again at the next start-up: no error
    principal = keys.verify(token)
    assert principal.may("ingest") and principal.may("query") and principal.may("admin")
    with pytest.raises(ValueError, match="role"):
        keys.create("x", "superuser")  # type: ignore[arg-type]


def test_rate_limit_spec_and_buckets() -> None:
    assert parse_limits("ingest=50/s:100, query=20/s:40") == {
        "ingest": Limit(50.0, 100), "query": Limit(20.0, 40)
    }  # fmt: skip
    assert parse_limits("query=120/m:10")["query"].rate_per_s == 2.0
    with pytest.raises(ValueError, match="ROLE=RATE"):
        parse_limits("ingest=fast")
    now = [0.0]
    limiter = RateLimiter(parse_limits("ingest=2/s:3"), clock=lambda: now[0])
    assert [limiter.acquire("k1", "ingest") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("k1", "ingest")
    assert wait == pytest.approx(0.5)
    assert retry_after_header(wait) == "1"
    assert limiter.acquire("k2", "ingest") == 0.0  # buckets are per key
    assert limiter.acquire("k1", "query") == 0.0  # no limit configured for the role
    now[0] += 0.5
    assert limiter.acquire("k1", "ingest") == 0.0  # refilled at 2 tokens/s
    assert limiter.acquire("k1", "ingest") > 0
