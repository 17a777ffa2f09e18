"""Erasure of one user's rows: every snapshot, process row, session and rollup contribution of
a pseudonym, in one transaction, and the rollups afterwards what the other users alone give.

The per-user rollups (``usage_hourly``, ``usage_daily``, ``usage_hours_daily``) lose the
user's rows; the tables summed over users (``*_apps``, the presence bitmaps, ``host_days``)
have the keys the user touched summed again from what is left, not the user's share
subtracted: a float subtracted is not the float never added, and a presence bit cannot be
cleared by subtraction. The raw-output objects the snapshots pointed at are returned to the
caller (``blobs.erasure``), which cleans the blob store after the commit, ticking each object
off the erasure's row so a run cut short resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from dream.storage.queries import NamedQueries
from dream.storage.rollups import query as rollups_query
from dream.storage.sessions import query as sessions_query

_SQL = NamedQueries("dream.storage", "erasure.sql")
query = _SQL.query


@dataclass(slots=True)
class Erasure:
    """One erasure's row: what it removed, and the raw-output objects still to clean."""

    id: int
    user_name: str
    requested_at: datetime
    state: str
    removed: dict[str, int] = field(default_factory=dict)
    blobs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, row: dict[str, Any]) -> Erasure:
        removed = row["removed"]
        return cls(id=row["id"], user_name=row["user_name"], requested_at=row["requested_at"],
                   state=row["state"], removed=json.loads(removed) if isinstance(removed, str)
                   else dict(removed), blobs=list(row["blobs"]))  # fmt: skip


def open_erasure(conn: psycopg.Connection, user: str) -> Erasure | None:
    """The user's erasure whose blob store cleaning is unfinished, if any (to resume)."""
    row = (
        conn.cursor(row_factory=dict_row).execute(query("open_erasure"), {"user": user}).fetchone()
    )
    return Erasure.of(row) if row else None


def erase_rows(conn: psycopg.Connection, user: str) -> Erasure:
    """Remove every row of ``user`` (a pseudonym as stored) in one transaction; the erasure's
    row says what went and which raw-output objects are left to clean. ``conn`` must not be
    in a transaction (this one commits)."""
    with conn.transaction():
        erasure_id = conn.execute(query("start_erasure"), {"user": user}).fetchone()[0]  # type: ignore[index]
        params = {"user": user, "erasure_id": erasure_id}
        conn.execute(query("select_user_snapshots"), params)
        hosts = [r[0] for r in conn.execute(query("user_hosts"))]
        # The writer's lock on these hosts' sessions: none is merged while they are erased.
        conn.execute(sessions_query("lock_hosts"), {"hosts": hosts})
        removed = {"processes": conn.execute(query("delete_processes")).rowcount,
                   "sessions": conn.execute(query("delete_sessions"), params).rowcount}  # fmt: skip
        for table in ("hours_daily", "hourly", "daily"):  # the user's rows, their keys' sums
            conn.execute(query(f"delete_usage_{table}"), params)
            conn.execute(query(f"rebuild_{table}_apps"))
        rollups = conn.cursor(row_factory=dict_row).execute(query("rollup_rows_removed")).fetchone()
        removed.update(rollups or {})
        conn.execute(rollups_query("create_presence_touched"))
        conn.execute(query("fill_presence_touched"), params)
        conn.execute(rollups_query("rebuild_usage_presence"))
        conn.execute(rollups_query("drop_empty_presence"))
        updated, deleted = conn.execute(query("forget_executables"), params).fetchone()  # type: ignore[misc]
        removed["executables_forgotten"] = updated
        removed["executables_deleted"] = deleted
        blobs = [r[0] for r in conn.execute(query("user_blobs"))]
        conn.execute(query("clear_host_days"))
        removed["snapshots"] = conn.execute(query("delete_snapshots"), params).rowcount
        conn.execute(query("rebuild_host_days"))
        conn.execute(query("uncount_catalog_days"))
        conn.execute(rollups_query("drop_empty_catalog_days"))
        conn.execute(query("forget_fleet_snapshots"))
        removed["raw_objects"] = len(blobs)
        conn.execute(query("record_erasure"),
                     {"id": erasure_id, "removed": json.dumps(removed), "blobs": blobs})  # fmt: skip
    return get_erasure(conn, erasure_id)


def get_erasure(conn: psycopg.Connection, erasure_id: int) -> Erasure:
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(query("get_erasure"), {"id": erasure_id})
        .fetchone()
    )
    if row is None:
        raise LookupError(f"no erasure {erasure_id}")
    return Erasure.of(row)


def erased_snapshot(conn: psycopg.Connection, snapshot_id: object) -> int | None:
    """The erasure that removed this snapshot, or None (never erased)."""
    row = conn.execute(query("erased_snapshot"), {"snapshot_id": snapshot_id}).fetchone()
    return row[0] if row else None


__all__ = ["Erasure", "erase_rows", "erased_snapshot", "get_erasure", "open_erasure", "query"]
