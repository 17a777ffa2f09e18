"""Telemetry as an observer: components report what happened to a ``Sensor``; what is done with
it (Prometheus series, spans, nothing) is the sensor's business, chosen once by the wiring.

The hot paths (worker, transport, storage, web) hold a sensor (``NullSensor`` by default) and
call it unconditionally: no ``if telemetry`` branches, no metric globals imported there. The
events are those the pipeline reported before as metric and span calls, named after what
happened, not after the series that counts it.

Spans that *carry* a trace context (the api's request span, the publisher's produce span, whose
context travels in the message headers) stay in the code that opens them: they are the parents
the worker's spans hang from, not observations, and OpenTelemetry's api is already a no-op
without a provider. The worker's spans are observations and belong to ``TracingSensor``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Literal, Protocol

import structlog

from dream.observability import metrics
from dream.observability.tracing import TraceHeaders, extract_context, tracer

log = structlog.get_logger(__name__)

BreakerState = Literal["closed", "half-open", "open"]
_BREAKER_STATES: dict[str, float] = {"closed": 0.0, "half-open": 1.0, "open": 2.0}


class ParseNotes(Protocol):
    """What a parse span records of its outcome (set once the snapshot is parsed)."""

    def __call__(self, format: str | None, processes: int) -> None: ...


def _ignore(format: str | None, processes: int) -> None:
    """Notes nobody keeps."""


class Sensor:
    """Every event the pipeline reports; each does nothing here, so a sensor overrides only the
    events it cares about (and adding an event breaks no sensor)."""

    # api ---------------------------------------------------------------------------------------
    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """An HTTP request was answered (``route``: its template, a bounded label)."""

    def on_snapshot_accepted(self, transport: str, output_bytes: int) -> None:
        """The api accepted a snapshot (202) and handed it to ``transport``."""

    def on_clock_skew(self, seconds: float) -> None:
        """A collector's clock differs from ours by ``seconds`` (either way)."""

    def on_produce_failed(self, reason: str) -> None:
        """The pipeline refused or failed to take a snapshot (queue_full, produce, ...)."""

    def on_snapshot_opted_out(self, reason: str) -> None:
        """The api dropped a snapshot unkept: its ``reason`` (user or host) opted out."""

    def on_receipts_dropped(self, count: int) -> None:
        """``count`` receipts (Kafka mode) could not be recorded: queue full or database away."""

    def on_fleet_status(self, hosts: Mapping[str, int]) -> None:
        """How many hosts are reporting, late and silent now (web/fleet.py)."""

    def watch_breaker(self, state: Callable[[], BreakerState]) -> None:
        """``state`` reads the producer's circuit breaker whenever the sensor wants it."""

    # worker ------------------------------------------------------------------------------------
    def on_consumer_lag(self, topic: str, partition: int, messages: int) -> None:
        """The worker group is ``messages`` behind the end of ``topic``/``partition``."""

    def parsing(
        self, snapshot_id: uuid.UUID, trace: TraceHeaders | None
    ) -> AbstractContextManager[ParseNotes]:
        """Surrounds one snapshot's parse; ``trace``: the api's context, from the delivery."""
        return nullcontext(_ignore)

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        """A batch of ``snapshots`` was written and committed in ``seconds``."""

    def on_batch_stored(self, snapshots: int, rows: int) -> None:
        """A batch was stored and acknowledged: ``rows`` process rows written."""

    def on_snapshot_stored(
        self, status: str, format: str | None, trace: TraceHeaders | None,
        details: Mapping[str, object],
    ) -> None:  # fmt: skip
        """A snapshot was made final (first time only: replays are not reported).

        ``format``: the one its command asked for (a failed parse has none of its own);
        ``details``: what identifies it in a log line (id, host, counts, position).
        """

    def on_rows_skipped(self, format: str | None, rows: int) -> None:
        """A snapshot was stored without ``rows`` lines its ``format``'s parser could not read
        (first time only, like ``on_snapshot_stored``)."""

    def on_dead_lettered(self, reason: str) -> None:
        """A message went to the dead-letter topic (parse, rejected or invalid)."""

    # storage -----------------------------------------------------------------------------------
    def watch_pool(self, stats: Callable[[], Mapping[str, float]]) -> None:
        """``stats`` reads the database pool (size, idle, waiting) whenever the sensor wants."""


class NullSensor(Sensor):
    """Telemetry off: every event is dropped."""


NULL_SENSOR = NullSensor()


class PrometheusSensor(Sensor):
    """Today's series (observability/metrics.py: names and labels dashboards and alerts use)."""

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        metrics.HTTP_REQUEST_SECONDS.labels(route, method, str(status)).observe(seconds)

    def on_snapshot_accepted(self, transport: str, output_bytes: int) -> None:
        metrics.SNAPSHOTS_INGESTED.labels(transport).inc()
        metrics.SNAPSHOT_INGESTED_BYTES.inc(output_bytes)

    def on_clock_skew(self, seconds: float) -> None:
        metrics.CLOCK_SKEW.observe(abs(seconds))

    def on_produce_failed(self, reason: str) -> None:
        metrics.PRODUCE_ERRORS.labels(reason).inc()

    def on_snapshot_opted_out(self, reason: str) -> None:
        metrics.SNAPSHOTS_OPTED_OUT.labels(reason).inc()

    def on_receipts_dropped(self, count: int) -> None:
        metrics.RECEIPTS_DROPPED.inc(count)

    def on_fleet_status(self, hosts: Mapping[str, int]) -> None:
        for status, count in hosts.items():
            metrics.FLEET_HOSTS.labels(status).set(count)

    def watch_breaker(self, state: Callable[[], BreakerState]) -> None:
        metrics.CIRCUIT_STATE.set_function(lambda: _BREAKER_STATES[state()])

    def on_consumer_lag(self, topic: str, partition: int, messages: int) -> None:
        metrics.CONSUMER_LAG.labels(topic, str(partition)).set(messages)

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        metrics.BATCH_COMMIT_SECONDS.observe(seconds)

    def on_batch_stored(self, snapshots: int, rows: int) -> None:
        metrics.BATCH_SNAPSHOTS.observe(snapshots)
        metrics.ROWS_WRITTEN.inc(rows)

    def on_snapshot_stored(
        self, status: str, format: str | None, trace: TraceHeaders | None,
        details: Mapping[str, object],
    ) -> None:  # fmt: skip
        metrics.SNAPSHOTS_STORED.labels(status).inc()
        if status == "failed":
            metrics.PARSE_FAILURES.labels(format or "unknown").inc()

    def on_rows_skipped(self, format: str | None, rows: int) -> None:
        metrics.PARSE_SKIPPED_ROWS.labels(format or "unknown").inc(rows)

    def on_dead_lettered(self, reason: str) -> None:
        metrics.DLQ_MESSAGES.labels(reason).inc()

    def watch_pool(self, stats: Callable[[], Mapping[str, float]]) -> None:
        # Read at scrape time; the last pool watched in a process is the one reported.
        for state, stat in (("size", "pool_size"), ("idle", "pool_available"),
                            ("waiting", "requests_waiting")):  # fmt: skip
            metrics.DB_POOL_CONNECTIONS.labels(state).set_function(_reader(stats, stat))


def _reader(stats: Callable[[], Mapping[str, float]], name: str) -> Callable[[], float]:
    return lambda: float(stats().get(name, 0))


class TracingSensor(Sensor):
    """The worker's spans, children of the api's (one trace api → worker), and the log line of
    each stored snapshot inside its span (grep a trace id to follow a snapshot)."""

    def parsing(
        self, snapshot_id: uuid.UUID, trace: TraceHeaders | None
    ) -> AbstractContextManager[ParseNotes]:
        return _ParseSpan(snapshot_id, trace)

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        # The span of the write just committed, timed by the writer (a failed write is retried
        # and logged by the worker; its span is the one that finally commits).
        ended = time.time_ns()
        span = tracer().start_span("write batch", start_time=ended - int(seconds * 1e9))
        span.set_attribute("dream.snapshots", snapshots)
        span.end(end_time=ended)

    def on_snapshot_stored(
        self, status: str, format: str | None, trace: TraceHeaders | None,
        details: Mapping[str, object],
    ) -> None:  # fmt: skip
        parent = extract_context(trace) if trace else None
        with tracer().start_as_current_span("snapshot stored", context=parent):
            log.info("snapshot stored", status=status, **details)


class _ParseSpan(AbstractContextManager[ParseNotes]):
    """The "parse snapshot" span; the notes set the outcome's attributes on it."""

    def __init__(self, snapshot_id: uuid.UUID, trace: TraceHeaders | None) -> None:
        parent = extract_context(trace) if trace else None
        self._snapshot_id = str(snapshot_id)
        self._span = tracer().start_as_current_span("parse snapshot", context=parent)

    def __enter__(self) -> ParseNotes:
        span = self._span.__enter__()
        span.set_attribute("dream.snapshot_id", self._snapshot_id)

        def notes(format: str | None, processes: int) -> None:
            span.set_attribute("dream.format", format or "")
            span.set_attribute("dream.processes", processes)

        return notes

    def __exit__(self, *exc: object) -> bool | None:
        return self._span.__exit__(*exc)  # type: ignore[arg-type]


class Sensors(Sensor):
    """Fan-out: every event goes to each sensor, in order (faust's SensorDelegate)."""

    def __init__(self, sensors: Iterable[Sensor]) -> None:
        self.sensors: Sequence[Sensor] = tuple(sensors)

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        for s in self.sensors:
            s.on_request(route, method, status, seconds)

    def on_snapshot_accepted(self, transport: str, output_bytes: int) -> None:
        for s in self.sensors:
            s.on_snapshot_accepted(transport, output_bytes)

    def on_clock_skew(self, seconds: float) -> None:
        for s in self.sensors:
            s.on_clock_skew(seconds)

    def on_produce_failed(self, reason: str) -> None:
        for s in self.sensors:
            s.on_produce_failed(reason)

    def on_snapshot_opted_out(self, reason: str) -> None:
        for s in self.sensors:
            s.on_snapshot_opted_out(reason)

    def on_receipts_dropped(self, count: int) -> None:
        for s in self.sensors:
            s.on_receipts_dropped(count)

    def on_fleet_status(self, hosts: Mapping[str, int]) -> None:
        for s in self.sensors:
            s.on_fleet_status(hosts)

    def watch_breaker(self, state: Callable[[], BreakerState]) -> None:
        for s in self.sensors:
            s.watch_breaker(state)

    def on_consumer_lag(self, topic: str, partition: int, messages: int) -> None:
        for s in self.sensors:
            s.on_consumer_lag(topic, partition, messages)

    def parsing(
        self, snapshot_id: uuid.UUID, trace: TraceHeaders | None
    ) -> AbstractContextManager[ParseNotes]:
        return _AllParsing([s.parsing(snapshot_id, trace) for s in self.sensors])

    def on_batch_written(self, snapshots: int, seconds: float) -> None:
        for s in self.sensors:
            s.on_batch_written(snapshots, seconds)

    def on_batch_stored(self, snapshots: int, rows: int) -> None:
        for s in self.sensors:
            s.on_batch_stored(snapshots, rows)

    def on_snapshot_stored(
        self, status: str, format: str | None, trace: TraceHeaders | None,
        details: Mapping[str, object],
    ) -> None:  # fmt: skip
        for s in self.sensors:
            s.on_snapshot_stored(status, format, trace, details)

    def on_rows_skipped(self, format: str | None, rows: int) -> None:
        for s in self.sensors:
            s.on_rows_skipped(format, rows)

    def on_dead_lettered(self, reason: str) -> None:
        for s in self.sensors:
            s.on_dead_lettered(reason)

    def watch_pool(self, stats: Callable[[], Mapping[str, float]]) -> None:
        for s in self.sensors:
            s.watch_pool(stats)


class _AllParsing(AbstractContextManager[ParseNotes]):
    """Each sensor's parse context, nested in order; the notes go to all of them."""

    def __init__(self, contexts: list[AbstractContextManager[ParseNotes]]) -> None:
        self._contexts = contexts
        self._stack = ExitStack()

    def __enter__(self) -> ParseNotes:
        notes = [self._stack.enter_context(c) for c in self._contexts]

        def all_notes(format: str | None, processes: int) -> None:
            for note in notes:
                note(format, processes)

        return all_notes

    def __exit__(self, *exc: object) -> bool | None:
        return self._stack.__exit__(*exc)  # type: ignore[arg-type]


def sensor_for(telemetry: Literal["on", "off"]) -> Sensor:
    """The sensor DREAM_TELEMETRY asks for: Prometheus series and spans, or nothing."""
    if telemetry == "off":
        return NULL_SENSOR
    return Sensors([PrometheusSensor(), TracingSensor()])
