"""A generated dataset with known answers, and a brute-force oracle over it.

Several faculties, OSes, users and hosts over five days across two weeks and two months, some
snapshots at odd seconds (for time bounds) and Windows snapshots where system processes
(svchost) dominate. Averages use values exact in float4, so every source agrees to the digit.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from statsmodels.stats.proportion import proportion_confint

import sessions_data
from dream.analytics.products import describe
from dream.catalog import builtin
from dream.parsing.model import ProcessRecord
from dream.snapshots import Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter

HOSTS = [
    ("law-pc-1", "windows", "law"),
    ("law-pc-2", "windows", "law"),
    ("law-mac-1", "macos", "law"),
    ("med-pc-1", "windows", "medicine"),
    ("med-lx-1", "linux", "medicine"),
    ("eng-lx-1", "linux", "engineering"),
    ("eng-lx-2", "linux", "engineering"),
    ("eng-pc-1", "windows", "engineering"),
]
USERS = {
    "law": ["alice", "bob", "carol"],
    "medicine": ["dave", "erin"],
    "engineering": ["frank", "grace", "heidi"],
}
# The executables' facts macOS snapshots carry (the executables question): one of each kind.
EXECUTABLES = {"macos": [
    {"path": "/Applications/Stata/StataMP.app/Contents/MacOS/StataMP", "size_bytes": 52_428_800,
     "sha256": "5" * 64, "signer": "Developer ID Application: StataCorp LLC (ABCDE12345)"},
    {"path": "/sbin/launchd", "size_bytes": 1_200_000, "sha256": "1" * 64,
     "signer": "Software Signing"},
]}  # fmt: skip
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-10", "2026-04-01"]
TIMES = ["09:15:00", "09:45:30", "14:00:00", "23:59:59"]

USER_APPS = {
    "windows": ["winword", "chrome", "teams", "excel", "matlab"],
    "linux": ["firefox", "python3", "matlab", "r", "code"],
    "macos": ["safari", "word", "zoom"],
}
SYSTEM_APPS = {
    "windows": [("svchost", 12), ("csrss", 2), ("lsass", 1)],
    "linux": [("systemd", 1), ("kworker", 6), ("sshd", 1)],
    "macos": [("launchd", 1), ("kernel_task", 1), ("mds", 3)],
}
# Faculty favourites, used by everyone: law writes, engineering computes. Besides, each user has
# habits, followed in some snapshots only.
FAVOURITES = {"law": {"winword", "word"}, "engineering": {"matlab", "python3"}, "medicine": {"r"}}
HABITS = {
    "alice": {"chrome", "teams", "safari"}, "bob": {"excel", "zoom"},
    "carol": {"chrome", "excel", "matlab"}, "dave": {"chrome", "firefox"},
    "erin": {"teams", "python3", "zoom"}, "frank": {"chrome", "firefox", "code"},
    "grace": {"r", "code", "excel", "teams"}, "heidi": {"firefox", "winword", "chrome"},
}  # fmt: skip


@dataclass(frozen=True)
class Row:
    snapshot: Snapshot
    process: ProcessRecord


def _snapshot(host: str, os: str, faculty: str, user: str, at: datetime) -> Snapshot:
    return Snapshot(
        snapshot_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{at.isoformat()}"),
        host=host, os=os, user=user, faculty=faculty, collected_at=at,
        received_at=datetime.now(UTC), command="generated", output="(generated)",
        executables=EXECUTABLES.get(os),
    )  # fmt: skip


def _processes(rng: random.Random, os: str, faculty: str, user: str) -> list[ProcessRecord]:
    procs: list[ProcessRecord] = []
    pid = 4

    def add(app: str | None, system: bool) -> None:
        nonlocal pid
        pid += 4
        cpu = None if rng.random() < 0.1 else rng.randrange(0, 400) / 4
        rss = None if rng.random() < 0.1 else rng.randrange(1_000, 900_000)
        procs.append(ProcessRecord(pid=pid, user="SYSTEM" if system else user, name=app,
                                   app=app, is_system=system, cpu_percent=cpu, rss_kb=rss))  # fmt: skip

    for app, count in SYSTEM_APPS[os]:
        for _ in range(count):
            add(app, True)
    for app in USER_APPS[os]:
        wanted = app in FAVOURITES[faculty] or (app in HABITS[user] and rng.random() < 0.6)
        for _ in range(rng.randrange(1, 4) if wanted else 0):
            add(app, False)
    if rng.random() < 0.3:  # the same executable as a system service: counted once per snapshot
        add("chrome" if os == "windows" else "python3", True)
    add(None, False)  # an unknown app: left out of analytics
    return procs


def generate() -> tuple[list[ProcessedSnapshot], list[Row]]:
    """The processed snapshots to write, and the rows they make (stored ones only)."""
    items: list[ProcessedSnapshot] = []
    rows: list[Row] = []
    for d, day in enumerate(DAYS):
        for t, clock in enumerate(TIMES):
            at = datetime.fromisoformat(f"{day}T{clock}+00:00")
            for h, (host, os, faculty) in enumerate(HOSTS):
                if (d * 7 + t * 3 + h) % 5 == 0:
                    continue  # machines off now and then
                users = USERS[faculty]
                user = users[(d + t + h) % len(users)]
                rng = random.Random(f"{host}{at}")
                snap = _snapshot(host, os, faculty, user, at)
                procs = _processes(rng, os, faculty, user)
                items.append(ProcessedSnapshot(snap, "stored", format="generated", processes=procs))
                rows.extend(Row(snap, p) for p in procs)
    # A failed listing contributes nothing.
    failed = _snapshot("law-pc-1", "windows", "law", "alice",
                       datetime(2026, 3, 2, 11, 0, 0, tzinfo=UTC))  # fmt: skip
    items.append(ProcessedSnapshot(failed, "failed", error="no known header"))
    return items, rows


def sessions_of(rows: list[Row]) -> list[sessions_data.Session]:
    """A session per process row, from its snapshot on: 0 to 3 hours long (some across
    midnight), at a 1-minute cadence on half the hosts and 10 minutes on the others."""
    cadence = {host: 60.0 if i % 2 else 600.0 for i, (host, _, _) in enumerate(HOSTS)}
    out = []
    for r in rows:
        s, p = r.snapshot, r.process
        rng = random.Random(f"{s.snapshot_id}/{p.pid}")
        out.append(sessions_data.Session(
            host=s.host, user=s.user, app=p.app or "", os=s.os, faculty=s.faculty,
            first_seen=s.collected_at,
            last_seen=s.collected_at + timedelta(minutes=rng.randrange(0, 181)),
            cadence_s=cadence[s.host], is_system=p.is_system, pid=p.pid,
        ))  # fmt: skip
    return out


def load(database_url: str) -> list[Row]:
    """Write the dataset through the real writer, with duplicates and a replayed batch, and
    its sessions (``sessions_of``) with plain SQL."""
    items, rows = generate()
    writer = SnapshotWriter(PartitionManager())
    with psycopg.connect(database_url, autocommit=True) as conn:
        for i in range(0, len(items), 17):
            batch = items[i : i + 17]
            writer.write(conn, batch + batch[:2])  # a message twice in one batch
        writer.write(conn, items[:40])  # a replay: changes nothing
        # The writer built sessions of its own (tests/sessions checks those); the answers here
        # are checked against these longer, hand-built ones instead.
        conn.execute("TRUNCATE sessions, usage_hours_daily, usage_hours_daily_apps")
        sessions_data.insert(conn, sessions_of(rows))
        sessions_data.insert_host_days(conn)
    return rows


# ---------------------------------------------------------------------- the oracle

METRIC_KEY = {"cpu": "avg_cpu_percent", "memory": "avg_rss_kb"}


def _utc(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(rows: list[Row], f: dict[str, Any]) -> list[Row]:
    start, end = _utc(f.get("from")), _utc(f.get("to"))
    out = []
    for r in rows:
        s, p = r.snapshot, r.process
        if not p.app or (p.is_system and not f.get("include_system")):
            continue
        if any(f.get(k) is not None and f[k] != v for k, v in (
            ("faculty", s.faculty), ("os", s.os), ("user", s.user), ("host", s.host),
            ("app", p.app))):  # fmt: skip
            continue
        if (start and s.collected_at < start) or (end and s.collected_at >= end):
            continue
        out.append(r)
    return out


def metrics(rows: list[Row]) -> dict[str, Any]:
    cpus = [r.process.cpu_percent for r in rows if r.process.cpu_percent is not None]
    rss = [r.process.rss_kb for r in rows if r.process.rss_kb is not None]
    return {
        "users": len({r.snapshot.user for r in rows}),
        "hosts": len({r.snapshot.host for r in rows}),
        "snapshots": len({r.snapshot.snapshot_id for r in rows}),
        "processes": len(rows),
        "avg_cpu_percent": round(sum(cpus) / len(cpus), 3) if cpus else None,
        "avg_rss_kb": round(sum(rss) / len(rss), 1) if rss else None,
    }


def _dim(r: Row, by: str) -> str:
    return r.process.app if by == "app" else getattr(r.snapshot, by)


EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def window(f: dict[str, Any]) -> tuple[datetime, datetime]:
    return _utc(f.get("from")) or EARLIEST, _utc(f.get("to")) or LATEST


def _used(rows: list[Row], f: dict[str, Any], key: Any) -> dict[Any, dict[str, Any]]:
    """Hours and launches per ``key(session)`` (a list of keys: its pieces' time, an hour's
    start, given) of the sessions the filters select, where there was use in the range."""
    start, end = window(f)
    pieces: dict[Any, list] = defaultdict(list)
    for s in sessions_data.matching(sessions_of(rows), f):
        hour = max(s.first_seen, start).replace(minute=0, second=0, microsecond=0)
        while hour < min(s.ended, end):
            a, b = max(hour, start), min(hour + timedelta(hours=1), end)
            pieces[key(s, hour)].append((s, a, b))
            hour += timedelta(hours=1)
    used = {}
    for k, ps in pieces.items():
        seconds = sum(sessions_data.overlap(s, a, b) for s, a, b in ps)
        launches = sum(a <= s.first_seen < b for s, a, b in ps)
        if seconds > 0:
            used[k] = {"hours": round(seconds / 3600, 4), "launches": launches}
    return used


NO_USE = {"hours": 0.0, "launches": 0}


def product(app: str) -> dict[str, str | None]:
    """What the catalog says beside an app in an answer (analytics/products.py)."""
    return describe(builtin(), app)


def _ranked(groups: dict[str, list[Row]], used: dict[str, dict], key: str, metric: str | None,
            limit: int) -> list[dict]:  # fmt: skip
    items = [{key: value, **metrics(groups.get(value, [])), **used.get(value, NO_USE),
              **(product(value) if key == "app" else {})}
             for value in set(groups) | set(used)]  # fmt: skip
    items.sort(key=lambda i: i[key])
    if metric is not None:
        col = METRIC_KEY.get(metric, metric)
        items.sort(key=lambda i: (i[col] is None, -(i[col] or 0)))
    return items[:limit]


def top_apps(rows: list[Row], f: dict[str, Any], metric: str = "users", limit: int = 10) -> list:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in select(rows, f):
        groups[r.process.app].append(r)
    used = _used(rows, f, lambda s, hour: s.app)
    active = active_users(rows, f)
    # By product (group_by's default): no executable, version or cohort named.
    return [{**item, "executable": None, "version": None, "faculty": None, "os": None,
             "active_users": active,
             "share_users": item["users"] / active,
             **dict(zip(("share_ci95_lo", "share_ci95_hi"),  # statsmodels' Wilson interval
                        proportion_confint(item["users"], active, method="wilson"), strict=True))}
            for item in _ranked(groups, used, "app", metric, limit)]  # fmt: skip


def active_users(rows: list[Row], f: dict[str, Any]) -> int:
    """Distinct users with any session (any process) in the range under who/where filters."""
    start, end = window(f)
    return len({s.user for s in sessions_of(rows)
                if s.first_seen < end and s.ended > start
                and all(f.get(k) in (None, s.dimension(k)) for k in ("faculty", "os", "user", "host"))})  # fmt: skip


def with_shares(rows: list[Row], f: dict[str, Any], by: str, items: list[dict]) -> list[dict]:
    """The breakdown question's items: each with its share of active users (per faculty or
    OS, of that value's; per app, of all under the filters; per user or host, none)."""
    out = []
    for item in items:
        active = (active_users(rows, {**f, by: item[by]}) if by in ("faculty", "os")
                  else active_users(rows, f) if by == "app" else None)  # fmt: skip
        out.append({**item, "active_users": active,
                    "share_users": None if active is None else item["users"] / active})
    return out


def breakdown(rows: list[Row], f: dict[str, Any], by: str, metric: str | None = "users",
              limit: int = 1000) -> list:  # fmt: skip
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in select(rows, f):
        groups[_dim(r, by)].append(r)
    used = _used(rows, f, lambda s, hour: s.dimension(by))
    return _ranked(groups, used, by, metric, limit)


def truncate(moment: datetime, bucket: str) -> datetime:
    m = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return m
    m = m.replace(hour=0)
    if bucket == "week":
        return m - timedelta(days=m.weekday())
    if bucket == "month":
        return m.replace(day=1)
    return m


def usage(rows: list[Row], f: dict[str, Any], bucket: str, group_by: str | None) -> list[dict]:
    """Flat (group, bucket, metrics) rows, ordered like the api's series."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in select(rows, f):
        group = _dim(r, group_by) if group_by else None
        groups[(group, truncate(r.snapshot.collected_at, bucket))].append(r)
    used = _used(rows, f, lambda s, hour: (s.dimension(group_by) if group_by else None,
                                          truncate(hour, bucket)))  # fmt: skip
    points = [
        {"group": g, "bucket": b, **metrics(groups.get((g, b), [])), **used.get((g, b), NO_USE)}
        for g, b in sorted(set(groups) | set(used), key=lambda k: (k[0] or "", k[1]))
    ]
    # Each point's share of the bucket's active users: those with any snapshot in it (any
    # process, any app), of the point's faculty or OS, else all under who/where filters.
    every = {k: f.get(k) for k in ("faculty", "os", "user", "host", "from", "to")}
    every["include_system"] = True
    for p in points:
        cohort = {group_by: p["group"]} if group_by in ("faculty", "os") else {}
        active = None if group_by in ("user", "host") else len(
            {r.snapshot.user for r in select(rows, {**every, **cohort})
             if truncate(r.snapshot.collected_at, bucket) == p["bucket"]})  # fmt: skip
        p.update(active_users=active, share_users=p["users"] / active if active else None)
    return points

