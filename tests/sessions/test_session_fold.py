"""The batch folds a key's observations into runs without a session per observation: the runs
must be exactly those ``merge_runs`` makes of one session per observation, whatever the order,
ties in time, cadences and missing values (pure Python: many draws, no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dream.parsing.model import ProcessRecord
from dream.snapshots import Snapshot
from dream.storage.hours import HoursDelta
from dream.storage.sessions import LINK_CADENCES, Session, SessionBatch, merge_runs, session_row

T0 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # draws cross midnight

observations = st.lists(
    st.tuples(
        st.integers(0, 90),  # minutes after T0
        st.sampled_from([None, 60.0, 90.5, 300.0]),  # interval_s
        st.sampled_from(["matlab", "spss", ""]),  # app
        st.one_of(st.none(), st.integers(0, 5000)),  # rss_kb
        st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),  # cpu_seconds
        st.booleans(),  # is_system
    ),
    min_size=1,
    max_size=25,
)


def _observed(spec: tuple) -> tuple[Snapshot, ProcessRecord]:
    minute, interval_s, app, rss, cpu, system = spec
    snap = Snapshot(
        snapshot_id=uuid.uuid4(), host="h1", os="windows", user="ann", faculty="law",
        collected_at=T0 + timedelta(minutes=minute), received_at=T0, command="tasklist /v",
        output="(raw)", interval_s=interval_s,
    )  # fmt: skip
    record = ProcessRecord(pid=7, name="p.exe", app=app, rss_kb=rss, cpu_seconds=cpu,
                           is_system=system)  # fmt: skip
    return snap, record


@given(specs=observations)
def test_folding_gives_the_runs_merge_runs_gives(specs: list[tuple]) -> None:
    batch = SessionBatch(default_cadence_s=120.0)
    one_each = []
    for snap, record in map(_observed, specs):
        batch.add(snap, [record])
        cadence = batch.cadence(snap)
        one_each.append(Session.observed(
            snap, record, cadence, timedelta(seconds=LINK_CADENCES * cadence)))  # fmt: skip
    want = [session_row(s) for s in merge_runs(one_each)]
    assert [session_row(s) for runs in batch._merged().values() for s in runs] == want


@given(specs=observations, more=observations)
def test_extending_a_session_changes_hours_as_taking_it_out_and_adding_it_back(
    specs: list[tuple], more: list[tuple]
) -> None:
    (old, *_), (new, *_) = (
        merge_runs([Session.observed(s, r, 60.0, timedelta(seconds=90)) for s, r in
                    map(_observed, batch)]) for batch in (specs, specs + more)
    )  # fmt: skip
    if old.first_seen != new.first_seen:
        return  # not an extension at the end
    both, extended = HoursDelta(), HoursDelta()
    both.add(old, -1)
    both.add(new, 1)
    extended.extend(old, new)
    assert {k: v for k, v in both.rows.items() if any(v)} == {
        k: v for k, v in extended.rows.items() if any(v)
    }
