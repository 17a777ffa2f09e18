"""Runtime settings, read from ``DREAM_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Dream can be told from the outside.

    With neither ``database_url`` nor ``kafka_bootstrap`` set, ``dream serve`` runs the embedded
    default: a PostgreSQL under ``data_dir`` and the in-process (direct) pipeline.
    """

    model_config = SettingsConfigDict(env_prefix="DREAM_", extra="ignore")

    # Where data lives
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset → embedded PostgreSQL under data_dir."
    )
    data_dir: Path = Field(default=Path(".dream"), description="Embedded database and local state.")
    db_pool_size: int = Field(default=4, ge=1, le=64)

    # Transport
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

    # API
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_snapshot_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_in_flight: int = Field(
        default=256, ge=1, description="Posts being read or produced at once; beyond → 503."
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

    # Worker
    batch_size: int = Field(default=200, ge=1, le=10_000, description="Snapshots per transaction.")
    batch_wait_s: float = Field(default=0.2, gt=0, description="Max wait to fill a batch.")
    rebalance_wait_s: float = Field(
        default=10.0, ge=0, description="Partitions revoked: wait for the batch being written."
    )

    metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Worker's /metrics and /healthz port (0: off)."
    )

    # Analytics
    raw_retention_days: int | None = Field(
        default=None, ge=1,
        description="`dream prune-raw` drops raw process partitions older than this (rollups stay).",
    )

    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"

    @property
    def transport(self) -> Literal["kafka", "direct"]:
        return "kafka" if self.kafka_bootstrap else "direct"

    @cached_property
    def embedded_pgdata(self) -> Path:
        return (self.data_dir / "pgdata").resolve()
