"""Batches grow while the writer is busy (in-memory transport, real PostgreSQL): snapshots that
arrive during a write join the next batch instead of waiting as batches of their own, so a
running session gets one new version per write, not one per snapshot."""

from __future__ import annotations

import psycopg

from dream.observability.sensors import Sensor
from dream.storage.database import Database
from dream.transport.memory import MemoryBroker
from worker_helpers import new_worker, publish, running, stored

from helpers import live_ps_aux, wait_for


class _Writes(Sensor):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        self.sizes.append(snapshots)


def test_snapshots_arriving_during_a_write_make_one_next_batch(
    broker: MemoryBroker, db: Database, database_url: str
) -> None:
    output = live_ps_aux()
    writes = _Writes()
    worker = new_worker(broker, db, sensor=writes, batch_max_bytes=64 * len(output))
    with running(worker), psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE")  # the first write waits
        publish(broker, output)
        wait_for(lambda: worker._in_flight is not None, what="the first batch being written")
        publish(broker, output)
        wait_for(lambda: worker._next is not None and len(worker._next.processed) == 1,
                 what="the next batch fetched")  # fmt: skip
        for _ in range(4):
            publish(broker, output)
        wait_for(lambda: worker._next is not None and len(worker._next.processed) == 5,
                 timeout_s=10, what="the later snapshots taken into the next batch")  # fmt: skip
        holder.rollback()
        wait_for(lambda: len(stored(database_url)) == 6, what="every snapshot stored")
    assert writes.sizes == [1, 5]
    assert set(stored(database_url).values()) == {"stored"}


def test_a_batch_holding_batch_max_bytes_of_output_takes_no_more(
    broker: MemoryBroker, db: Database, database_url: str
) -> None:
    output = live_ps_aux()
    writes = _Writes()
    worker = new_worker(broker, db, sensor=writes, batch_max_bytes=len(output))
    with running(worker), psycopg.connect(database_url) as holder:
        holder.execute("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE")
        publish(broker, output)
        wait_for(lambda: worker._in_flight is not None, what="the first batch being written")
        publish(broker, output)
        wait_for(lambda: worker._next is not None and len(worker._next.processed) == 1,
                 what="the next batch fetched")  # fmt: skip
        for _ in range(4):  # (left for the batch after: the next one is full by bytes)
            publish(broker, output)
        holder.rollback()
        wait_for(lambda: len(stored(database_url)) == 6, what="every snapshot stored")
    assert writes.sizes == [1, 1, 4]
