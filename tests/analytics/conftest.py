"""Fixtures for the analytics tests: a database holding the generated dataset, and the api."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

import analytics_dataset
import sessions_data
from dream.analytics.queries import Analytics
from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings


@pytest.fixture
def rows(database_url: str) -> list[analytics_dataset.Row]:
    """The dataset, written through the real writer; its rows are the oracle's input."""
    return analytics_dataset.load(database_url)


@pytest.fixture
def dream(database_url: str, tmp_path: Path) -> Iterator[Dream]:
    # The dataset goes straight into the writer, not through the worker's PII scrubber, so
    # queries must not pseudonymize user names either (tests/security covers that path).
    d = Dream(Settings(database_url=database_url, data_dir=tmp_path, pii_mode="off")).open()
    yield d
    d.close()


@pytest.fixture
def client(dream: Dream, rows: list) -> Iterator[TestClient]:
    app = create_app(dream, publisher=dream.publisher())
    with TestClient(app) as c:
        yield c


@pytest.fixture
def analytics_of(database_url: str) -> Iterator[Callable[[list[sessions_data.Session]], Analytics]]:
    """Analytics over a database holding the sessions given (and nothing else)."""
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:

        def load(sessions: list[sessions_data.Session]) -> Analytics:
            with psycopg.connect(database_url, autocommit=True) as conn:
                sessions_data.insert(conn, sessions)
            return Analytics(pool)

        yield load
