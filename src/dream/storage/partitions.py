"""Monthly partitions of ``processes``, created on demand before rows for a new month arrive."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from dream.snapshots import ClockWindow
from dream.storage.queries import query

_PARTITION_LOCK_KEY = 0x44524550  # "DREP": serializes partition DDL across workers
# Beyond the api's window: time a message may wait in the topic, and the month it ends in.
WINDOW_SLACK = timedelta(days=31)


def month_of(moment: datetime) -> date:
    """The UTC month of ``moment``; OverflowError when that falls outside year 1..9999."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"processes_{month.year:04d}_{month.month:02d}"


class PartitionManager:
    """Remembers which partitions exist so the hot path asks the database only for new months.

    With a ``window`` (the api's ClockWindow), no partition is created for a month outside it
    (plus WINDOW_SLACK), so their number stays bounded whatever reaches the worker; existing
    partitions are used whatever their month.
    """

    def __init__(self, window: ClockWindow | None = None) -> None:
        self.window = window
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, conn: psycopg.Connection, moments: Iterable[datetime]) -> dict[datetime, str]:
        """Create the partitions covering ``moments`` that do not exist yet.

        Returns the moments refused, with why: no partition is made for them, so rows at those
        moments cannot be written (the writer rejects their snapshots rather than retry).
        Runs its own short transactions: partition DDL locks the parent table, so it must not
        sit inside a long data transaction.
        """
        refused: dict[datetime, str] = {}
        wanted: dict[date, list[datetime]] = {}
        for moment in set(moments):
            try:
                month = month_of(moment)
                next_month(month)  # December 9999 has no upper bound either
            except (OverflowError, ValueError):
                refused[moment] = f"{moment.isoformat()} is outside the years 1 to 9999 in UTC"
                continue
            wanted.setdefault(month, []).append(moment)
        for month in self._create(conn, set(wanted)):
            first, last = self._months_allowed()
            why = f"outside the months partitions are made for ({first:%Y-%m} to {last:%Y-%m})"
            refused.update((moment, f"{moment.isoformat()} is {why}") for moment in wanted[month])
        return refused

    def _months_allowed(self) -> tuple[date, date]:
        assert self.window is not None
        now = datetime.now(UTC)
        return (
            month_of(now - self.window.max_age - WINDOW_SLACK),
            month_of(now + self.window.max_skew + WINDOW_SLACK),
        )

    def _create(self, conn: psycopg.Connection, wanted: set[date]) -> set[date]:
        """Create the missing partitions of ``wanted``; returns the months refused."""
        with self._lock:
            missing = [m for m in wanted if partition_name(m) not in self._known]
            if not missing:
                return set()
            self._known.update(r[0] for r in conn.execute(query("existing_partitions")))
            refused: set[date] = set()
            for month in sorted(missing):
                name = partition_name(month)
                if name in self._known:
                    continue
                if self.window is not None:
                    first, last = self._months_allowed()
                    if not first <= month <= last:
                        refused.add(month)
                        continue
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK_KEY,))
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {} PARTITION OF processes"
                            " FOR VALUES FROM ({}) TO ({})"
                        ).format(
                            sql.Identifier(name),
                            sql.Literal(datetime(month.year, month.month, 1, tzinfo=UTC)),
                            sql.Literal(
                                datetime.combine(next_month(month), datetime.min.time(), UTC)
                            ),
                        )
                    )
                self._known.add(name)
            return refused

    def forget(self) -> None:
        """Drop the cache (after partitions were dropped by retention, for instance)."""
        with self._lock:
            self._known.clear()
