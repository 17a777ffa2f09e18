"""Prometheus metrics: one place that names them all, so dashboards and alerts can rely on them."""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram, Info

from dream import __version__

# both ------------------------------------------------------------------------------------------
# dream_build_info{version, python} 1: which build each api and worker runs (mixed versions in a
# rolling upgrade show up at a glance; join on it to split any series by version).
BUILD_INFO = Info("dream_build", "The Dream build this process runs.")
BUILD_INFO.info({"version": __version__, "python": platform.python_version()})

# api ---------------------------------------------------------------------------------------------
HTTP_REQUEST_SECONDS = Histogram(
    "dream_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SNAPSHOTS_INGESTED = Counter(
    "dream_snapshots_ingested_total", "Snapshots accepted (202) by the api.", ["transport"]
)
SNAPSHOT_INGESTED_BYTES = Counter(  # Prometheus naming: the unit before _total
    "dream_snapshot_ingested_bytes_total", "Bytes of raw output accepted by the api."
)
CLOCK_SKEW = Histogram(
    "dream_clock_skew_seconds",
    "How far a collector's clock (its Date header) is from the api's, either way.",
    buckets=(1, 5, 30, 60, 300, 3600, 6 * 3600, 86400, 7 * 86400),
)
PRODUCE_ERRORS = Counter(
    "dream_produce_errors_total", "Snapshots the pipeline refused or failed to take.", ["reason"]
)
SNAPSHOTS_OPTED_OUT = Counter(
    "dream_snapshots_opted_out_total",
    "Snapshots answered 202 and dropped unkept: their user or host opted out (docs/security.md).",
    ["reason"],
)
RECEIPTS_DROPPED = Counter(
    "dream_receipts_dropped_total",
    "Receipts of accepted snapshots not recorded (queue full or database away); those snapshots"
    " may answer 404 on other replicas until stored.",
)
FLEET_HOSTS = Gauge(
    "dream_fleet_hosts",
    "Hosts by fleet status (reporting, late, silent: thresholds from each host's cadence, see"
    " docs/agent.md, 'Fleet health'); every api replica reports the same counts.",
    ["status"],
)
CIRCUIT_STATE = Gauge(
    "dream_circuit_breaker_state", "Producer circuit breaker: 0 closed, 1 half-open, 2 open."
)

# worker ------------------------------------------------------------------------------------------
CONSUMER_LAG = Gauge(
    "dream_consumer_lag_messages",
    "Messages between the group's position and the end of the partition.",
    ["topic", "partition"],
)
BATCH_SNAPSHOTS = Histogram(
    "dream_worker_batch_snapshots",
    "Snapshots per worker batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
BATCH_COMMIT_SECONDS = Histogram(
    "dream_worker_commit_duration_seconds",
    "Time to write and commit one batch to PostgreSQL.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SNAPSHOTS_STORED = Counter(
    "dream_snapshots_stored_total", "Snapshots made final by the worker.", ["status"]
)
PARSE_FAILURES = Counter(
    "dream_parse_failures_total", "Snapshots whose output could not be parsed.", ["format"]
)
PARSE_SKIPPED_ROWS = Counter(
    "dream_parse_skipped_rows_total",
    "Lines of stored listings the parser could not read (kept in the snapshot's skipped_rows).",
    ["format"],
)
ROWS_WRITTEN = Counter("dream_process_rows_written_total", "Process rows written with COPY.")
DLQ_MESSAGES = Counter(
    "dream_dlq_messages_total", "Messages sent to the dead-letter topic.", ["reason"]
)
DB_POOL_CONNECTIONS = Gauge(
    "dream_db_pool_connections", "Database pool connections by state.", ["state"]
)
