"""Lanes taken away from a worker mid-batch (on the in-memory transport, real PostgreSQL): the
batch being written is finished and acknowledged before the lanes go, or, past
``rebalance_wait_s``, given up for the new owner; either way each snapshot is stored once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from dream.storage.database import Database
from dream.transport.base import Lane
from dream.transport.memory import MemoryBroker, MemorySource
from dream.worker.runner import Worker
from worker_helpers import new_worker, publish, running, stored

from helpers import live_ps_aux, wait_for


def _publish_on_both_lanes(broker: MemoryBroker) -> set[str]:
    hosts = [f"lab-{i:02d}" for i in range(8)]
    assert {broker.lane_of(h) for h in hosts} == set(broker.lanes)
    return {str(publish(broker, live_ps_aux(), host=h).snapshot_id) for h in hosts}


@contextmanager
def revoked_mid_write(
    broker: MemoryBroker, worker: Worker, database_url: str, *, until_gone: bool = False
) -> Iterator[tuple[MemorySource, list[Lane]]]:
    """While the worker's first batch is being written (the snapshots table held by another
    transaction), a second consumer joins and a lane is taken from the worker; the table is
    let go once the worker has heard of it (``until_gone``: once the lane has gone)."""
    heard: list[Lane] = []
    served = threading.Event()

    def listener(lanes: list[Lane]) -> None:
        heard.extend(lanes)
        served.set()
        worker._on_revoked(lanes)

    worker.source.set_revoke_listener(listener)
    with psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE")
        wait_for(lambda: worker._in_flight is not None, what="a batch being written")
        newcomer = MemorySource(broker)
        assert served.wait(15), "the worker was not told of the revocation"
        in_flight = worker._in_flight
        assert in_flight is not None and not in_flight.written.done(), "not mid-write"
        if until_gone:
            source = worker.source
            assert isinstance(source, MemorySource)
            wait_for(lambda: not set(heard) & source.owned.keys(), what="the lane given up")
        holder.rollback()
    yield newcomer, heard
    newcomer.close()


def test_the_batch_in_hand_is_stored_and_acknowledged_before_its_lane_goes(
    broker: MemoryBroker, db: Database, database_url: str
) -> None:
    ids = _publish_on_both_lanes(broker)
    worker = new_worker(broker, db, rebalance_wait_s=30.0, keepalive_after_s=0.2)
    with running(worker), revoked_mid_write(broker, worker, database_url) as (newcomer, heard):
        wait_for(lambda: set(stored(database_url)) == ids, what="every snapshot stored")
        wait_for(lambda: len(broker.committed) == 2, what="both lanes acknowledged")
        assert all(broker.committed[("workers", lane)] == 4 for lane in broker.lanes)
        assert newcomer.fetch(100, 0.5).deliveries == []  # nothing left for the new owner
        assert len(heard) == 1 and newcomer.owned.keys() == set(heard)


def test_past_rebalance_wait_the_lane_is_given_up_and_its_new_owner_stores_nothing_twice(
    broker: MemoryBroker, db: Database, database_url: str
) -> None:
    ids = _publish_on_both_lanes(broker)
    worker = new_worker(broker, db, rebalance_wait_s=0.3, keepalive_after_s=0.2)
    revoked = revoked_mid_write(broker, worker, database_url, until_gone=True)
    with running(worker), revoked as (newcomer, heard):
        wait_for(lambda: set(stored(database_url)) == ids, what="every snapshot stored")
        [gone] = heard
        [kept] = set(broker.lanes) - {gone}
        wait_for(lambda: ("workers", kept) in broker.committed, what="the kept lane acknowledged")
        # The revoked lane was not acknowledged on the new owner's behalf: it reads it again.
        assert ("workers", gone) not in broker.committed
        second = Worker(newcomer, db, batch_size=10, batch_wait_s=0.05)
        second.run_once()
        assert (second.totals.snapshots, second.totals.skipped) == (0, 4)
        assert broker.committed[("workers", gone)] == 4
    assert len(stored(database_url)) == 8
