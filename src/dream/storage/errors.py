"""Driver errors turned into Dream's at the storage boundary, so that code above storage catches
``StorageError`` and never psycopg's own, and decides on its ``retryable`` alone.

Permanent are the SQLSTATE classes of the data itself: 22 (data exception: out of range,
invalid text), 23 (integrity constraint violation) and 54 (program limit exceeded: a value too
long for an index, a statement too complex; the same data fails again). Everything else is
transient: pool timeouts, lost connections, admin shutdown (57P01), serialization failures
(40001), deadlocks (40P01), statement timeouts (57014), and errors a migration or a restart can
cure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg

from dream.errors import StatementTimeout, StorageError, StorageRefused, StorageUnavailable


def refused_data(exc: psycopg.Error) -> bool:
    """Whether PostgreSQL refused the data itself: the same statement fails again, however
    often it is retried."""
    program_limit = (exc.sqlstate or "").startswith("54")
    return program_limit or isinstance(exc, pg.DataError | pg.IntegrityError)


def storage_error(exc: psycopg.Error, what: str | None = None) -> StorageError:
    """Dream's error for the driver's ``exc`` (``what`` prefixes the message)."""
    message = f"{what}: {exc}" if what else str(exc)
    if isinstance(exc, pg.QueryCanceled):
        return StatementTimeout(message)
    if refused_data(exc):
        return StorageRefused(message)
    return StorageUnavailable(message)


@contextmanager
def storage_errors(what: str | None = None) -> Iterator[None]:
    """Raise a psycopg error of the block as Dream's (``"<what>: <error>"``)."""
    try:
        yield
    except psycopg.Error as exc:  # includes psycopg_pool.PoolTimeout
        raise storage_error(exc, what) from exc
