"""The sensor interface: Prometheus keeps today's series, the fan-out reaches every sensor,
telemetry off is the null sensor, and the hot paths report only through a sensor."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from prometheus_client import REGISTRY

from dream.observability.sensors import (
    NULL_SENSOR,
    PrometheusSensor,
    Sensor,
    Sensors,
    TracingSensor,
    sensor_for,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "dream"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_prometheus_sensor_reports_under_the_names_dashboards_and_alerts_use() -> None:
    sensor = PrometheusSensor()
    counters: list[tuple[Callable[[], None], str, dict[str, str], float]] = [
        (lambda: sensor.on_snapshot_accepted("test-lane", 120), "dream_snapshots_ingested_total",
         {"transport": "test-lane"}, 1),
        (lambda: sensor.on_snapshot_accepted("test-lane", 120),
         "dream_snapshot_ingested_bytes_total", {}, 120),
        (lambda: sensor.on_produce_failed("queue_full"), "dream_produce_errors_total",
         {"reason": "queue_full"}, 1),
        (lambda: sensor.on_receipts_dropped(5), "dream_receipts_dropped_total", {}, 5),
        (lambda: sensor.on_batch_stored(3, 40), "dream_process_rows_written_total", {}, 40),
        (lambda: sensor.on_batch_stored(3, 40), "dream_worker_batch_snapshots_count", {}, 1),
        (lambda: sensor.on_batch_written(3, 0.02), "dream_worker_commit_duration_seconds_count",
         {}, 1),
        (lambda: sensor.on_snapshot_stored("failed", None, None, {}),
         "dream_snapshots_stored_total", {"status": "failed"}, 1),
        (lambda: sensor.on_snapshot_stored("failed", None, None, {}),
         "dream_parse_failures_total", {"format": "unknown"}, 1),
        (lambda: sensor.on_rows_skipped("tasklist", 3), "dream_parse_skipped_rows_total",
         {"format": "tasklist"}, 3),
        (lambda: sensor.on_rows_skipped(None, 1), "dream_parse_skipped_rows_total",
         {"format": "unknown"}, 1),
        (lambda: sensor.on_dead_lettered("parse"), "dream_dlq_messages_total",
         {"reason": "parse"}, 1),
        (lambda: sensor.on_clock_skew(-90.0), "dream_clock_skew_seconds_sum", {}, 90),
        (lambda: sensor.on_request("/v1/x", "GET", 200, 0.01),
         "dream_http_request_duration_seconds_count",
         {"route": "/v1/x", "method": "GET", "status": "200"}, 1),
    ]  # fmt: skip
    for report, name, labels, delta in counters:
        before = sample(name, **labels)
        report()
        assert sample(name, **labels) - before == delta, name

    sensor.on_consumer_lag("snapshots-test", 3, 17)
    assert sample("dream_consumer_lag_messages", topic="snapshots-test", partition="3") == 17
    sensor.watch_breaker(lambda: "half-open")
    assert sample("dream_circuit_breaker_state") == 1
    sensor.watch_pool(lambda: {"pool_size": 4, "pool_available": 3})
    assert (sample("dream_db_pool_connections", state="size"),
            sample("dream_db_pool_connections", state="idle"),
            sample("dream_db_pool_connections", state="waiting")) == (4, 3, 0)  # fmt: skip


class Recording(Sensor):
    """Notes the events it is told of."""

    def __init__(self, name: str, journal: list[tuple[str, object]]) -> None:
        self.name = name
        self.journal = journal

    def on_snapshot_accepted(self, transport: str, output_bytes: int) -> None:
        self.journal.append((self.name, ("accepted", transport, output_bytes)))

    def on_snapshot_stored(
        self, status: str, format: str | None, trace: object, details: Mapping[str, object]
    ) -> None:
        self.journal.append((self.name, ("stored", status, dict(details))))

    def on_rows_skipped(self, format: str | None, rows: int) -> None:
        self.journal.append((self.name, ("skipped", format, rows)))

    def parsing(self, snapshot_id: uuid.UUID, trace: object):  # type: ignore[no-untyped-def]
        journal, name = self.journal, self.name

        class Context:
            def __enter__(self) -> Callable[[str | None, int], None]:
                journal.append((name, "parse begins"))
                return lambda format, processes: journal.append((name, (format, processes)))

            def __exit__(self, *exc: object) -> None:
                journal.append((name, "parse ends"))

        return Context()


def test_the_fan_out_tells_every_sensor_in_order_and_nests_their_parse_contexts() -> None:
    journal: list[tuple[str, object]] = []
    sensors = Sensors([Recording("a", journal), NULL_SENSOR, Recording("b", journal)])
    sensors.on_snapshot_accepted("direct", 9)
    sensors.on_snapshot_stored("stored", "ps-aux", None, {"host": "lab-1"})
    sensors.on_rows_skipped("ps-aux", 2)
    sensors.on_dead_lettered("parse")  # nobody here counts it: inherited no-ops
    with sensors.parsing(uuid.uuid4(), None) as notes:
        notes("ps-aux", 12)
    assert journal == [
        ("a", ("accepted", "direct", 9)), ("b", ("accepted", "direct", 9)),
        ("a", ("stored", "stored", {"host": "lab-1"})),
        ("b", ("stored", "stored", {"host": "lab-1"})),
        ("a", ("skipped", "ps-aux", 2)), ("b", ("skipped", "ps-aux", 2)),
        ("a", "parse begins"), ("b", "parse begins"),
        ("a", ("ps-aux", 12)), ("b", ("ps-aux", 12)),
        ("b", "parse ends"), ("a", "parse ends"),
    ]  # fmt: skip


def test_the_telemetry_setting_chooses_the_sensor() -> None:
    assert sensor_for("off") is NULL_SENSOR
    on = sensor_for("on")
    assert isinstance(on, Sensors)
    assert [type(s) for s in on.sensors] == [PrometheusSensor, TracingSensor]
    with NULL_SENSOR.parsing(uuid.uuid4(), None) as notes:
        notes("ps-aux", 1)  # telemetry off: the notes go nowhere, the parse runs as ever


def test_the_hot_paths_report_through_a_sensor_only() -> None:
    """No metric globals, no telemetry flag in the worker, transport, storage and web code
    (but web/app.py, the api's composition: with telemetry off it has no request middleware)."""
    offences = []
    for package in ("worker", "transport", "storage", "web"):
        for path in sorted((SRC / package).rglob("*.py")):
            if path == SRC / "web" / "app.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module in (
                    "dream.observability.metrics", "prometheus_client"
                ) and not (package == "web" and path.name == "metrics.py"):  # GET /metrics
                    offences.append(f"{path.name}: imports {node.module}")
                if isinstance(node, ast.Attribute | ast.Name | ast.arg):
                    name = getattr(node, "attr", None) or getattr(node, "id", None) or node.arg
                    if name == "telemetry":
                        offences.append(f"{path.name}:{node.lineno}: branches on telemetry")
    assert offences == []


def test_the_tracing_sensor_hangs_the_workers_spans_from_the_delivered_trace() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from dream.observability.tracing import configure_tracing, inject_headers, tracer

    configure_tracing("dream-test")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracer().start_as_current_span("POST /v1/snapshots") as request:
        headers = inject_headers()  # what the delivery carries to the worker
    api_trace = request.get_span_context().trace_id

    sensor = TracingSensor()
    snapshot_id = uuid.uuid4()
    with sensor.parsing(snapshot_id, headers) as notes:
        notes("ps-aux", 12)
    sensor.on_batch_written(1, 0.05)
    sensor.on_snapshot_stored("stored", "ps-aux", headers, {"snapshot_id": str(snapshot_id)})
    spans.shutdown()

    by_name = {s.name: s for s in spans.get_finished_spans()}
    parse, write, stored = (by_name[n] for n in ("parse snapshot", "write batch", "snapshot stored"))
    assert parse.context is not None and stored.context is not None
    assert parse.context.trace_id == stored.context.trace_id == api_trace
    assert dict(parse.attributes or {}) == {
        "dream.snapshot_id": str(snapshot_id), "dream.format": "ps-aux", "dream.processes": 12
    }  # fmt: skip
    assert write.attributes == {"dream.snapshots": 1}
    assert write.end_time is not None and write.start_time is not None
    assert abs((write.end_time - write.start_time) / 1e9 - 0.05) < 0.001
