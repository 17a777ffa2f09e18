"""Runtime settings, read from ``DREAM_*`` environment variables (pydantic-settings).

Settings come in sections, one per part of Dream (database, kafka, api, worker, blobs, security,
telemetry); ``Settings`` is all of them. A section reads only its own variables, so a part can
ask for just the section it uses (the Kafka client factory takes ``KafkaSettings``). Variable
names stay flat: ``DREAM_KAFKA_TOPIC``, not ``DREAM_KAFKA__TOPIC``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class FileEnvSettingsSource(PydanticBaseSettingsSource):
    """``DREAM_<NAME>_FILE=/run/secrets/x``: the value is that file's content (newline trimmed)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"DREAM_{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n"), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


def _seconds_or_iso(value: Any) -> Any:
    """``DREAM_X=86400`` means seconds; anything else (``P1D``, ``PT36H``) is left to pydantic."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


class _Section(BaseSettings):
    """What every section shares: the ``DREAM_`` prefix and where values come from."""

    model_config = SettingsConfigDict(env_prefix="DREAM_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit values, then DREAM_X, then DREAM_X_FILE (the Docker/Kubernetes secrets way).
        return (init_settings, env_settings, FileEnvSettingsSource(settings_cls), dotenv_settings)


class DatabaseSettings(_Section):
    """Where data lives, and how the analytics read it."""

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset → embedded PostgreSQL under data_dir."
    )
    data_dir: Path = Field(default=Path(".dream"), description="Embedded database and local state.")
    db_pool_size: int = Field(default=4, ge=1, le=64)
    analytics_pool_size: int = Field(
        default=4, ge=1, le=64,
        description="Connections of the analytics pool, apart from ingestion's and the worker's.",
    )
    query_timeout_s: float = Field(
        default=30.0, gt=0, description="An analytics query running longer is cancelled → 503."
    )
    raw_window_max_days: float = Field(
        default=366.0, gt=0,
        description="`from`/`to` not on whole hours read raw rows: at most this far apart.",
    )
    raw_retention_days: int | None = Field(
        default=None, ge=1,
        description="`dream gc` removes raw outputs older than this from the blob store (what"
        " `dream reprocess` re-parses); per-sample rows: DREAM_RAW_ROWS_RETENTION_DAYS.",
    )

    @cached_property
    def embedded_pgdata(self) -> Path:
        return (self.data_dir / "pgdata").resolve()


class KafkaSettings(_Section):
    """The transport: Kafka, or PostgreSQL as the queue (direct)."""

    transport: Literal["kafka", "direct"] = Field(
        default="direct",
        description="kafka: a topic and a consumer group (needs kafka_bootstrap); direct:"
        " PostgreSQL is the queue (one process). Unset: kafka when kafka_bootstrap is set.",
    )
    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset → in-process direct pipeline."
    )
    kafka_topic: str = "dream.snapshots"
    kafka_dlq_topic: str = "dream.snapshots.dlq"
    kafka_group: str = "dream-workers"
    kafka_partitions: int = Field(default=6, ge=1, description="Partitions when Dream creates the topic.")
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_produce_timeout_s: float = Field(default=10.0, gt=0, description="Max wait for acks=all.")
    kafka_max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024 * 1024)
    kafka_session_timeout_ms: int = Field(
        default=45_000, ge=1000, description="A worker silent this long leaves the group."
    )
    kafka_max_poll_interval_ms: int = Field(
        default=300_000, ge=1000, description="A worker not polling this long leaves the group."
    )

    kafka_security_protocol: str | None = Field(default=None, examples=["SASL_SSL"])
    kafka_sasl_mechanism: str | None = Field(default=None, examples=["SCRAM-SHA-512"])
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None

    def kafka_client_config(self) -> dict[str, str]:
        """Security options shared by every Kafka client (SASL/SSL when configured)."""
        config: dict[str, str] = {}
        if self.kafka_security_protocol:
            config["security.protocol"] = self.kafka_security_protocol
        if self.kafka_sasl_mechanism:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username:
            config["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password:
            config["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_ca_location:
            config["ssl.ca.location"] = self.kafka_ssl_ca_location
        return config

    @model_validator(mode="before")
    @classmethod
    def _transport_follows_bootstrap(cls, data: Any) -> Any:
        """No DREAM_TRANSPORT: Kafka exactly when brokers are named (as before it existed)."""
        if isinstance(data, dict) and not data.get("transport"):  # unset or empty
            return {**data, "transport": "kafka" if data.get("kafka_bootstrap") else "direct"}
        return data

    @model_validator(mode="after")
    def _kafka_needs_brokers(self) -> Self:
        if self.transport == "kafka" and not self.kafka_bootstrap:
            raise ValueError(
                "DREAM_TRANSPORT=kafka needs DREAM_KAFKA_BOOTSTRAP (the brokers, host:port,...);"
                " set it, or choose DREAM_TRANSPORT=direct"
            )
        return self


class ApiSettings(_Section):
    """The HTTP api: where it listens, what it accepts, how it sheds load."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_snapshot_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_clock_skew: Duration = Field(
        default=timedelta(days=1), gt=timedelta(0),
        description="collected_at further ahead of the api's clock → 422 (seconds or ISO 8601: P1D).",
    )
    max_snapshot_age: Duration = Field(
        default=timedelta(days=400), gt=timedelta(0),
        description="collected_at older than this → 422 (a spool drained after weeks offline"
        " and last year's listings still fit the default).",
    )
    max_in_flight: int = Field(
        default=256, ge=1, description="Posts being read or produced at once; beyond → 503."
    )
    max_in_flight_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024,
        description="Bytes of the bodies of those posts, in all; beyond → 503 (never below"
        " DREAM_MAX_SNAPSHOT_BYTES: the largest post can always pass alone).",
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="A post's whole body must arrive within this; else 408."
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive produce failures that open the circuit."
    )
    breaker_reset_s: float = Field(
        default=5.0, gt=0, description="Open circuit: time before probing the broker again."
    )
    shutdown_timeout_s: float = Field(
        default=30.0, gt=0, description="SIGTERM: the api's longest wait for requests in progress."
    )
    calendar_file: Path | None = Field(
        default=None,
        description="The academic calendar (TOML: the campus time zone, terms, teaching and exam"
        " weeks, holidays; docs/analytics.md) for `term=` and `bucket=term|teaching_week`;"
        " the api loads it at start and refuses to start on a bad one.",
    )


class WorkerSettings(_Section):
    """The worker: batches, rebalances, what it stores and how it reports."""

    batch_size: int = Field(
        default=1000, ge=1, le=10_000,
        description="Snapshots per transaction (a running session is rewritten once per batch).",
    )
    batch_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1,
        description="A batch also closes at this much output (always at least one snapshot).",
    )
    batch_wait_s: float = Field(default=0.2, gt=0, description="Max wait to fill a batch.")
    rebalance_wait_s: float = Field(
        default=10.0, ge=0, description="Partitions revoked: wait for the batch being written."
    )

    default_cadence_s: float = Field(
        default=300.0, gt=0, le=86400,
        description="A snapshot that does not say its sampling interval (`interval_s`) is taken"
        " to cover this long: what its processes' sessions and hours of use are built with.",
    )
    raw_rows_retention_days: int = Field(
        default=7, ge=0,
        description="Per-sample process rows are kept this many days (0: none are written;"
        " `dream prune-raw` drops months past it); sessions and rollups are the long-term"
        " record, raw outputs stay in the blob store (DREAM_RAW_RETENTION_DAYS).",
    )

    catalog_file: Path | None = Field(
        default=None,
        description="A local product catalog merged over the built-in one (docs/catalog.md):"
        " the worker, `dream reprocess` and the api load it once at open.",
    )
    metrics_port: int = Field(
        default=9464, ge=0, le=65535,
        description="Worker's /metrics, /healthz and /readyz port (0: off).",
    )
    worker_stuck_after_s: float = Field(
        default=300.0, gt=0, description="A batch in hand this long unstored: worker not ready."
    )


class BlobSettings(_Section):
    """Raw outputs: the blob store (see dream/blobs/ and docs/operations.md "Raw outputs")."""

    store_raw: bool = Field(
        default=True, description="Keep every raw output in the blob store (needed by reprocess)."
    )
    inline_max_bytes: int = Field(
        default=256 * 1024, ge=0,
        description="With DREAM_PII_MODE=off, outputs up to this size travel inline; all others"
        " (every one while PII scrubbing is on) go to the blob store at the api.",
    )
    blob_dir: Path | None = Field(
        default=None, description="Filesystem blob store; unset → data_dir/blobs (unless S3)."
    )
    s3_bucket: str | None = Field(default=None, description="Set → raw outputs go to S3.")
    s3_endpoint_url: str | None = Field(default=None, examples=["http://minio:9000"])
    s3_region: str | None = None
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = Field(default="raw/", description="Key prefix of the content-addressed objects.")


class SecuritySettings(_Section):
    """Who may call the api, how often, and what of a listing is personal data."""

    auth: Literal["on", "off"] = Field(
        default="on",
        description="API keys required. `dream serve` with no configuration turns it off unless"
        " DREAM_AUTH is set: a laptop's loopback-only default.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        default=None, description="An admin key (dream_<12 hex>_<43 chars>) registered at start."
    )
    rate_limits: str = Field(
        default="ingest=50/s:100,query=20/s:40",
        description="Per-key token buckets by role: ROLE=RATE/UNIT:BURST, comma separated.",
    )
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "dream_roles"
    oidc_jwks_timeout_s: float = Field(
        default=3.0, gt=0, description="Longest wait for the issuer's key set (fetched in the"
        " background; a token whose key is not cached waits at most this, then 503)."
    )
    key_cache_s: float = Field(
        default=10.0, gt=0, description="Verified API keys are re-checked after this (revocations"
        " through another replica take effect within it)."
    )
    key_cache_stale_s: float = Field(
        default=3600.0, ge=0, description="Database away: keys verified within this keep working."
    )
    auth_failure_limit: str = Field(
        default="30/m:30",
        description="Failed authentications per client address: RATE/UNIT:BURST; beyond → 429.",
    )
    pii_mode: Literal["pseudonymize", "redact", "off"] = "pseudonymize"
    pii_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for user pseudonyms; unset → generated once under data_dir (one"
        " machine only: every worker of a deployment must share the same key).",
    )
    pii_epochs: list[str] = Field(
        default_factory=list, description="Pseudonym epochs, oldest first (JSON, e.g."
        ' ["2025", "2026"]): names are pseudonymized in the last; adding one cuts the linkage'
        " of everyone's rows before and after it (docs/security.md). Empty: one epoch.",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Closed unless listed.")
    min_group_users: int = Field(
        default=5, ge=1,
        description="k-anonymity floor: a `query` key is shown no answer row counting fewer"
        " distinct users (the answer says how many were withheld); 1: off.",
    )
    audit_retention_days: int = Field(
        default=400, ge=1, description="Audit trail of analytics and row requests: kept this long."
    )


class TelemetrySettings(_Section):
    """Metrics, traces and logs."""

    telemetry: Literal["on", "off"] = Field(
        default="on",
        description="Prometheus metrics, request and per-snapshot spans, per-snapshot log lines"
        " (observability/sensors.py; off: a null sensor, only for measuring their cost).",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"


class Settings(
    DatabaseSettings,
    KafkaSettings,
    ApiSettings,
    WorkerSettings,
    BlobSettings,
    SecuritySettings,
    TelemetrySettings,
):
    """Everything Dream can be told from the outside: every section.

    With neither ``database_url`` nor ``kafka_bootstrap`` set, ``dream serve`` runs the embedded
    default: a PostgreSQL under ``data_dir`` and the in-process (direct) pipeline.
    """
