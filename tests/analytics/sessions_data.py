"""Process sessions for the analytics tests, written with plain SQL, and the oracle over them.

``insert`` writes sessions (their ``ended`` set by migration 0009's trigger) AND the usage_hours_daily rows they make
(seconds split over the UTC days each session covers, its launch on the day of first_seen) and
their sums over users and hosts (usage_hours_daily_apps), so the tables agree as the writer
keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg


@dataclass(frozen=True)
class Session:
    host: str
    user: str
    app: str  # '' for an unknown application
    first_seen: datetime
    last_seen: datetime
    cadence_s: float = 60.0
    os: str = "linux"
    faculty: str = "engineering"
    is_system: bool = False
    pid: int = 100
    samples: int = 1
    cpu_first: float | None = None
    cpu_last: float | None = None

    @property
    def ended(self) -> datetime:
        return self.last_seen + timedelta(seconds=self.cadence_s)

    def dimension(self, name: str) -> str:
        return {"user": self.user, "host": self.host, "app": self.app, "os": self.os,
                "faculty": self.faculty}[name]  # fmt: skip


def overlap(s: Session, start: datetime, end: datetime) -> float:
    """Seconds of ``s``'s use within [start, end)."""
    return max(0.0, (min(s.ended, end) - max(s.first_seen, start)).total_seconds())


def days(s: Session) -> Iterator[tuple[datetime, float]]:
    """(UTC day, seconds of use that day) over the days the session covers."""
    day = s.first_seen.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < s.ended:
        yield day, overlap(s, day, day + timedelta(days=1))
        day += timedelta(days=1)


def insert(conn: psycopg.Connection, sessions: Iterable[Session]) -> None:
    """Write ``sessions`` and the matching usage_hours_daily(_apps) rows."""
    sessions = list(sessions)
    daily: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for s in sessions:
        for day, seconds in days(s):
            sums = daily[(day, s.app, s.os, s.faculty, s.user, s.host)]
            launched = int(day <= s.first_seen < day + timedelta(days=1))
            sums[0] += seconds
            sums[1] += launched
            if not s.is_system:
                sums[2] += seconds
                sums[3] += launched
    with conn.cursor() as cur:
        # One COPY, not a statement per session: the read rollups' statement triggers
        # (migration 0011) then run once, as for the writer's batches.
        with cur.copy(
            "COPY sessions (host, user_name, pid, name, first_seen, last_seen, cadence_s,"
            " open_until, os, faculty, app, is_system, samples, cpu_first, cpu_last) FROM STDIN"
        ) as copy:
            for s in sessions:
                copy.write_row((s.host, s.user, s.pid, s.app, s.first_seen, s.last_seen,
                                s.cadence_s, s.last_seen + timedelta(seconds=1.5 * s.cadence_s),
                                s.os, s.faculty, s.app, s.is_system, s.samples, s.cpu_first,
                                s.cpu_last))  # fmt: skip
        cur.executemany(
            "INSERT INTO usage_hours_daily (bucket, app, os, faculty, user_name, host, seconds,"
            " launches, u_seconds, u_launches) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(*key, *sums) for key, sums in daily.items()],
        )
        cur.execute(
            "INSERT INTO usage_hours_daily_apps SELECT bucket, app, os, faculty, sum(seconds),"
            " sum(launches), sum(u_seconds), sum(u_launches) FROM usage_hours_daily"
            " GROUP BY 1, 2, 3, 4"
            " ON CONFLICT (bucket, app, os, faculty) DO UPDATE SET seconds = EXCLUDED.seconds,"
            " launches = EXCLUDED.launches, u_seconds = EXCLUDED.u_seconds,"
            " u_launches = EXCLUDED.u_launches"
        )


def insert_host_days(conn: psycopg.Connection) -> None:
    """(Re)build host_days from the stored snapshots, by its definition (migration 0009)."""
    conn.execute("TRUNCATE host_days")
    conn.execute(
        "INSERT INTO host_days SELECT date_trunc('day', collected_at, 'UTC'), host, os, faculty,"
        " count(*), min(collected_at), max(collected_at), coalesce(sum(interval_s), 0),"
        " count(interval_s) FROM snapshots WHERE status <> 'pending' GROUP BY 1, 2, 3, 4"
    )


# ---------------------------------------------------------------------- the oracle


def matching(sessions: Iterable[Session], f: dict[str, Any]) -> list[Session]:
    """The sessions of known apps the filters select (time aside)."""
    return [
        s for s in sessions
        if s.app and (f.get("include_system") or not s.is_system)
        and all(f.get(k) is None or f[k] == s.dimension(k)
                for k in ("faculty", "os", "user", "host", "app"))
    ]  # fmt: skip


def use(sessions: Iterable[Session], start: datetime, end: datetime) -> dict[str, Any]:
    """Hours (rounded as the api rounds them) and launches of ``sessions`` in [start, end)."""
    seconds = launches = 0.0
    for s in sessions:
        seconds += overlap(s, start, end)
        launches += start <= s.first_seen < end
    return {"hours": round(seconds / 3600, 4), "launches": int(launches)}
