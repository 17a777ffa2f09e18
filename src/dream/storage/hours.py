"""Changes to ``usage_hours_daily`` (and its per-app sum): the seconds of use and launches the
sessions a batch replaced take out, and the merged ones add (see storage/sessions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import psycopg

from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.storage.sessions import Session

query = NamedQueries("dream.storage", "sessions.sql").query

HoursKey = tuple[datetime, str, str, str, str, str]  # day, app, os, faculty, user_name, host
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_QUANTUM = 1024  # seconds of use are kept in multiples of 1/1024 s: sums stay exact


def quantized(span: timedelta) -> float:
    """``span`` in seconds, rounded to a multiple of 1/1024 s (sums of these are exact)."""
    return round(span / _MICROSECOND * _QUANTUM / 1e6) / _QUANTUM


@lru_cache(maxsize=4096)  # a host's sessions mostly began in a few snapshots: few instants
def day_of(moment: datetime) -> datetime:
    """The UTC day ``moment`` falls on, as a time."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, UTC)


class HoursDelta:
    """Changes to ``usage_hours_daily``: contributions added and taken out, summed per key."""

    def __init__(self) -> None:
        self.rows: dict[HoursKey, list[float]] = {}

    def add(self, session: Session, sign: int) -> None:
        if not session.app:
            return  # as in the usage rollups: a process no app is known for counts for none
        for key, (seconds, launches) in session.hours().items():
            self._add(key, sign * seconds, sign * launches, session.is_system)

    def extend(self, old: Session, new: Session) -> None:
        """``add(old, -1)`` then ``add(new, 1)`` for ``new``, ``old`` extended at its end (same
        start, same first observation): when both end on their first day, one key changes by
        the seconds added (the usual case, without building each one's days)."""
        start = new.first_seen
        day = day_of(start)
        old_end = old.last_seen + timedelta(seconds=old.cadence_s)
        new_end = new.last_seen + timedelta(seconds=new.cadence_s)
        same = (old.first_seen, old.app, old.is_system, old.os, old.faculty) == (
            start, new.app, new.is_system, new.os, new.faculty)  # fmt: skip
        if not same or old_end > day + _DAY or new_end > day + _DAY:
            self.add(old, -1)
            self.add(new, 1)
        elif new.app:
            key = (day, new.app, new.os, new.faculty, new.user_name, new.host)
            added = quantized(new_end - start) - quantized(old_end - start)
            self._add(key, added, 0, new.is_system)

    def _add(self, key: HoursKey, seconds: float, launches: int, is_system: bool) -> None:
        acc = self.rows.get(key)
        if acc is None:
            acc = self.rows[key] = [0.0, 0, 0.0, 0]
        acc[0] += seconds
        acc[1] += launches
        if not is_system:
            acc[2] += seconds
            acc[3] += launches

    def write(self, conn: psycopg.Connection) -> None:
        changed = [(k, v) for k, v in self.rows.items() if any(v)]
        if not changed:
            return
        conn.execute(query("create_hours_stage"))
        with conn.cursor().copy(query("copy_hours_stage")) as copy:
            for key, acc in changed:
                copy.write_row((*key, *acc))
        for name in ("upsert_hours", "upsert_hours_apps", "drop_empty_hours",
                     "drop_empty_hours_apps"):
            conn.execute(query(name))
