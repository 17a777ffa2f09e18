"""A writer's cache of its hosts' open sessions: what ``sessions_near`` would read back before
each batch, kept from the batches it wrote itself.

Kafka keys snapshots by host, so one worker writes a host's sessions and what it wrote last is
what it would read. Correctness never depends on the cache:

- every statement that writes a host's sessions, whoever runs it (this worker, another after a
  rebalance, a reprocess, plain SQL), gives the host a new version (``session_hosts``,
  migration 0015: a statement trigger and a sequence, so a version is never given twice);
- a host's entry is used only while the host's version, read under the host's lock, is the one
  read after this cache's own last write of it; any other version reads the database;
- an entry holds every stored session of its host open at or after its ``horizon``; runs that
  start before it (a spool drained late, a replay) read the database;
- an entry changes only once the transaction that wrote it committed (``commit``); a failed or
  retried batch, a restart or a kill -9 leaves nothing the database does not hold.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.storage.sessions import Key, Session

_SQL = NamedQueries("dream.storage", "sessions.sql")
query = _SQL.query

# Sessions that stopped taking observations this long before the host's latest one leave the
# cache: a snapshot later than that by so much reads the database.
KEEP = timedelta(hours=1)
MAX_HOSTS = 4096  # the least recently written hosts beyond this leave the cache


@dataclass(slots=True)
class _Host:
    version: int | None  # the host's version in session_hosts (None: no row)
    horizon: datetime  # every stored session with open_until >= horizon is in ``sessions``
    sessions: dict[Key, list[Session]]


class OpenSessions:
    """Per host, its sessions still open since a horizon, valid for one version of the host."""

    def __init__(self, keep: timedelta = KEEP, max_hosts: int = MAX_HOSTS) -> None:
        self.keep = keep
        self.max_hosts = max_hosts
        self._hosts: OrderedDict[str, _Host] = OrderedDict()
        self._working: dict[str, _Host] | None = None  # this transaction's, till ``commit``
        self._database: tuple[object, ...] | None = None

    def __len__(self) -> int:
        return len(self._hosts)

    def begin(self) -> None:
        """A transaction starts: nothing of an earlier one that did not commit is kept."""
        self._working = None

    def stored_near(
        self, conn: psycopg.Connection, new: dict[Key, list[Session]]
    ) -> dict[Key, list[Session]]:
        """What ``sessions_near`` gives for ``new`` (runs per key, in start order): from the
        cache for hosts whose entry is valid, from the database (each such host's sessions
        open since its earliest run) for the others. The caller holds the hosts' locks."""
        database = (conn.info.host, conn.info.port, conn.info.dbname)
        if database != self._database:
            self._hosts.clear()
            self._database = database
        since: dict[str, datetime] = {}
        for (host, *_), runs in new.items():
            first = runs[0].first_seen
            if host not in since or first < since[host]:
                since[host] = first
        versions = _versions(conn, since)
        working: dict[str, _Host] = {}
        stale: dict[str, datetime] = {}
        for host, first in since.items():
            entry = self._hosts.get(host)
            if (entry is not None and entry.version == versions.get(host)
                    and entry.horizon <= first):  # fmt: skip
                working[host] = _Host(entry.version, entry.horizon, dict(entry.sessions))
            else:
                stale[host] = first
        if stale:
            for host, first in stale.items():
                working[host] = _Host(versions.get(host), first, {})
            for s in _load(conn, stale):
                working[s.host].sessions.setdefault(s.key, []).append(s)
        self._working = working
        found: dict[Key, list[Session]] = {}
        for key, runs in new.items():
            held = working[key[0]].sessions.get(key)
            if not held:
                continue
            first = runs[0].first_seen
            until = runs[0].open_until if len(runs) == 1 else max(r.open_until for r in runs)
            near = [s for s in held if s.open_until >= first and s.first_seen <= until]
            if near:
                found[key] = near
        return found

    def replaced(self, key: Key, old: list[Session], now: list[Session]) -> None:
        """The stored sessions ``old`` of ``key`` (as ``stored_near`` gave them) are now
        ``now`` (the merged ones, unchanged ones included)."""
        if self._working is None:
            return
        entry = self._working[key[0]]
        held = entry.sessions.get(key)
        if len(old) == 1 and held is not None and len(held) == 1 and held[0] is old[0]:
            entry.sessions[key] = list(now)  # the usual: a key's one open session went on
            return
        gone = {id(s) for s in old}
        kept = [s for s in held or () if id(s) not in gone]
        entry.sessions[key] = kept + now if kept else list(now)

    def written(self, conn: psycopg.Connection) -> None:
        """The batch's sessions are written: its hosts' new versions, old sessions let go."""
        working = self._working
        if working is None:
            return
        versions = _versions(conn, working)
        for host, entry in working.items():
            entry.version = versions.get(host)
            latest = max((s.open_until for runs in entry.sessions.values() for s in runs),
                         default=entry.horizon)  # fmt: skip
            horizon = max(entry.horizon, latest - self.keep)
            if horizon > entry.horizon:
                entry.horizon = horizon
                entry.sessions = {
                    key: kept for key, runs in entry.sessions.items()
                    if (kept := [s for s in runs if s.open_until >= horizon])
                }  # fmt: skip

    def commit(self) -> None:
        """The transaction committed: its hosts' entries become the cache's."""
        working, self._working = self._working, None
        if not working:
            return
        for host, entry in working.items():
            self._hosts[host] = entry
            self._hosts.move_to_end(host)
        while len(self._hosts) > self.max_hosts:
            self._hosts.popitem(last=False)


def _load(conn: psycopg.Connection, since: dict[str, datetime]) -> list[Session]:
    """The stored sessions of each host open at or after its time."""
    from dream.storage.sessions import SESSION_COLUMNS, Session  # (sessions.py uses this module)

    columns = sql.SQL(", ").join(sql.Identifier("s", name) for name in SESSION_COLUMNS)
    statement = _SQL.fragment("host_open_sessions").format(columns=columns)
    cur = conn.cursor(binary=True)
    rows = cur.execute(statement, {"hosts": list(since), "since": list(since.values())}).fetchall()
    return [Session(*row) for row in rows]


def _versions(conn: psycopg.Connection, hosts: Iterable[str]) -> dict[str, int]:
    rows = conn.execute(query("session_host_versions"), {"hosts": list(hosts)}).fetchall()
    return {host: version for host, version in rows}
