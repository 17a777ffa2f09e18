"""Driver errors turned into Dream's at the storage boundary, so that code above storage catches
``StorageError`` and never psycopg's own (whose pool timeouts, dropped connections and
cancelled statements all mean the same to a caller: the database is not answering now)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from dream.errors import StorageError


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Raise a psycopg error of the block as ``StorageError("<what>: <error>")``."""
    try:
        yield
    except psycopg.Error as exc:  # includes psycopg_pool.PoolTimeout
        raise StorageError(f"{what}: {exc}") from exc
