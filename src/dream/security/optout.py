"""Opt-outs: users (by pseudonym) and hosts whose snapshots ingest keeps nothing of.

A user opted out by name is kept as their pseudonym outside any epoch (``Scrubber.stable``), so
the opt-out outlives pseudonym rotations; by a pseudonym, as that pseudonym.

The api asks before anything of a snapshot is kept (before its raw output reaches the blob
store or it is published), so an opted-out user's snapshot leaves no row, message or object: it
is answered 202 (a collector must not retry it), marked dropped, and counted. The list is read
from PostgreSQL and cached by each api replica for ``ttl_s`` seconds: an opt-out is effective
at once on the replica that took it, within ``ttl_s`` on the others. A stale list is read again
in the background, so ingestion never waits on PostgreSQL for it (while PostgreSQL is away the
last list read holds); only a replica that has never read it waits, and answers 503 if it
cannot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from psycopg.rows import dict_row

from dream.storage.cached import CachedList
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.queries import NamedQueries

Kind = Literal["user", "host"]
_SQL = NamedQueries("dream.security", "queries.sql")


class OptOuts:
    """The opt-out list, its cache, and its changes (``user`` pseudonymizes a user name)."""

    def __init__(self, db: Database, user: Callable[[str], str | None], ttl_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._db = db
        self._user = user
        self._list = CachedList(db, _SQL.query("list_optouts"), _pairs, what="the opt-outs",
                                ttl_s=ttl_s, clock=clock)  # fmt: skip

    def value(self, kind: Kind, value: str) -> str:
        """How ``value`` is kept: a user as their pseudonym (a pseudonym stays as it is)."""
        return (self._user(value) or value) if kind == "user" else value

    @property
    def loaded(self) -> bool:
        return self._list.loaded

    def refresh(self) -> None:
        """Read the list (the api calls this off its event loop, before its first snapshot);
        StorageError when it cannot be read."""
        self._list.read()

    def load(self) -> None:
        """Read the list unless it is fresh; a failure is logged and keeps the last list."""
        self._list.read_if_due()

    def refresh_if_stale(self) -> None:
        """Read the list again in the background once it is older than ``ttl_s`` (one thread
        at a time; a failure keeps the last list and is tried again ``ttl_s`` later)."""
        self._list.current()

    def excludes(self, users: tuple[str | None, ...], host: str) -> Kind | None:
        """Why a snapshot on ``host`` of a user known as ``users`` (their pseudonyms) is
        dropped, if it is."""
        cached = self._list.value or frozenset()
        if ("host", host) in cached:
            return "host"
        if any(("user", user) in cached for user in users if user is not None):
            return "user"
        return None

    def list(self) -> list[dict[str, Any]]:
        with storage_errors("could not read the opt-outs"), self._db.pool.connection() as conn:
            return conn.cursor(row_factory=dict_row).execute(_SQL.query("list_optouts")).fetchall()

    def add(self, kind: Kind, value: str) -> str:
        """Opt ``value`` out; returns it as kept (a user's pseudonym)."""
        return self._change("add_optout", kind, value)

    def remove(self, kind: Kind, value: str) -> str:
        return self._change("remove_optout", kind, value)

    def _change(self, name: str, kind: Kind, value: str) -> str:
        kept = self.value(kind, value)
        with storage_errors("could not change the opt-outs"), self._db.pool.connection() as conn:
            conn.execute(_SQL.query(name), {"kind": kind, "value": kept})
        self.refresh()
        return kept


def _pairs(rows: Sequence[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((kind, value) for kind, value, _ in rows)


__all__ = ["Kind", "OptOuts"]
