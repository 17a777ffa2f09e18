"""Sessions are a function of the set of snapshots: whatever order and batches the writer gets
them in (one worker or several after one another), the same sessions and the same
usage_hours_daily (and usage_hours_daily_apps), which always equal the sum over the sessions;
host_days always equals what the final snapshots say."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dream.snapshots import ProcessedSnapshot
from dream.storage.open_sessions import OpenSessions
from dream.storage.partitions import PartitionManager
from dream.storage.writer import SnapshotWriter
from sessions_helpers import (
    T0,
    clear,
    host_days,
    host_days_from_snapshots,
    hours,
    hours_apps,
    hours_apps_from_sessions,
    hours_from_sessions,
    sessions,
    snapshot,
    wrong_ended,
    write,
)

BASE = T0.replace(hour=23)  # the draws span midnight
POOL = [(11, "matlab.exe", "matlab"), (12, "spss.exe", "spss"), (None, "R", "r"),
        (13, "svchost.exe", "svchost"), (14, "kworker", "")]  # fmt: skip
DEFAULT_CADENCE = 300.0

snapshot_specs = st.lists(
    st.tuples(
        st.sampled_from(["h1", "h2"]),
        st.integers(0, 60),  # minutes after BASE: dense enough that cadences overlap
        st.sampled_from([None, 60.0, 90.5, 300.0, 600.0]),
        st.sampled_from(["ann", "bob"]),
        st.sets(st.integers(0, len(POOL) - 1), min_size=1),
    ),
    min_size=1,
    max_size=30,
)


def _build(specs: list) -> list[ProcessedSnapshot]:
    return [snapshot(host, BASE + timedelta(minutes=m), [POOL[i] for i in sorted(procs)],
                     interval_s=cadence, user=user)
            for host, m, cadence, user, procs in specs]  # fmt: skip


def _reference(snaps: list[ProcessedSnapshot]) -> list[tuple]:
    """Sessions from scratch: per key, the connected runs of [t, t + 1.5 cadence]."""
    per_key: dict[tuple, list[tuple]] = {}
    for item in snaps:
        s = item.snapshot
        c = s.interval_s or DEFAULT_CADENCE
        for p in item.processes:
            key = (s.host, s.user, -1 if p.pid is None else p.pid, p.name)
            per_key.setdefault(key, []).append((s.collected_at, c))
    out = []
    for key, obs in sorted(per_key.items()):
        obs.sort()
        run: list = []
        reach = None
        for t, c in obs:
            if run and t > reach:
                out.append((*key, run[0], run[-1], len(run)))
                run = []
            reach = t + timedelta(seconds=1.5 * c) if not run else max(reach, t + timedelta(seconds=1.5 * c))
            run.append(t)
        out.append((*key, run[0], run[-1], len(run)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=snapshot_specs, data=st.data())
def test_any_order_and_batching_gives_the_same_sessions_and_hours(
    module_database_url: str, specs: list, data: st.DataObject
) -> None:
    url = module_database_url
    snaps = _build(specs)
    clear(url)
    write(url, snaps, default_cadence_s=DEFAULT_CADENCE)
    expected = sessions(url), hours(url), hours_apps(url), host_days(url)
    assert [(*r[:6], r[11]) for r in expected[0]] == _reference(snaps)

    shuffled = data.draw(st.permutations(snaps), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(snaps) - 1))), label="batch cuts"))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(snaps)], strict=True)]
    clear(url)
    write(url, *[b for b in batches if b], default_cadence_s=DEFAULT_CADENCE)
    assert (sessions(url), hours(url), hours_apps(url), host_days(url)) == expected

    # usage_hours_daily is the sum over the sessions (seconds to within their 1/1024 s rounding)
    kept = hours(url)
    recomputed = hours_from_sessions(url)
    assert [r[:6] for r in kept] == [r[:6] for r in recomputed]
    for row, check in zip(kept, recomputed, strict=True):
        assert abs(row[6] - check[6]) < 1e-3 and row[7] == check[7]

    # usage_hours_daily_apps: the same, summed over users and hosts
    apps, apps_check = hours_apps(url), hours_apps_from_sessions(url)
    assert [r[:4] for r in apps] == [r[:4] for r in apps_check]
    for row, check in zip(apps, apps_check, strict=True):
        assert abs(row[4] - check[4]) < 1e-3 and row[5] == check[5]
    assert host_days(url) == host_days_from_snapshots(url)
    assert wrong_ended(url) == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=snapshot_specs, data=st.data())
def test_writers_taking_turns_with_their_open_sessions_give_the_same_sessions(
    module_database_url: str, specs: list, data: st.DataObject
) -> None:
    """Each writer keeps the open sessions it wrote (storage/open_sessions.py). Batches handed
    to two writers in turn (a rebalance back and forth, a reprocess between two batches), in
    any order, give the sessions one writer gives: a writer never uses what it kept of a host
    another wrote since, nor what it kept from before a late snapshot's time."""
    url = module_database_url
    snaps = _build(specs)
    clear(url)
    write(url, snaps, default_cadence_s=DEFAULT_CADENCE)
    expected = sessions(url), hours(url), hours_apps(url)

    shuffled = data.draw(st.permutations(snaps), label="arrival order")
    if data.draw(st.booleans(), label="in collection order"):  # as a host's agent sends them
        shuffled = sorted(shuffled, key=lambda item: item.snapshot.collected_at)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(snaps) - 1))), label="batch cuts"))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(snaps)], strict=True)]
    turns = data.draw(st.lists(st.sampled_from([0, 1]), min_size=len(batches),
                               max_size=len(batches)), label="writer of each batch")  # fmt: skip
    clear(url)
    writers = [SnapshotWriter(PartitionManager(), default_cadence_s=DEFAULT_CADENCE)
               for _ in range(2)]  # fmt: skip
    keep = data.draw(st.sampled_from([5, 120]), label="minutes kept")  # 5: late ones read back
    for w in writers:
        w.open_sessions = OpenSessions(keep=timedelta(minutes=keep))
    with psycopg.connect(url, autocommit=True) as conn:
        for batch, turn in zip(batches, turns, strict=True):
            if batch:
                assert not writers[turn].write(conn, list(batch)).rejected
    assert (sessions(url), hours(url), hours_apps(url)) == expected
    assert wrong_ended(url) == 0
