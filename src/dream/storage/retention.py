"""Retention: drop per-sample ``processes`` partitions (whole months) older than a cutoff
(``DREAM_RAW_ROWS_RETENTION_DAYS``, which the writer also applies to the rows it writes).

The sessions and rollups, which hold every analytics answer, stay; so do the ``snapshots`` rows
with their raw output. Only months lying entirely before the cutoff are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql

from dream.storage.partitions import PartitionManager, next_month
from dream.storage.queries import query

_PARTITION = re.compile(r"^processes_(\d{4})_(\d{2})$")
_PARTITION_LOCK_KEY = 0x44524550  # the key PartitionManager takes for partition DDL


@dataclass(frozen=True, slots=True)
class PruneResult:
    cutoff: datetime
    dropped: list[str]
    kept: list[str]


def raw_partitions(conn: psycopg.Connection) -> dict[str, date]:
    """Existing monthly partitions of ``processes``: name → first day of the month."""
    found = {}
    for (name,) in conn.execute(query("existing_partitions")):
        match = _PARTITION.match(name)
        if match:
            found[name] = date(int(match[1]), int(match[2]), 1)
    return found


def prune_raw(
    conn: psycopg.Connection,
    retention_days: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    partitions: PartitionManager | None = None,
) -> PruneResult:
    """Drop the partitions whose whole month ends at or before ``now - retention_days``.

    ``conn`` must be in autocommit mode. Each drop runs in its own short transaction under the
    lock partition creation takes. ``partitions`` (this process's cache) is told to forget.
    """
    if retention_days < 0:
        raise ValueError("retention_days must not be negative")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    dropped, kept = [], []
    for name, month in sorted(raw_partitions(conn).items(), key=lambda kv: kv[1]):
        month_end = datetime.combine(next_month(month), time.min, UTC)
        if month_end > cutoff:
            kept.append(name)
            continue
        if not dry_run:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK_KEY,))
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        dropped.append(name)
    if partitions is not None and dropped and not dry_run:
        partitions.forget()
    return PruneResult(cutoff, dropped, kept)
