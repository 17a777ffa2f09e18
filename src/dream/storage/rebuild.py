"""A reprocess's session rebuild: the sessions of a host around the snapshots it rewrote, built
again from every observation they hold, so they say what today's parser reads in those
snapshots (taking one snapshot's observations out of a session is not possible from the session
alone).

The observations come from the per-sample rows (``processes``) where they are still kept, and,
for a snapshot whose rows are gone (``DREAM_RAW_ROWS_RETENTION_DAYS``, 0: never written), from
its raw output parsed again (the caller's ``Reparse``: parsing raw text is above storage). Only
when that is gone too (blob retention, ``DREAM_STORE_RAW=false``) is the host left as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from dream.snapshots import PROCESS_COLUMNS, PROCESS_FIELDS, ProcessRecord
from dream.storage.queries import NamedQueries
from dream.storage.sessions import HoursDelta, Session, SessionBatch, _columns
from dream.storage.sessions import query as sessions_query

_SQL = NamedQueries("dream.storage", "rebuild.sql")
query = _SQL.query

# A stored snapshot's row (``host_snapshots``) → its processes parsed again from its raw output,
# or None when that raw output is no longer kept.
Reparse = Callable[[dict[str, Any]], Sequence[ProcessRecord] | None]
_KEY_COLUMNS = ("host", "user_name", "pid", "name", "first_seen")  # the sessions' primary key
_SNAPSHOT_COLUMNS = ("collected_at", "interval_s", "user_name", "os", "faculty")


class RawOutputGone(Exception):
    """A snapshot the host's sessions hold has neither its per-sample rows nor its raw output."""


def rebuild_sessions(
    conn: psycopg.Connection,
    spans: dict[str, tuple[datetime, datetime]],
    default_cadence_s: float,
    reparse: Reparse,
) -> dict[str, str]:
    """Rebuild the sessions of each host that hold an observation in its span [since, until]
    (a reprocess rewrote the snapshots there).

    Those sessions are deleted (their contribution taken out of ``usage_hours_daily``) and
    built again from the observations of their keys within their extents plus every
    observation in the span, then merged as a batch would be (so they may link to sessions
    around them). Returns the hosts left as they were, with why. The caller holds the hosts'
    locks (``lock_hosts``).
    """
    hours = HoursDelta()
    batch = SessionBatch(default_cadence_s)
    gone: list[Session] = []
    left_alone: dict[str, str] = {}
    for host, (since, until) in sorted(spans.items()):
        old = conn.cursor(row_factory=class_row(Session)).execute(
            query("host_sessions_overlapping"), {"host": host, "since": since, "until": until}
        ).fetchall()
        extents: dict[object, list[tuple[datetime, datetime]]] = {}
        for s in old:
            extents.setdefault(s.key, []).append((s.first_seen, s.last_seen))
        window = {"host": host, "since": min([since, *(s.first_seen for s in old)]),
                  "until": max([until, *(s.last_seen for s in old)])}  # fmt: skip
        try:
            observed = _observations(conn, host, window, default_cadence_s, reparse)
        except RawOutputGone as exc:
            left_alone[host] = str(exc)
            continue
        for s in old:
            hours.add(s, -1)
        gone.extend(old)
        batch.add_sessions(
            obs for obs in observed
            if since <= obs.first_seen <= until
            or any(a <= obs.first_seen <= b for a, b in extents.get(obs.key, ()))
        )  # fmt: skip
    if gone:
        conn.execute(sessions_query("delete_sessions"), _columns(gone, _KEY_COLUMNS))
    if batch:
        batch.write(conn, hours)
    else:
        hours.write(conn)
    return left_alone


def _observations(
    conn: psycopg.Connection, host: str, window: dict[str, Any], default_cadence_s: float,
    reparse: Reparse,
) -> list[Session]:  # fmt: skip
    """Every observation of the host's stored snapshots in the window: from the rows kept, or
    (a snapshot missing any of its rows) from its raw output parsed again."""
    snapshots = {
        r["snapshot_id"]: r
        for r in conn.cursor(row_factory=dict_row).execute(query("host_snapshots"), window)
    }
    rows: dict[object, list[dict[str, Any]]] = {}
    for r in conn.cursor(row_factory=dict_row).execute(query("host_observation_rows"), window):
        rows.setdefault(r["snapshot_id"], []).append(r)
    observed: list[Session] = []
    for snapshot_id, snapshot in snapshots.items():
        kept = rows.get(snapshot_id, [])
        if len(kept) != (snapshot["process_count"] or 0):
            processes = reparse(snapshot)
            if processes is None:
                raise RawOutputGone(
                    f"snapshot {snapshot_id} has neither its per-sample rows nor its raw output"
                )
            kept = [_as_row(p) for p in processes]
        head = {name: snapshot[name] for name in _SNAPSHOT_COLUMNS}
        observed.extend(Session.from_row({**head, **r}, host, default_cadence_s) for r in kept)
    return observed


def _as_row(p: ProcessRecord) -> dict[str, Any]:
    """A parsed process as its stored row's columns (what ``Session.from_row`` reads)."""
    return {
        column: getattr(p, name)
        for column, name in zip(PROCESS_COLUMNS, PROCESS_FIELDS, strict=True)
    }
