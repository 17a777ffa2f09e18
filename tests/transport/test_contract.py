"""The transport contract (dream/transport/base.py), case by case, against memory, direct (real
PostgreSQL) and kafka (real broker): the in-memory transport the worker's unit tests use cannot
drift from the real ones without one of these failing."""

from __future__ import annotations

import threading
import time
import uuid

import anyio

from dream.transport.base import Batch, DeadLetter, Delivery, Lane, Source
from transports import Harness, make_snapshot


def _publish(harness: Harness, hosts: list[str]) -> list[uuid.UUID]:
    publisher = harness.open_publisher()
    ids = []
    for minutes, host in enumerate(hosts):
        snapshot = make_snapshot(host, minutes_ago=60 - minutes)
        anyio.run(publisher.publish, snapshot)
        ids.append(snapshot.snapshot_id)
    return ids


def _collect(source: Source, n: int, within_s: float) -> tuple[Batch, list[Delivery]]:
    """Fetch until ``n`` deliveries came; the last batch (holding them all) and the deliveries."""
    merged = Batch()
    deadline = time.monotonic() + within_s
    while len(merged.deliveries) < n and time.monotonic() < deadline:
        batch = source.fetch(100, 0.5)
        merged.deliveries += batch.deliveries
        merged.ends |= batch.ends
    return merged, merged.deliveries


def _ids(deliveries: list[Delivery]) -> list[uuid.UUID]:
    return [d.snapshot.snapshot_id for d in deliveries]


def test_published_snapshots_are_fetched_whole_and_once_acknowledged_not_again(
    harness: Harness,
) -> None:
    ids = _publish(harness, ["eng-lab-01", "eng-lab-02", "law-pc-03"])
    source = harness.open_source()
    batch, deliveries = _collect(source, 3, harness.wait_s)
    assert sorted(_ids(deliveries)) == sorted(ids)
    assert all(d.snapshot.output and "PID" in d.snapshot.output for d in deliveries)
    assert source.fetch(100, 0.5).deliveries == []  # handed out, not handed out again
    harness.commit_write(batch)
    source.ack(batch)
    source.close()

    again = harness.open_source()
    _, redelivered = _collect(again, 1, min(harness.wait_s, 8.0))
    assert redelivered == []


def test_what_was_not_acknowledged_is_delivered_again_to_the_next_consumer(
    harness: Harness,
) -> None:
    ids = _publish(harness, ["eng-lab-01", "eng-lab-02"])
    first = harness.open_source()
    _, deliveries = _collect(first, 2, harness.wait_s)
    assert sorted(_ids(deliveries)) == sorted(ids)
    first.close()  # crashed before the write committed: nothing acknowledged

    second = harness.open_source()
    _, again = _collect(second, 2, harness.wait_s)
    assert sorted(_ids(again)) == sorted(ids)


def test_one_hosts_snapshots_come_in_the_order_they_were_published(harness: Harness) -> None:
    hosts = ["eng-lab-01", "law-pc-07"] * 5
    ids = _publish(harness, hosts)
    source = harness.open_source()
    _, deliveries = _collect(source, len(ids), harness.wait_s)
    for host in set(hosts):
        published = [i for i, h in zip(ids, hosts, strict=True) if h == host]
        fetched = [d.snapshot.snapshot_id for d in deliveries if d.snapshot.host == host]
        assert fetched == published
        assert len({d.position.lane for d in deliveries if d.snapshot.host == host}) == 1


def test_a_dead_letter_reaches_the_dead_letter_destination_before_the_ack(
    harness: Harness,
) -> None:
    poison, fine = _publish(harness, ["eng-lab-01", "eng-lab-01"])
    source = harness.open_source()
    batch, deliveries = _collect(source, 2, harness.wait_s)
    index = _ids(deliveries).index(poison)
    sent = source.dead_letter(batch, [DeadLetter(index, "rejected: refused by the database")])
    assert sent == 1
    source.ack(batch)
    assert poison in harness.dead_lettered()
    assert fine not in harness.dead_lettered()


def test_a_lane_dealt_to_another_consumer_is_announced_before_it_goes(harness: Harness) -> None:
    hosts = [f"lab-{i:02d}" for i in range(12)]  # spread over every lane
    _publish(harness, hosts)
    first = harness.open_source()
    revoked: list[Lane] = []
    first.set_revoke_listener(revoked.extend)
    _, held = _collect(first, len(hosts), harness.wait_s)
    assert len(held) == len(hosts)

    second = harness.open_source()  # joins the group: the lanes are dealt again
    taken: list[Delivery] = []
    deadline = time.monotonic() + harness.wait_s
    while time.monotonic() < deadline and not (revoked and taken):
        first.idle(0.2)  # a paused or idle consumer still serves the rebalance
        taken += second.fetch(100, 0.2).deliveries
    if not harness.lanes_move:
        assert revoked == [], "a transport whose lanes never move announced a revocation"
        return
    assert revoked, "the first consumer was not told its lanes were going"
    # Nothing was acknowledged: the new owner reads the revoked lanes from their start.
    moved = {d.snapshot.snapshot_id for d in held if d.position.lane in set(revoked)}
    _, rest = _collect(second, len(moved) - len(taken), 5.0)
    assert {d.snapshot.snapshot_id for d in taken + rest} == moved


def test_interrupt_and_close_end_waits_and_may_be_repeated(harness: Harness) -> None:
    source = harness.open_source()
    stopper = threading.Timer(0.2, source.interrupt)  # as a signal handler would, mid-fetch
    stopper.start()
    assert source.fetch(100, 1.0).deliveries == []  # nothing was published
    assert stopper.finished.is_set(), "the interrupt came after the fetch, not during it"
    source.interrupt()
    source.close()
    source.close()
    publisher = harness.open_publisher()
    publisher.close()
    publisher.close()
