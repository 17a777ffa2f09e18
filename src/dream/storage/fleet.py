"""Fleet health's storage (migrations 0018, 0027): a row per host, upserted for each accepted
snapshot, and the ``fleet_status`` view that says each host's cadence and status once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from dream.storage.queries import NamedQueries

_q = NamedQueries("dream.storage", "fleet.sql").query

STATUSES = ("reporting", "late", "silent")


@dataclass(frozen=True, slots=True)
class Heard:
    """One snapshot as fleet health sees it: who sent it, when, with which agent and clock."""

    host: str
    received_at: datetime
    collected_at: datetime
    agent: str | None
    clock_skew_s: float | None
    interval_s: float | None
    spool_evicted: int | None = None  # snapshots its collector's spool ever evicted unsent


_FIELDS = tuple(f.name for f in fields(Heard))


def record(conn: psycopg.Connection, heard: Iterable[Heard]) -> None:
    """Upsert the hosts of ``heard``, in (host, collected_at) order: each host's intervals
    come in the order it collected, and concurrent replicas lock rows in one order."""
    rows = sorted(heard, key=lambda h: (h.host, h.collected_at))
    with conn.cursor() as cur:
        # Shallow: ``asdict`` deep-copies every datetime (~0.1 ms a snapshot, on the api).
        cur.executemany(_q("upsert_fleet_host"),
                        [{name: getattr(h, name) for name in _FIELDS} for h in rows])


def of_hosts(conn: psycopg.Connection, hosts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each known host's fleet facts (the hosts question's ``FLEET_FIELDS``), by name."""
    cur = conn.cursor(row_factory=dict_row)
    found = cur.execute(_q("fleet_of_hosts"), {"hosts": list(hosts)}).fetchall()
    return {row.pop("host"): row for row in found}


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many hosts are reporting, late and silent (every status, 0 when none)."""
    found: dict[str, int] = dict(conn.execute(_q("fleet_status_counts")).fetchall())
    return {status: int(found.get(status, 0)) for status in STATUSES}
