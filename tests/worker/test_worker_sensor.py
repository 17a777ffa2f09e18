"""What the worker tells its sensor, on the in-memory transport and a real PostgreSQL: each
batch written and stored, each snapshot made final once (with its trace context and the details
of its log line), each parse surrounded; a replay is not reported again."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from dream.observability.sensors import Sensor
from dream.observability.tracing import configure_tracing, tracer
from dream.storage.database import Database
from dream.transport.memory import MemoryBroker
from worker_helpers import new_worker, publish, running

from helpers import live_ps_aux, wait_for


class Recording(Sensor):
    def __init__(self) -> None:
        self.parsed: list[tuple[uuid.UUID, bool, str | None, int]] = []
        self.written: list[int] = []
        self.stored_batches: list[tuple[int, int]] = []
        self.stored: dict[str, tuple[str, str | None, bool, Mapping[str, object]]] = {}

    @contextmanager
    def _parsing(self, snapshot_id: uuid.UUID, traced: bool) -> Iterator[Callable[..., None]]:
        yield lambda format, processes: self.parsed.append(
            (snapshot_id, traced, format, processes)
        )

    def parsing(self, snapshot_id, trace):  # type: ignore[no-untyped-def]
        return self._parsing(snapshot_id, bool(trace))

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        assert seconds >= 0
        self.written.append(snapshots)

    def on_batch_stored(self, snapshots: int, rows: int) -> None:
        self.stored_batches.append((snapshots, rows))

    def on_snapshot_stored(self, status, format, trace, details) -> None:  # type: ignore[no-untyped-def]
        self.stored[str(details["snapshot_id"])] = (status, format, bool(trace), dict(details))


def test_the_worker_reports_batches_and_first_stores_to_its_sensor(
    broker: MemoryBroker, db: Database
) -> None:
    configure_tracing("dream-test")
    with tracer().start_as_current_span("POST /v1/snapshots"):  # as the api publishes
        good = publish(broker, live_ps_aux(), host="lab-1")
        bad = publish(broker, "not a listing\nnor this\n", host="lab-2")
    sensor = Recording()
    with running(new_worker(broker, db, sensor=sensor)):
        wait_for(lambda: len(sensor.stored) == 2, what="both snapshots reported")
    assert {p[0] for p in sensor.parsed} == {good.snapshot_id, bad.snapshot_id}
    assert all(traced for _, traced, _, _ in sensor.parsed), "the api's trace travels along"
    assert sum(sensor.written) == 2 and sum(n for n, _ in sensor.stored_batches) == 2
    status, format, traced, details = sensor.stored[str(good.snapshot_id)]
    assert (status, format, traced, details["host"]) == ("stored", "ps-aux", True, "lab-1")
    rows = sum(r for _, r in sensor.stored_batches)
    assert rows == details["processes"] > 0
    assert {"topic", "partition", "offset"} <= details.keys()
    status, format, _, details = sensor.stored[str(bad.snapshot_id)]
    assert (status, format) == ("failed", "ps-aux") and "error" in details

    # The same snapshots again (a replay): stored already, so not reported a second time.
    broker.committed.clear()
    again = Recording()
    with running(new_worker(broker, db, sensor=again)):
        wait_for(lambda: again.stored_batches, what="the replayed batch stored")
    assert again.stored == {}
