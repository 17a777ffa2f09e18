"""A campus's history: when each machine took snapshots over the last days, and the bodies
it posted (deterministic: the same seed within the same hour gives the same snapshot ids)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dream.demo.campus import (COMMANDS, DEFAULT_FACULTIES, OS_VERSION, activity, campus,
                               executables)  # fmt: skip
from dream.demo.listings import listing

_NAMESPACE = uuid.UUID("d2e7c1f0-5b8a-4c3e-9f61-0a4b7de35a21")


def snapshot_times(days: int, now: datetime, host_index: int, seed: int) -> Iterator[datetime]:
    """When ``host`` took snapshots over the last ``days`` days: at most hourly, diurnal."""
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    rng = random.Random(f"times/{seed}/{host_index}")
    hour = start
    while hour < end:
        if rng.random() < activity(hour):
            yield hour + timedelta(seconds=rng.randrange(5, 300))
        hour += timedelta(hours=1)


def generate(
    hosts: int = 200, days: int = 14, faculties: tuple[str, ...] = DEFAULT_FACULTIES,
    seed: int = 0, now: datetime | None = None,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Snapshot bodies for ``POST /v1/snapshots``, in time order per host."""
    now = now or datetime.now(UTC)
    machines = campus(hosts, faculties, seed)
    for index, host in enumerate(machines):
        for at in snapshot_times(days, now, index, seed):
            rng = random.Random(f"snapshot/{seed}/{host.name}/{at.isoformat()}")
            # The same user sits at a machine for a few hours at a time.
            user = host.users[(at.timetuple().tm_yday * 3 + at.hour // 3) % len(host.users)]
            output, apps = listing(host, user, at, rng)
            yield {
                "snapshot_id": str(uuid.uuid5(_NAMESPACE, f"{seed}/{host.name}/{at.isoformat()}")),
                "host": host.name,
                "os": host.os,
                "os_version": OS_VERSION[host.os],
                "user": user,
                "faculty": host.faculty,
                "collected_at": at.isoformat(),
                "command": COMMANDS[host.os],
                "output": output,
                "executables": executables(host.os, apps),
            }
