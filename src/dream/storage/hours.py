"""Changes to ``usage_hours_daily`` (and its per-app sum), and for the worker's writer to
``usage_hours_hourly``: the seconds of use and launches the sessions a batch replaced take out,
and the merged ones add (see storage/sessions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import psycopg

from dream.storage.copying import copy_binary
from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.storage.sessions import Session

query = NamedQueries("dream.storage", "sessions.sql").query

HoursKey = tuple[datetime, str, str, str, str, str]  # day, app, os, faculty, user_name, host
HourKey = tuple[datetime, str, str, str]  # UTC hour, app, os, faculty
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_ZERO = timedelta(0)
_MICROSECOND = timedelta(microseconds=1)
_QUANTUM = 1024  # seconds of use are kept in multiples of 1/1024 s: sums stay exact


def quantized(span: timedelta) -> float:
    """``span`` in seconds, rounded to a multiple of 1/1024 s (sums of these are exact)."""
    return round(span / _MICROSECOND * _QUANTUM / 1e6) / _QUANTUM


@lru_cache(maxsize=4096)  # a host's sessions mostly began in a few snapshots: few instants
def day_of(moment: datetime) -> datetime:
    """The UTC day ``moment`` falls on, as a time."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, UTC)


@lru_cache(maxsize=4096)
def hour_of(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in, as a time."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _in_hour(start: datetime, until: datetime, hour: datetime) -> float:
    """Seconds of [start, until) within ``hour``, quantized (migration 0011's
    ``usage_hour_seconds``)."""
    return quantized(max(_ZERO, min(until, hour + _HOUR) - max(start, hour)))


HourChanges = tuple[tuple[datetime, float, int], ...]  # (UTC hour, seconds, launches)


# The caches below are what makes the write per host rather than per row: a host's sessions
# mostly began at one of its snapshots and were last seen at another, so the hours of all
# its processes are computed once per (start, old end, new end), not once per process.


@lru_cache(maxsize=8192)
def _hour_changes(start: datetime, old_end: datetime, new_end: datetime,
                  launch: int) -> HourChanges:  # fmt: skip
    """The change from [start, old_end) to [start, new_end) in each hour between the two
    ends (the launch, +1 / -1 / 0, in the hour of ``start``), as migration 0011 adds it."""
    low, high = (old_end, new_end) if old_end <= new_end else (new_end, old_end)
    changes = []
    hour = hour_of(low)
    while hour < high:
        seconds = _in_hour(start, new_end, hour) - _in_hour(start, old_end, hour)
        launches = launch if hour <= start < hour + _HOUR else 0
        if seconds or launches:
            changes.append((hour, seconds, launches))
        hour += _HOUR
    return tuple(changes)


@lru_cache(maxsize=8192)
def _extension(start: datetime, old_end: datetime,
               new_end: datetime) -> tuple[datetime, float, HourChanges] | None:  # fmt: skip
    """A session of ``start`` extended from ``old_end`` to ``new_end``: the day of its start,
    the seconds that day gains, and the change in each hour; None when an end lies past that
    day (``HoursDelta.extend`` then takes the old session out and adds the new one)."""
    day = day_of(start)
    if old_end > day + _DAY or new_end > day + _DAY:
        return None
    added = quantized(new_end - start) - quantized(old_end - start)
    hour = hour_of(new_end)
    if not hour <= old_end <= new_end:  # across hours, or an end moved back
        return day, added, _hour_changes(start, old_end, new_end, 0)
    # Both ends in one hour: its seconds changed by the day's when the session began in it,
    # else by what [hour, end) gained.
    seconds = added if start >= hour else quantized(new_end - hour) - quantized(old_end - hour)
    return day, added, ((hour, seconds, 0),) if seconds else ()


class HoursDelta:
    """Changes to ``usage_hours_daily``: contributions added and taken out, summed per key.

    ``hourly``: also to ``usage_hours_hourly``, whose statement triggers on ``sessions`` then
    leave the writer's statements alone (``SessionBatch.write``, migration 0023): only for a
    delta that sees every change those statements make, as the writer's own does.
    """

    def __init__(self, *, hourly: bool = False) -> None:
        self._rows: dict[HoursKey, list[float]] = {}
        self._hourly: dict[HourKey, list[float]] | None = {} if hourly else None
        # ``_extension`` per the instant objects themselves (kept here, so no id is reused):
        # a host's sessions share its snapshots' instants, and hashing an aware datetime (as
        # the lru_cache does) costs ~1 µs, three per session.
        self._extensions: dict[tuple[int, int, float, int, float], tuple[Any, ...]] = {}
        # Sessions extended alike (one extension, as ``_extension`` gave it, and one key) are
        # counted, and added once per key when the sums are read (``_settle``): a host's
        # running sessions mostly share their extension, and one count costs less than adding
        # each one's seconds (the sums are the same: seconds are multiples of 1/1024 s).
        self._extended: dict[tuple[int, str, str, str, str, str, bool], int] = {}
        self._by_id: dict[int, tuple[datetime, float, HourChanges]] = {}

    @property
    def rows(self) -> dict[HoursKey, list[float]]:
        """Per (day, app, os, faculty, user_name, host): seconds, launches, u_seconds,
        u_launches to add."""
        self._settle()
        return self._rows

    @property
    def hourly(self) -> dict[HourKey, list[float]] | None:
        """Per (hour, app, os, faculty), the same for ``usage_hours_hourly`` (None: not kept)."""
        self._settle()
        return self._hourly

    def add(self, session: Session, sign: int) -> None:
        if not session.app:
            return  # as in the usage rollups: a process no app is known for counts for none
        for key, (seconds, launches) in session.hours().items():
            self._add(key, sign * seconds, sign * launches, session.is_system)
        if self._hourly is not None:
            start, end = session.first_seen, session.ended
            self._add_hours(session, start, *((start, end) if sign > 0 else (end, start)), sign)

    def _add_hours(self, s: Session, start: datetime, old_end: datetime, new_end: datetime,
                   launch: int) -> None:  # fmt: skip
        self._add_changes(s, _hour_changes(start, old_end, new_end, launch))

    def _add_changes(self, s: Session, changes: HourChanges) -> None:
        self._add_hour_changes(s.app, s.os, s.faculty, s.is_system, changes, 1)

    def _add_hour_changes(self, app: str, os: str, faculty: str, is_system: bool,
                          changes: HourChanges, times: int) -> None:  # fmt: skip
        hourly = cast(dict[HourKey, list[float]], self._hourly)
        for hour, seconds, launches in changes:
            key = (hour, app, os, faculty)
            acc = hourly.get(key)
            if acc is None:
                acc = hourly[key] = [0.0, 0, 0.0, 0]
            acc[0] += seconds * times
            acc[1] += launches * times
            if not is_system:
                acc[2] += seconds * times
                acc[3] += launches * times

    def extend(self, old: Session, new: Session) -> None:
        """``add(old, -1)`` then ``add(new, 1)`` for ``new``, ``old`` extended at its end (same
        start, same first observation): when both end on their first day, one key changes by
        the seconds added (the usual case, without building each one's days)."""
        start = new.first_seen
        same = (old.first_seen, old.app, old.is_system, old.os, old.faculty) == (
            start, new.app, new.is_system, new.os, new.faculty)  # fmt: skip
        extension = self._extension(start, old, new) if same else None
        if extension is None:
            self.add(old, -1)
            self.add(new, 1)
        elif new.app:
            key = (id(extension), new.app, new.os, new.faculty, new.user_name, new.host,
                   new.is_system)  # fmt: skip
            self._extended[key] = self._extended.get(key, 0) + 1

    def _settle(self) -> None:
        """Add the counted extensions: each key's, times its sessions."""
        if not self._extended:
            return
        extended, self._extended = self._extended, {}
        for (of, app, os, faculty, user_name, host, is_system), times in extended.items():
            day, added, changes = self._by_id[of]
            self._add((day, app, os, faculty, user_name, host), added * times, 0, is_system)
            if self._hourly is not None and changes:
                self._add_hour_changes(app, os, faculty, is_system, changes, times)

    def _extension(self, start: datetime, old: Session,
                   new: Session) -> tuple[datetime, float, HourChanges] | None:  # fmt: skip
        was, now = old.last_seen, new.last_seen
        key = (id(start), id(was), old.cadence_s, id(now), new.cadence_s)
        found = self._extensions.get(key)
        if found is not None and found[0] is start and found[1] is was and found[2] is now:
            return cast(tuple[datetime, float, HourChanges] | None, found[3])
        extension = _extension(start, old.ended, new.ended)
        self._extensions[key] = (start, was, now, extension)  # (keeps its id in _by_id valid)
        if extension is not None:
            self._by_id[id(extension)] = extension
        return extension

    def _add(self, key: HoursKey, seconds: float, launches: int, is_system: bool) -> None:
        acc = self._rows.get(key)
        if acc is None:
            acc = self._rows[key] = [0.0, 0, 0.0, 0]
        acc[0] += seconds
        acc[1] += launches
        if not is_system:
            acc[2] += seconds
            acc[3] += launches

    def write(self, conn: psycopg.Connection) -> None:
        if self.hourly:
            changed_hours = [(k, v) for k, v in self.hourly.items() if any(v)]
            if changed_hours:
                conn.execute(query("create_hours_hourly_stage"))
                copy_binary(conn, query("copy_hours_hourly_stage"),
                            ((*hour_key, *acc) for hour_key, acc in changed_hours))
                conn.execute(query("fold_hours_hourly"))
        changed = [(k, v) for k, v in self.rows.items() if any(v)]
        if not changed:
            return
        conn.execute(query("create_hours_stage"))
        copy_binary(conn, query("copy_hours_stage"), ((*key, *acc) for key, acc in changed))
        for name in ("upsert_hours", "upsert_hours_apps", "drop_empty_hours",
                     "drop_empty_hours_apps"):
            conn.execute(query(name))
