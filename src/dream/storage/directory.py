"""The user directory (migration 0019): faculties as a managed list with aliases, and users'
memberships (faculty, programme, role, year) over time, so use is attributed to the cohort a
user belonged to when it happened.

An import is a sync: the file is the directory as of ``as_of``. A user whose row changed has
the open membership closed at ``as_of`` and a new one opened; with ``full``, a user missing
from the file has theirs closed (they left). Accounts arrive pseudonymized (the caller applies
the ingest key), so the directory never holds a name in clear where the sessions do not.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from dream.errors import DreamError
from dream.storage.cached import CachedList
from dream.storage.database import Database
from dream.storage.queries import NamedQueries, copy_text

_SQL = NamedQueries("dream.storage", "directory.sql")
ROLES = ("student", "staff")


class DirectoryError(DreamError):
    """A directory import or faculty change that cannot be applied as asked."""


class UnknownFaculty(DirectoryError):
    """A faculty neither on the managed list nor an alias of one (``value``: as given)."""

    def __init__(self, value: str, known: list[str]) -> None:
        super().__init__(_unknown(value, known))
        self.value = value


class FacultyNames:
    """The managed list as ingest checks it: each name a faculty may be given as and the one it
    means, read again at most every ``ttl_s`` (a faculty added is accepted within that).

    Ingest never waits on PostgreSQL for it (a ``CachedList``): a stale list is read again in
    the background; with the database unreachable the last list read stays in force (none read
    yet: any faculty is accepted, as with an empty list) and the next read is tried ``retry_s``
    later. Snapshots keep flowing to Kafka while the database is down.
    """

    def __init__(self, db: Database, ttl_s: float = 60.0, *, timeout_s: float = 2.0,
                 retry_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._list: CachedList[dict[str, str]] = CachedList(
            db, _SQL.query("faculty_names"), dict, what="the managed faculties", ttl_s=ttl_s,
            retry_s=retry_s, timeout_s=timeout_s, clock=clock)  # fmt: skip

    @property
    def loaded(self) -> bool:
        return self._list.loaded

    def load(self) -> None:
        """Read the list unless it is fresh or a read failed less than ``retry_s`` ago
        (blocking: the api calls it in a worker thread)."""
        self._list.read_if_due()

    def resolve(self, faculty: str) -> str:
        """The faculty ``faculty`` (stored form: lowercase) means; UnknownFaculty when the list
        holds faculties and neither it nor an alias is ``faculty``. An empty list (a deployment
        that manages none) accepts any."""
        names = self._list.current() or {}
        if not names or faculty in names:
            return names.get(faculty, faculty)
        raise UnknownFaculty(faculty, sorted(set(names.values())))


@dataclass(frozen=True, slots=True)
class Member:
    account: str  # pseudonymized as the sessions' user names (account part)
    faculty: str  # a faculty or an alias of one, any case
    programme: str = ""
    role: str = "student"
    year: int | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    opened: int  # memberships started (new users and changed ones)
    closed: int  # memberships ended (changed users and, in a full import, those who left)
    listed: int  # users in the file


def close_names(value: str, known: list[str], n: int = 3) -> list[str]:
    """The known names closest to ``value`` (for an error naming what was probably meant)."""
    return difflib.get_close_matches(value, known, n=n, cutoff=0.5)


class Directory:
    """Faculties and memberships over a pool (the write side)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_faculty(self, faculty: str, name: str = "") -> None:
        with self.db.pool.connection() as conn:
            conn.execute(_SQL.query("faculty_add"), {"faculty": faculty.strip().lower(),
                                                     "name": name.strip()})  # fmt: skip

    def add_alias(self, alias: str, faculty: str) -> None:
        """``alias`` (any case) means ``faculty``, which must be on the list."""
        target = faculty.strip().lower()
        with self.db.pool.connection() as conn:
            known = self._names(conn)
            if known.get(target) != target:
                raise DirectoryError(_unknown(target, sorted(set(known.values()))))
            conn.execute(_SQL.query("alias_add"), {"alias": alias.strip().lower(),
                                                   "faculty": target})  # fmt: skip

    def faculties(self) -> list[dict[str, Any]]:
        with self.db.pool.connection() as conn:
            return conn.cursor(row_factory=dict_row).execute(_SQL.query("faculties_list")).fetchall()

    def resolve(self, names: list[str]) -> dict[str, str]:
        """Each name's faculty (itself or the one it is an alias of); DirectoryError naming
        the first unknown one and the known names closest to it."""
        with self.db.pool.connection() as conn:
            return _resolve(self._names(conn), names)

    def import_members(self, members: list[Member], *, as_of: datetime, full: bool = True,
                       add_faculties: bool = False) -> ImportResult:  # fmt: skip
        """Sync the directory to ``members`` as of ``as_of`` (see the module's docstring);
        with ``add_faculties``, a faculty not on the list joins it, else it is refused."""
        _no_duplicates(members)
        for m in members:
            if m.role not in ROLES:
                raise DirectoryError(f"{m.account}: role {m.role!r}: expected one of"
                                     f" {', '.join(ROLES)}")  # fmt: skip
        with self.db.pool.connection() as conn, conn.transaction():
            names = {m.faculty.strip().lower() for m in members}
            if add_faculties:
                for name in sorted(names - set(self._names(conn))):
                    conn.execute(_SQL.query("faculty_add"), {"faculty": name, "name": ""})
            faculty = _resolve(self._names(conn), sorted(names))
            latest = conn.execute(_SQL.query("members_latest")).fetchone()
            if latest and latest[0] is not None and as_of <= latest[0]:
                raise DirectoryError(f"as of {as_of.isoformat()}: the directory already holds"
                                     f" memberships from {latest[0].isoformat()}; an import"
                                     " must be later than the last")  # fmt: skip
            conn.execute(_SQL.query("incoming_create"))
            with conn.cursor().copy(_SQL.query("incoming_copy")) as copy:
                for m in members:
                    row = (m.account, faculty[m.faculty.strip().lower()], m.programme.strip(),
                           m.role, m.year)  # fmt: skip
                    copy.write("\t".join(copy_text(v) for v in row) + "\n")
            params = {"as_of": as_of}
            closed = conn.execute(_SQL.query("members_close_changed"), params).rowcount
            if full:
                closed += conn.execute(_SQL.query("members_close_absent"), params).rowcount
            opened = conn.execute(_SQL.query("members_open"), params).rowcount
        return ImportResult(opened=opened, closed=closed, listed=len(members))

    @staticmethod
    def _names(conn: Any) -> dict[str, str]:
        return dict(conn.execute(_SQL.query("faculty_names")).fetchall())


def _unknown(name: str, known: list[str]) -> str:
    close = close_names(name, known)
    hint = f"; closest known: {', '.join(close)}" if close else ""
    listed = ", ".join(known) if known else "none yet: `dream directory faculty add`"
    return f"unknown faculty {name!r}{hint} (faculties: {listed}; or add it, or an alias)"


def _resolve(known: dict[str, str], names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in names:
        name = raw.strip().lower()
        if name not in known:
            raise DirectoryError(_unknown(name, sorted(known)))
        out[name] = known[name]
    return out


def _no_duplicates(members: list[Member]) -> None:
    seen: set[str] = set()
    for m in members:
        if m.account in seen:
            raise DirectoryError(f"user {m.account} is listed twice: one row per user")
        seen.add(m.account)
