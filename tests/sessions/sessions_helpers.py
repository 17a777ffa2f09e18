"""Snapshots of known processes, written with the real writer, and the tables read back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from dream.parsing.model import ProcessRecord
from dream.snapshots import ProcessedSnapshot, Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.writer import SnapshotWriter

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def snapshot(
    host: str,
    at: datetime,
    procs: Sequence[tuple[int | None, str, str]],
    *,
    interval_s: float | None = None,
    user: str = "jdoe",
    snapshot_id: uuid.UUID | None = None,
) -> ProcessedSnapshot:
    """A stored snapshot of ``host`` at ``at`` listing (pid, name, app) processes."""
    snap = Snapshot(
        snapshot_id=snapshot_id or uuid.uuid4(), host=host, os="windows", user=user,
        faculty="law", collected_at=at, received_at=datetime.now(UTC), command="tasklist /v",
        output="(raw)", interval_s=interval_s,
    )  # fmt: skip
    records = [
        ProcessRecord(pid=pid, name=name, app=app, user=user, rss_kb=1000 + i,
                      cpu_seconds=float(i), is_system=app == "svchost")
        for i, (pid, name, app) in enumerate(procs)
    ]  # fmt: skip
    return ProcessedSnapshot(snap, "stored", format="tasklist", processes=records)


def write(url: str, *batches: Sequence[ProcessedSnapshot], **writer: Any) -> None:
    """Each batch in its own write (transaction), as a worker would."""
    w = SnapshotWriter(PartitionManager(), **writer)
    with psycopg.connect(url, autocommit=True) as conn:
        for batch in batches:
            summary = w.write(conn, list(batch))
            assert not summary.rejected


SESSION_ORDER = "ORDER BY host, user_name, pid, name, first_seen"


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def sessions(url: str) -> list[tuple]:
    return _rows(url, "SELECT host, user_name, pid, name, first_seen, last_seen, cadence_s,"
                 " open_until, app, is_system, process_user, samples, cpu_first, cpu_last,"
                 f" rss_peak_kb FROM sessions {SESSION_ORDER}")  # fmt: skip


def hours(url: str) -> list[tuple]:
    return _rows(url, "SELECT bucket, app, os, faculty, user_name, host, seconds, launches,"
                 " u_seconds, u_launches FROM usage_hours_daily ORDER BY 1, 2, 3, 4, 5, 6")  # fmt: skip


def hours_from_sessions(url: str) -> list[tuple]:
    """usage_hours_daily as recomputed in SQL from the sessions (seconds to the microsecond)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """
            WITH s AS (
                SELECT *, last_seen + cadence_s * interval '1 second' AS ends FROM sessions
                WHERE app <> ''
            )
            SELECT d.day, s.app, s.os, s.faculty, s.user_name, s.host,
                   sum(extract(epoch FROM least(s.ends, d.day + interval '1 day')
                                        - greatest(s.first_seen, d.day)))::float8,
                   count(*) FILTER (WHERE d.day = date_trunc('day', s.first_seen, 'UTC'))
            FROM s
            CROSS JOIN LATERAL generate_series(date_trunc('day', s.first_seen, 'UTC'),
                                               s.ends - interval '1 microsecond',
                                               interval '1 day') AS d (day)
            GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            """
        ).fetchall()


def hours_apps(url: str) -> list[tuple]:
    return _rows(url, "SELECT bucket, app, os, faculty, seconds, launches, u_seconds, u_launches"
                 " FROM usage_hours_daily_apps ORDER BY 1, 2, 3, 4")  # fmt: skip


def hours_apps_from_sessions(url: str) -> list[tuple]:
    """usage_hours_daily_apps as recomputed from the sessions: hours_from_sessions summed over
    users and hosts."""
    out: dict[tuple, list] = {}
    for day, app, os, faculty, _user, _host, seconds, launches in hours_from_sessions(url):
        acc = out.setdefault((day, app, os, faculty), [0.0, 0])
        acc[0] += seconds
        acc[1] += launches
    return [(*k, *v) for k, v in sorted(out.items())]


def host_days(url: str) -> list[tuple]:
    return _rows(url, "SELECT bucket, host, os, faculty, snapshots, first_at, last_at,"
                 " declared_sum, declared_n FROM host_days ORDER BY 1, 2, 3, 4")  # fmt: skip


def host_days_from_snapshots(url: str) -> list[tuple]:
    """host_days as recomputed from the final snapshots."""
    return _rows(url, "SELECT date_trunc('day', collected_at, 'UTC'), host, os, faculty,"
                 " count(*), min(collected_at), max(collected_at),"
                 " coalesce(sum(interval_s::float8), 0), count(interval_s) FROM snapshots"
                 " WHERE status <> 'pending' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")  # fmt: skip


def wrong_ended(url: str) -> int:
    """Sessions whose ``ended`` is not last_seen + cadence_s."""
    return int(_rows(url, "SELECT count(*) FROM sessions"
                     " WHERE ended <> last_seen + cadence_s * interval '1 second'")[0][0])  # fmt: skip


def clear(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE snapshots, processes, sessions, usage_hours_daily, usage_hourly,"
                     " usage_daily, usage_daily_apps, usage_presence, usage_hours_daily_apps,"
                     " host_days")  # fmt: skip
