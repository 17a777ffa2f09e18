"""Metrics, logs and traces of one snapshot's trip: api → Kafka → worker → PostgreSQL."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

import services
from dream.app import Dream
from dream.web.app import create_app
from dream.logs import configure_logging
from dream.observability.server import MetricsServer
from dream.observability.tracing import configure_tracing
from dream.settings import Settings
from helpers import beside_a_worker, live_ps_aux, snapshot_body, wait_for

MARKER = "ZQX-raw-text-marker-7781"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, kafka_bootstrap=kafka_bootstrap, kafka_partitions=2,
                    batch_wait_s=0.05, data_dir=tmp_path, **kafka_names)  # fmt: skip


def assert_build_info(exposition: str) -> None:
    """``dream_build_info{version, python} 1``, as the Prometheus text format prints it."""
    import platform

    import dream

    labels = f'python="{platform.python_version()}",version="{dream.__version__}"'
    assert f"dream_build_info{{{labels}}} 1.0" in exposition


def assert_correlated(accepted: dict, stored: dict) -> None:
    """OpenTelemetry log correlation: one trace, each line with its own span, sampled."""
    assert accepted["trace_id"] == stored["trace_id"] and len(stored["trace_id"]) == 32
    for line in (accepted, stored):
        assert len(line["span_id"]) == 16 and int(line["span_id"], 16) != 0
        assert len(line["trace_flags"]) == 2 and int(line["trace_flags"], 16) & 0x01  # sampled
    assert accepted["span_id"] != stored["span_id"]


def test_one_snapshot_shows_in_metrics_logs_and_one_trace(settings: Settings) -> None:
    logs = io.StringIO()
    configure_logging("json", "info", service="dream-test", file=logs)
    configure_tracing("dream-test")
    good = snapshot_body(live_ps_aux())
    # Not ASCII: the bytes metric counts UTF-8 bytes, not characters.
    bad = snapshot_body(f"{MARKER} is not a listing\nnor is this: Überblick │\n", host="eng-lab-09")
    names = ("dream_snapshots_ingested_total", "dream_snapshot_ingested_bytes_total",
             "dream_process_rows_written_total", "dream_snapshots_stored_total",
             "dream_parse_failures_total", "dream_dlq_messages_total")  # fmt: skip
    before = {
        "ingested": sample(names[0], transport="kafka"), "bytes": sample(names[1]),
        "rows": sample(names[2]), "stored": sample(names[3], status="stored"),
        "failed": sample(names[3], status="failed"), "parse": sample(names[4], format="ps-aux"),
        "dlq": sample(names[5], reason="parse"),
    }  # fmt: skip
    dream = Dream(settings).open()
    worker_dream = Dream(settings).open()
    worker = worker_dream.worker()
    metrics = MetricsServer(services.free_port(), host="127.0.0.1").start()
    thread = threading.Thread(target=worker.run, daemon=True)
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            for body in (good, bad):
                assert client.post("/v1/snapshots", json=body).status_code == 202
            thread.start()
            wait_for(lambda: client.get(f"/v1/snapshots/{bad['snapshot_id']}").json()["status"]
                     == "failed", what="the bad snapshot settled")  # fmt: skip
            state = wait_for(lambda: (s := client.get(f"/v1/snapshots/{good['snapshot_id']}")
                                      .json())["status"] == "stored" and s)  # fmt: skip
            api_metrics = client.get("/metrics").text
        worker_metrics = httpx.get(f"http://127.0.0.1:{metrics.port}/metrics").text
        assert httpx.get(f"http://127.0.0.1:{metrics.port}/healthz").status_code == 200
    finally:
        worker.stop()
        thread.join(timeout=30)
        worker.source.close()
        metrics.stop()
        dream.close()
        worker_dream.close()
        configure_logging()

    # Counter deltas, as Prometheus would see them.
    assert sample(names[0], transport="kafka") - before["ingested"] == 2
    sent = sum(len(body["output"].encode()) for body in (good, bad))
    assert sample(names[1]) - before["bytes"] == sent
    assert sample(names[2]) - before["rows"] == state["process_count"]
    assert sample(names[3], status="stored") - before["stored"] == 1
    assert sample(names[3], status="failed") - before["failed"] == 1
    assert sample(names[4], format="ps-aux") - before["parse"] == 1  # the command said ps aux
    assert sample(names[5], reason="parse") - before["dlq"] == 1
    assert 'dream_http_request_duration_seconds_count{method="POST",route="/v1/snapshots",status="202"}' in api_metrics
    assert "dream_process_rows_written_total" in worker_metrics
    for exposition in (api_metrics, worker_metrics):
        assert_build_info(exposition)

    # One trace from the api's request to the worker's rows.
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    accepted = next(e for e in lines if e["event"] == "snapshot accepted"
                    and e["snapshot_id"] == good["snapshot_id"])  # fmt: skip
    stored = next(e for e in lines if e["event"] == "snapshot stored"
                  and e["snapshot_id"] == good["snapshot_id"])  # fmt: skip
    assert accepted["trace_id"] == stored["trace_id"] and len(stored["trace_id"]) == 32
    assert_correlated(accepted, stored)
    assert accepted["service"] == "dream-test" and accepted["request_id"]
    assert {"topic", "partition", "offset"} <= set(stored)
    # The failure is logged with its reason, never with the raw text.
    failed = next(e for e in lines if e["event"] == "snapshot stored"
                  and e["snapshot_id"] == bad["snapshot_id"])  # fmt: skip
    assert failed["status"] == "failed" and failed["error"].startswith("line 1: ")
    assert MARKER not in logs.getvalue()


def test_dream_serve_logs_one_trace_from_the_api_to_the_embedded_worker(
    database_url: str, tmp_path: Path
) -> None:
    """Direct mode (``dream serve``): no message headers carry the trace, the pipeline does."""
    logs = io.StringIO()
    configure_logging("json", "info", service="dream-test", file=logs)
    configure_tracing("dream-test")
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05)).open()
    body = snapshot_body(live_ps_aux())
    try:
        with beside_a_worker(dream) as app, TestClient(app) as client:
            assert client.post("/v1/snapshots", json=body).status_code == 202
            wait_for(lambda: client.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"]
                     == "stored", what="the snapshot stored")  # fmt: skip
            assert_build_info(client.get("/metrics").text)
    finally:
        dream.close()
        configure_logging()
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    accepted, stored = (next(e for e in lines if e["event"] == event
                             and e.get("snapshot_id") == body["snapshot_id"])
                        for event in ("snapshot accepted", "snapshot stored"))  # fmt: skip
    assert_correlated(accepted, stored)


def test_request_id_is_echoed_and_generated(database_url: str, tmp_path: Path) -> None:
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path)).open()
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:
        assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
        generated = client.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"}).headers["x-request-id"]
        assert len(generated) == 32 and generated.isalnum()
    dream.close()


def test_dream_status_reports_lag_and_counts(settings: Settings) -> None:
    import subprocess
    import sys

    env = {"DREAM_DATABASE_URL": settings.database_url.get_secret_value(),  # type: ignore[union-attr]
           "DREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
           "DREAM_KAFKA_TOPIC": settings.kafka_topic, "DREAM_KAFKA_GROUP": settings.kafka_group}  # fmt: skip
    dream = Dream(settings).open()
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:
        for _ in range(3):
            assert client.post("/v1/snapshots", json=snapshot_body(live_ps_aux())).status_code == 202
    dream.close()
    import os

    result = subprocess.run([sys.executable, "-m", "dream", "status", "--json"],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=60)  # fmt: skip
    report = json.loads(result.stdout)
    assert report["database"] == "ok" and report["pending"] == 0 and report["stored"] == 0
    assert report["total_lag"] == 3  # nothing consumed yet: all three wait
    assert result.returncode == 0
