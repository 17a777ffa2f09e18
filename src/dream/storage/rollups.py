"""Maintains the usage rollups from process records already in memory.

``usage_hourly`` and ``usage_daily`` (per user and host), ``usage_daily_apps`` (summed over them)
and ``usage_presence`` (who ran an app on which days; see migration 0005).

Called by the writer inside the transaction that COPYs the raw rows, for the snapshots that
transaction made final. Aggregation to hourly rows happens in Python (the records are at hand,
one pass over them is cheap); the rows are COPYed into a temporary stage table, from which one
``INSERT ... ON CONFLICT DO UPDATE`` per table adds the counters (the daily one grouping the
hours). Rows go in key order, so concurrent workers lock shared rows in the same order and
cannot deadlock each other. (Binding the rows as arrays instead cost ~4x more client CPU.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache

import psycopg
from psycopg import sql

from dream.storage.copying import copy_binary
from dream.storage.queries import NamedQueries
from dream.snapshots import ProcessRecord, Snapshot
from dream.storage.sessions import as_real

ALL_APPS = ""  # the app of the snapshot-level total rows

# Counter positions in an accumulator list.
_SNAPSHOTS, _PROCESSES, _CPU_SUM, _CPU_N, _RSS_SUM, _RSS_N = range(6)
_USER = 6  # u_* counters follow, in the same order
_WIDTH = 12

Key = tuple[datetime, str, str, str, str, str]  # bucket, app, os, faculty, user_name, host

_SQL = NamedQueries("dream.storage", "rollups.sql")
query = _SQL.query


def _hour(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0)


def snapshot_counters(processes: Iterable[ProcessRecord]) -> dict[str, list]:
    """Per app (and ``ALL_APPS``), the counters one snapshot contributes."""
    # The hot loop keeps system counters in slots 1-5 and user ones in 7-11; "all" = both.
    per_app: dict[str, list] = {}
    for p in processes:
        app = p.app
        if not app:
            continue
        acc = per_app.get(app)
        if acc is None:
            acc = per_app[app] = [1, 0, 0.0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0]
        cpu = p.cpu_percent
        rss = p.rss_kb
        if p.is_system:
            acc[1] += 1
            if cpu is not None:
                acc[2] += cpu
                acc[3] += 1
            if rss is not None:
                acc[4] += rss
                acc[5] += 1
        else:
            acc[7] += 1
            if cpu is not None:
                acc[8] += cpu
                acc[9] += 1
            if rss is not None:
                acc[10] += rss
                acc[11] += 1
    if not per_app:
        return {}
    total = [1, 0, 0.0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0]
    for acc in per_app.values():
        for i in range(_PROCESSES, _USER):
            acc[i] += acc[_USER + i]
            total[i] += acc[i]
            total[_USER + i] += acc[_USER + i]
        acc[_USER + _SNAPSHOTS] = 1 if acc[_USER + _PROCESSES] else 0
    total[_USER + _SNAPSHOTS] = 1 if total[_USER + _PROCESSES] else 0
    per_app[ALL_APPS] = total
    return per_app


@cache
def _upsert(name: str) -> sql.Composed:
    """A named upsert with the shared counter SET list filled in."""
    return _SQL.fragment(name).format(add_counters=_SQL.fragment("add_counters"))


class RollupBatch:
    """The counters of a batch of snapshots, merged by hourly key."""

    def __init__(self) -> None:
        self.hourly: dict[Key, list] = {}

    def add(self, snapshot: Snapshot, processes: Iterable[ProcessRecord], sign: int = 1) -> None:
        """Merge one snapshot's counters; ``sign=-1`` takes a contribution out (a reprocess)."""
        counters = snapshot_counters(processes)
        if not counters:
            return
        hour = _hour(snapshot.collected_at)
        dims = (snapshot.os, snapshot.faculty, snapshot.user, snapshot.host)
        table = self.hourly
        for app, acc in counters.items():
            key = (hour, app, *dims)
            have = table.get(key)
            if have is None:
                table[key] = acc if sign == 1 else [sign * v for v in acc]
            else:
                for i in range(_WIDTH):
                    have[i] += sign * acc[i]

    def __bool__(self) -> bool:
        return bool(self.hourly)

    def write(self, conn: psycopg.Connection) -> None:
        """Add the counters to the rollup tables (inside the caller's transaction)."""
        conn.execute(query("create_usage_stage"))
        copy_binary(conn, query("copy_usage_stage"),
                    ((*key, *counters) for key, counters in self.hourly.items()))
        conn.execute(_upsert("upsert_usage_hourly"))
        conn.execute(_upsert("upsert_usage_daily"))
        conn.execute(query("upsert_usage_presence"))
        # Last: its rows (a day's app x os x faculty) are the ones concurrent workers share, so
        # their locks are held for the shortest time before the commit.
        conn.execute(_upsert("upsert_usage_daily_apps"))

    def write_correction(self, conn: psycopg.Connection) -> None:
        """``write`` for a batch that also subtracted (a reprocess), in the caller's transaction.

        Then drops the rows nothing contributes to any more and recomputes the presence of the
        keys touched from ``usage_daily`` (``write`` can only set presence bits, not clear them).
        """
        self.write(conn)
        for name in ("drop_empty_hourly", "drop_empty_daily", "drop_empty_daily_apps"):
            conn.execute(query(name))
        conn.execute(query("create_presence_touched"))  # after usage_daily is final
        conn.execute(query("fill_presence_touched"))
        conn.execute(query("rebuild_usage_presence"))
        conn.execute(query("drop_empty_presence"))


def write_host_days(conn: psycopg.Connection, snapshots: Iterable[Snapshot]) -> None:
    """Add ``snapshots`` (made final by this transaction, stored or failed) to ``host_days``:
    per host and UTC day, how many, first and last collected, the intervals declared."""
    days: dict[tuple[datetime, str, str, str], list] = {}
    for s in snapshots:
        t = s.collected_at
        key = (utc_day(s), s.host, s.os, s.faculty)
        acc = days.get(key)
        if acc is None:
            acc = days[key] = [0, t, t, 0.0, 0]
        acc[0] += 1
        acc[1], acc[2] = min(acc[1], t), max(acc[2], t)
        if s.interval_s is not None:
            acc[3] += as_real(s.interval_s)  # as the snapshot row stores it
            acc[4] += 1
    if days:
        rows = [(day.isoformat(), host, os, faculty, n, first.isoformat(), last.isoformat(),
                 declared, declared_n)
                for (day, host, os, faculty), (n, first, last, declared, declared_n)
                in sorted(days.items())]  # fmt: skip
        conn.execute(query("upsert_host_days"), {"days": json.dumps(rows)})


def utc_day(snapshot: Snapshot) -> datetime:
    """The UTC day the per-day tables (``host_days``, ``catalog_days``) count ``snapshot`` under."""
    return _hour(snapshot.collected_at).replace(hour=0)


def write_catalog_days(conn: psycopg.Connection,
                       counts: Mapping[tuple[datetime, str | None], int]) -> None:  # fmt: skip
    """Add ``counts`` (per UTC day and catalog version, stored listings named, a reprocess's
    moves negative for the version they left; version None, not recorded, is left out) to
    ``catalog_days`` (migration 0026), dropping a version a day no longer holds. So an answer
    can say which catalogs named its range's rows."""
    rows = [(day.isoformat(), version, n) for (day, version), n in counts.items()
            if n and version is not None]  # fmt: skip
    rows.sort()
    if rows:
        conn.execute(query("upsert_catalog_days"), {"days": json.dumps(rows)})
        if any(n < 0 for *_, n in rows):
            conn.execute(query("drop_empty_catalog_days"))
