"""Shared fixtures: a real PostgreSQL and a real Kafka broker for the whole test session.

Services come from ``DREAM_TEST_DATABASE_URL`` / ``DREAM_TEST_KAFKA_BOOTSTRAP`` when set,
otherwise scripts/services.py starts them (and this session stops what it started). A test that
needs a service that cannot be had fails under CI=true and skips, with the reason, elsewhere.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

# Tests of other features run without API keys; tests/security turns authentication on.
os.environ.setdefault("DREAM_AUTH", "off")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import services  # noqa: E402  (scripts/services.py)

from helpers import unavailable  # noqa: E402
from tiers import pytest_collection_modifyitems  # noqa: E402,F401  (tier markers)


class _Started:
    kafka: dict | None = None
    postgres: dict | None = None


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("DREAM_TEST_DATABASE_URL")
    if url:
        yield url
        return
    state = services.running_state().get("postgres")
    started = False
    if state is None:
        try:
            state = services.start_postgres("test-postgres")
            started = True
        except Exception as exc:
            unavailable(f"could not start embedded PostgreSQL: {exc}")
    yield state["url"]
    if started:
        services.stop_postgres(state)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    bootstrap = os.environ.get("DREAM_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    state = services.running_state().get("kafka")
    started = False
    if state is None:
        try:
            state = services.start_kafka("test-kafka")
            started = True
        except Exception as exc:
            unavailable(f"could not start a Kafka broker: {exc}")
    yield state["bootstrap"]
    if started:
        services.stop_kafka(state)


def _fresh_database(server_url: str) -> Iterator[str]:
    from dream.storage.migrate import migrate

    name = f"dream_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server_url, dbname=name)
    migrate(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    yield from _fresh_database(postgres_server_url)


@pytest.fixture(scope="module")
def module_database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, migrated database shared by one module's tests (many cases, one set-up)."""
    yield from _fresh_database(postgres_server_url)


@pytest.fixture
def kafka_names() -> dict[str, str]:
    """Topic and group names no other test uses."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "kafka_topic": f"snapshots-{suffix}",
        "kafka_dlq_topic": f"snapshots-{suffix}.dlq",
        "kafka_group": f"workers-{suffix}",
    }
