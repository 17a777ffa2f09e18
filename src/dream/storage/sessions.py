"""Process sessions: the observations of a batch merged into the ``sessions`` table and the
seconds of use and launches they add to ``usage_hours_daily`` (migration 0007).

An observation (one process in one snapshot) of key (host, snapshot user, pid, name) at ``t``
with cadence ``c`` may take in any observation of its key at or before ``t + 1.5 c``: a
session is a connected run of such reaches, its ``open_until`` the furthest one. Connected
components of intervals do not depend on the order they are found in, and every other field is
a minimum, maximum or sum over the observations (ties broken by value), so the rows are a
function of the set of snapshots: any arrival order, batching or worker gives the same ones.

Per batch, in the writer's transaction (which made its snapshots final: each is merged once):
the observations are grouped into runs per key in Python; the host's stored sessions that can
touch those runs are read (under a per-host lock, in host order), merged with them, and the
merged rows upserted (a session extended at its end is updated in place; one whose start moved
is deleted and written again). ``usage_hours_daily`` gets each replaced session's contribution
taken out and the merged one's added, so it always equals the sum over sessions.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, cast

import psycopg

from dream.snapshots import ProcessRecord, Snapshot
from dream.storage.hours import HoursDelta, HoursKey, day_of, quantized
from dream.storage.open_sessions import OpenSessions
from dream.storage.copying import copy_binary
from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.storage", "sessions.sql")
query = _SQL.query

LINK_CADENCES = 1.5  # a process absent for longer than this many sampling intervals ended
_DAY = timedelta(days=1)

Key = tuple[str, str, int, str]  # host, user_name, pid, name


@lru_cache(maxsize=256)  # a deployment has a few cadences; every session's end asks
def _cadence(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def as_real(value: float) -> float:
    """``value`` as PostgreSQL's ``real`` stores it, so a session read back is the one written."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _low(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, value)  # a value before none (min)


def _high(value: float | None) -> tuple[int, float]:
    return (0, 0.0) if value is None else (1, value)  # a value after none (max)


@dataclass(slots=True)
class Session:
    """One row of ``sessions``; ``absorb`` merges another session of the same key into it."""

    host: str
    user_name: str
    pid: int
    name: str
    first_seen: datetime
    last_seen: datetime
    cadence_s: float
    open_until: datetime
    os: str
    faculty: str
    app: str
    is_system: bool
    process_user: str | None
    samples: int
    cpu_first: float | None
    cpu_last: float | None
    rss_peak_kb: int | None
    version: str | None = None  # the product's (migration 0017): set with app, as app is

    @classmethod
    def observed(
        cls, snapshot: Snapshot, p: ProcessRecord, cadence_s: float, reach: timedelta
    ) -> Session:
        t = snapshot.collected_at
        return _opened((t, cadence_s, t + reach, snapshot), p)

    @classmethod
    def from_row(cls, r: dict[str, Any], host: str, default_cadence_s: float) -> Session:
        """One stored per-sample row (``host_observation_rows``) as an observation."""
        t = r["collected_at"]
        cadence = as_real(r["interval_s"] or default_cadence_s)
        return cls(
            host, r["user_name"], -1 if r["pid"] is None else r["pid"], r["name"] or "", t, t,
            cadence, t + timedelta(seconds=LINK_CADENCES * cadence), r["os"], r["faculty"],
            r["app"] or "", r["is_system"], r["process_user"], 1, r["cpu_seconds"],
            r["cpu_seconds"], r["rss_kb"], r.get("version"),
        )  # fmt: skip

    @property
    def key(self) -> Key:
        return (self.host, self.user_name, self.pid, self.name)

    @property
    def ended(self) -> datetime:
        """The end of its use: one cadence after its last observation (the table's ``ended``)."""
        return self.last_seen + _cadence(self.cadence_s)

    @property
    def pk(self) -> tuple[str, str, int, str, datetime]:
        return (self.host, self.user_name, self.pid, self.name, self.first_seen)

    def _first_rank(self) -> tuple[object, ...]:
        # The earliest observation says what the session is (app, user...): ties by value.
        return (self.first_seen, self.app, self.is_system, self.os, self.faculty,
                self.process_user or "", self.process_user is None, _low(self.cpu_first),
                self.version or "")  # fmt: skip

    def _last_rank(self) -> tuple[object, ...]:
        return (self.last_seen, self.cadence_s, _high(self.cpu_last))

    def absorb(self, other: Session) -> None:
        """Take in ``other`` (same key, linked): commutative and associative."""
        # Ranks compare first_seen (last_seen) first: the tuples are built only on a tie.
        if other.first_seen < self.first_seen or (
            other.first_seen == self.first_seen and other._first_rank() < self._first_rank()
        ):
            self.first_seen, self.app, self.is_system = other.first_seen, other.app, other.is_system
            self.os, self.faculty, self.process_user = other.os, other.faculty, other.process_user
            self.cpu_first = other.cpu_first
            self.version = other.version
        if other.last_seen > self.last_seen or (
            other.last_seen == self.last_seen and other._last_rank() > self._last_rank()
        ):
            self.last_seen, self.cadence_s, self.cpu_last = (
                other.last_seen, other.cadence_s, other.cpu_last)  # fmt: skip
        self.open_until = max(self.open_until, other.open_until)
        self.samples += other.samples
        if other.rss_peak_kb is not None and (
            self.rss_peak_kb is None or other.rss_peak_kb > self.rss_peak_kb
        ):
            self.rss_peak_kb = other.rss_peak_kb

    def copy(self) -> Session:
        return Session(*session_row(self))

    def hours(self) -> dict[HoursKey, tuple[float, int]]:
        """Seconds of use per UTC day of [first_seen, last_seen + cadence_s); the launch on the
        day of first_seen. Each day's seconds are rounded to a multiple of 1/1024 s."""
        start = self.first_seen
        end = self.ended
        day = day_of(start)
        dims = (self.app, self.os, self.faculty, self.user_name, self.host)
        if end <= day + _DAY:  # the usual case: within one day
            return {(day, *dims): (quantized(end - start), 1)}
        out: dict[HoursKey, tuple[float, int]] = {}
        launches = 1
        while day < end:
            out[(day, *dims)] = (quantized(min(end, day + _DAY) - max(start, day)), launches)
            launches = 0
            day += _DAY
        return out


SESSION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Session))
# A session's values in SESSION_COLUMNS order (dataclasses.astuple deep-copies: 10x slower).
session_row = cast(Callable[[Session], tuple[Any, ...]], attrgetter(*SESSION_COLUMNS))


def merge_runs(sessions: Iterable[Session]) -> list[Session]:
    """Sessions of one key merged where they link: a sweep over the intervals [first_seen,
    open_until] in start order. Inputs are never changed: a session that absorbs others is a
    copy (one that absorbs none is returned as it is)."""
    merged: list[Session] = []
    copied = False  # merged[-1] is a copy of ours
    for s in sorted(sessions, key=lambda s: s.first_seen):
        if merged and s.first_seen <= merged[-1].open_until:
            if not copied:
                merged[-1], copied = merged[-1].copy(), True
            merged[-1].absorb(s)
        else:
            merged.append(s)
            copied = False
    return merged


def lock_hosts(conn: psycopg.Connection, hosts: Iterable[str]) -> None:
    """Serialise writers of the same hosts (in one order: no deadlocks); till commit."""
    conn.execute(query("lock_hosts"), {"hosts": sorted(set(hosts))})


# What one snapshot's observations share: collected_at, cadence, the reach, the snapshot.
_Head = tuple[datetime, float, datetime, Snapshot]


def _opened(head: _Head, p: ProcessRecord) -> Session:
    """A session of one observation (``Session.observed`` with the snapshot's values at hand)."""
    t, cadence, until, snapshot = head
    return Session(
        snapshot.host, snapshot.user, -1 if p.pid is None else p.pid, p.name or "", t, t, cadence,
        until, snapshot.os, snapshot.faculty, p.app or "", p.is_system, p.user, 1, p.cpu_seconds,
        p.cpu_seconds, p.rss_kb, p.version,
    )  # fmt: skip


class SessionBatch:
    """The observations of a batch, grouped per key, folded into runs, merged into storage."""

    def __init__(self, default_cadence_s: float = 300.0, cache: OpenSessions | None = None) -> None:
        self.default_cadence_s = default_cadence_s
        self.cache = cache  # the writer's open sessions (None: every batch reads them back)
        self.runs: dict[Key, list[Session]] = {}  # whole sessions (add_sessions)
        # (add) Per key, the runs its observations made in the order they came: each later
        # than the last takes the last run on or starts the next; one not later (a late
        # snapshot, two at one instant) is a session of its own in ``unordered``, merged with
        # the runs at the end (``merge_runs``: the same sessions whatever the order).
        self.folded: dict[Key, list[Session]] = {}
        self.unordered: dict[Key, list[Session]] = {}

    def __bool__(self) -> bool:
        return bool(self.runs) or bool(self.folded)

    def cadence(self, snapshot: Snapshot) -> float:
        declared = snapshot.interval_s
        return as_real(declared if declared is not None else self.default_cadence_s)

    def add(self, snapshot: Snapshot, processes: Iterable[ProcessRecord]) -> None:
        cadence = self.cadence(snapshot)
        # One tzinfo object for every instant of the batch, as for sessions read back: aware
        # datetimes then compare and hash without asking each tzinfo its offset.
        t = snapshot.collected_at.astimezone(UTC)
        until = t + timedelta(seconds=LINK_CADENCES * cadence)
        head = (t, cadence, until, snapshot)
        host, user = snapshot.host, snapshot.user
        folded = self.folded
        for p in processes:
            pid = p.pid
            key = (host, user, -1 if pid is None else pid, p.name or "")
            runs = folded.get(key)
            if runs is None:
                folded[key] = [_opened(head, p)]
                continue
            s = runs[-1]  # its last_seen is the latest instant the key's runs have
            if t <= s.last_seen:
                self.unordered.setdefault(key, []).append(_opened(head, p))
            elif t > s.open_until:
                runs.append(_opened(head, p))
            else:  # ``absorb``'s rules for a later observation, without a session for it
                s.last_seen, s.cadence_s, s.cpu_last = t, cadence, p.cpu_seconds
                if until > s.open_until:
                    s.open_until = until
                s.samples += 1
                rss = p.rss_kb
                if rss is not None and (s.rss_peak_kb is None or rss > s.rss_peak_kb):
                    s.rss_peak_kb = rss

    def add_sessions(self, sessions: Iterable[Session]) -> None:
        """Whole sessions as observations (a reprocess puts back what it rebuilt)."""
        for s in sessions:
            self.runs.setdefault(s.key, []).append(s)

    def _merged(self) -> dict[Key, list[Session]]:
        """Per key, the batch's runs in start order."""
        new = self.folded
        for key, late in self.unordered.items():
            new[key] = merge_runs([*new[key], *late])
        for key, sessions in self.runs.items():
            new[key] = merge_runs([*new.get(key, ()), *sessions])
        return new

    def write(self, conn: psycopg.Connection, hours: HoursDelta | None = None) -> None:
        """Merge into ``sessions`` and ``usage_hours_daily`` (the caller holds the host locks)."""
        if not self:
            return
        new = self._merged()
        cache = self.cache
        stored = self._stored_near(conn, new) if cache is None else cache.stored_near(conn, new)
        # The writer's own delta also keeps usage_hours_hourly: its statements below run with
        # that table's triggers off (migration 0023). A caller's delta (a reprocess, which
        # deletes sessions itself) leaves the hourly table to the triggers.
        hours = hours if hours is not None else HoursDelta(hourly=True)
        inserts: list[Session] = []  # under a key no stored session has
        updates: list[Session] = []  # a stored session extended at its end
        gone: list[Session] = []
        for key, runs in new.items():
            old = stored.get(key)
            if not old:
                for merged in runs:
                    hours.add(merged, 1)
                inserts.extend(runs)
                if cache is not None:
                    cache.replaced(key, [], runs)
                continue
            if len(old) == 1 and len(runs) == 1:  # the usual: a running session goes on
                (was,), (run,) = old, runs
                if was.first_seen < run.first_seen <= was.open_until:
                    # The batch's own run takes the stored one in (``absorb`` commutes): the
                    # cache's object stays as committed, without copying it per batch.
                    merged = run
                    merged.absorb(was)
                    hours.extend(was, merged)
                    updates.append(merged)
                    if cache is not None:
                        cache.replaced(key, old, [merged])
                    continue
            now = merge_runs([*runs, *old])
            if cache is not None:
                cache.replaced(key, old, now)
            for merged in now:
                replaced = [s for s in old if merged.first_seen <= s.first_seen <= merged.open_until]
                if [(s.pk, s.samples) for s in replaced] == [(merged.pk, merged.samples)]:
                    continue  # a stored session nothing new touched
                kept = False
                for s in replaced:
                    hours.add(s, -1)
                    if s.pk == merged.pk:
                        kept = True
                    else:
                        gone.append(s)
                hours.add(merged, 1)
                (updates if kept else inserts).append(merged)
        if hours.hourly is not None:
            conn.execute(query("hours_hourly_by"), {"by": "writer"})
        if gone:
            conn.execute(query("delete_sessions"), _columns(gone, SESSION_COLUMNS[:5]))
        # The host locks keep other writers off these rows: new ones are COPYed straight in.
        if inserts:
            copy_binary(conn, query("copy_sessions"), [(*session_row(s), s.ended) for s in inserts])
        if updates:
            conn.execute(query("create_session_stage"))
            copy_binary(conn, query("copy_session_stage"), list(map(session_row, updates)))
            conn.execute(query("update_sessions"))
        if hours.hourly is not None:
            conn.execute(query("hours_hourly_by"), {"by": ""})
        if cache is not None:
            cache.written(conn)
        hours.write(conn)
        self.runs, self.folded, self.unordered = {}, {}, {}

    @staticmethod
    def _stored_near(conn: psycopg.Connection, new: dict[Key, list[Session]]) -> dict[Key, list]:
        """The stored sessions of ``new``'s keys that may link with its runs."""
        iso: dict[datetime, str] = {}  # a batch's runs start and reach at a few instants
        keys = []
        for key, runs in new.items():  # runs are in start order
            since = runs[0].first_seen
            until = runs[0].open_until if len(runs) == 1 else max(r.open_until for r in runs)
            if (a := iso.get(since)) is None:
                a = iso[since] = since.isoformat()
            if (b := iso.get(until)) is None:
                b = iso[until] = until.isoformat()
            keys.append((*key, a, b))
        found: dict[Key, list[Session]] = {}
        cur = conn.cursor(binary=True)  # (timestamps load several times faster than as text)
        for row in cur.execute(query("sessions_near"), {"keys": json.dumps(keys)}):
            s = Session(*row)
            found.setdefault(s.key, []).append(s)
        return found


def _columns(sessions: Sequence[Session], names: Sequence[str]) -> dict[str, list[object]]:
    """Sessions as one array per column (``unnest`` parameters)."""
    return {name: [getattr(s, name) for s in sessions] for name in names}
