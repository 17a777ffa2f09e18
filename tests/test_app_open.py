"""The app starts nothing until ``open()``, opens only the pools asked for, and ``close()``
(or leaving ``with``) closes them: against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from dream.app import Dream, NotOpenError
from dream.settings import Settings


def test_nothing_is_reachable_before_open(tmp_path: Path) -> None:
    # No database configured: touching a property must not start the embedded one.
    dream = Dream(Settings(data_dir=tmp_path))
    for name in ("database_url", "db", "analytics_db"):
        with pytest.raises(NotOpenError, match="open"):
            getattr(dream, name)
    with pytest.raises(NotOpenError):
        dream.migrate()
    assert list(tmp_path.iterdir()) == []


def test_open_starts_only_the_pools_asked_for(database_url: str, tmp_path: Path) -> None:
    with Dream(Settings(database_url=database_url, data_dir=tmp_path)).open(
        write=False, analytics=False
    ) as dream:
        assert dream.database_url == database_url
        assert dream.migrate() == []  # migrated already (the fixture); no pool needed
        with pytest.raises(NotOpenError, match="write"):
            _ = dream.db
        dream.open(analytics=False)  # more of it, later
        assert dream.db.ping()
        with pytest.raises(NotOpenError, match="analytics"):
            _ = dream.analytics_db


def test_close_closes_and_the_app_opens_again(database_url: str, tmp_path: Path) -> None:
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path))
    with dream.open():
        dream.migrate()
        pool = dream.db.pool
        assert dream.analytics_db.ping() and dream.keys.list() == []
    assert pool.closed
    with pytest.raises(NotOpenError):
        _ = dream.db
    with dream.open():  # a new pool, and keys on it
        assert not dream.db.pool.closed and dream.keys.list() == []
