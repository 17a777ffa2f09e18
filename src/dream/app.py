"""The app object: settings in, database and pipeline ends out. The CLI and api are thin on top."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

import structlog
from typing import TYPE_CHECKING

from dream.errors import ConfigurationError
from dream.observability.sensors import Sensor, sensor_for
from dream.transport.base import Publisher, Source
from dream.transport.direct import DirectTransport
from dream.settings import Settings
from dream.snapshots import ClockWindow
from dream.storage.database import Database
from dream.storage.migrate import migrate
from dream.storage.partitions import PartitionManager
from dream.storage.writer import SnapshotWriter
from dream.security.auth import FAILURES, Authenticator
from dream.security.keys import KeyStore
from dream.security.oidc import OidcConfig, OidcVerifier
from dream.security.pii import Scrubber
from dream.security.ratelimit import RateLimiter, parse_limits
from dream.worker.health import Progress
from dream.worker.runner import Worker

if TYPE_CHECKING:
    from dream.blobs.raw import RawOutputs

log = structlog.get_logger(__name__)


class Dream:
    """One Dream deployment as seen from one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._database_url: str | None = None
        self._db: Database | None = None
        self._analytics_db: Database | None = None
        self._direct: DirectTransport | None = None

    @property
    def database_url(self) -> str:
        """The configured database, or the embedded one (started on first use)."""
        if self._database_url is None:
            if self.settings.database_url is not None:
                self._database_url = self.settings.database_url.get_secret_value()
            else:
                from dream.storage.embedded import start_embedded_postgres

                log.info("starting embedded PostgreSQL", pgdata=str(self.settings.embedded_pgdata))
                self._database_url = start_embedded_postgres(self.settings.embedded_pgdata)
        return self._database_url

    def migrate(self) -> list[str]:
        return [f"{m.version:04d}_{m.name}" for m in migrate(self.database_url)]

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.database_url, pool_size=self.settings.db_pool_size)
            self._db.open(sensor=self.sensor)
        return self._db

    @property
    def analytics_db(self) -> Database:
        """The analytics pool: its own connections, so slow questions never starve ingestion,
        key checks or status; each statement cancelled after DREAM_QUERY_TIMEOUT_S."""
        if self._analytics_db is None:
            s = self.settings
            self._analytics_db = Database(self.database_url, pool_size=s.analytics_pool_size,
                                          name="dream-analytics",
                                          statement_timeout_s=s.query_timeout_s)  # fmt: skip
            self._analytics_db.open()
        return self._analytics_db

    def _direct_transport(self) -> DirectTransport:
        if self._direct is None:
            s = self.settings
            self._direct = DirectTransport(
                self.db, max_batch_bytes=s.batch_max_bytes, max_in_flight=s.max_in_flight,
                breaker_failures=s.breaker_failures, breaker_reset_s=s.breaker_reset_s,
            )  # fmt: skip
        return self._direct

    def publisher(self) -> Publisher:
        if self.settings.transport == "direct":
            return self._direct_transport()
        from dream.transport.kafka.admin import ensure_topics
        from dream.transport.kafka.publisher import KafkaPublisher

        ensure_topics(self.settings)
        return KafkaPublisher(self.settings, self.sensor)

    def source(self) -> Source:
        if self.settings.transport == "direct":
            return self._direct_transport()
        from dream.transport.kafka.admin import ensure_topics
        from dream.transport.kafka.source import KafkaSource

        ensure_topics(self.settings)
        return KafkaSource(self.settings, self.sensor)

    def worker(self, source: Source | None = None) -> Worker:
        return Worker(
            source or self.source(),
            self.db,
            batch_size=self.settings.batch_size,
            batch_wait_s=self.settings.batch_wait_s,
            rebalance_wait_s=self.settings.rebalance_wait_s,
            # No partition for months the api would refuse: their number stays bounded.
            writer=SnapshotWriter(PartitionManager(self.clock_window)),
            scrubber=self.scrubber,
            raw=self.raw_outputs,
            sensor=self.sensor,
            progress=Progress(self.settings.worker_stuck_after_s),
        )

    @cached_property
    def sensor(self) -> Sensor:
        """What telemetry sees (DREAM_TELEMETRY): Prometheus and spans, or nothing."""
        return sensor_for(self.settings.telemetry)

    @cached_property
    def clock_window(self) -> ClockWindow:
        """The collected_at the api accepts (DREAM_MAX_CLOCK_SKEW, DREAM_MAX_SNAPSHOT_AGE)."""
        return ClockWindow(self.settings.max_clock_skew, self.settings.max_snapshot_age)

    @cached_property
    def raw_outputs(self) -> RawOutputs:
        """Raw outputs in the blob store (S3 if DREAM_S3_BUCKET is set, else data_dir/blobs)."""
        from dream.blobs.raw import RawOutputs

        return RawOutputs(self.settings)

    @cached_property
    def scrubber(self) -> Scrubber:
        """The PII scrubber, with the HMAC key from settings or generated once under data_dir."""
        mode = self.settings.pii_mode
        if mode != "pseudonymize":
            return Scrubber(mode)
        if self.settings.pii_key is not None:
            return Scrubber(mode, self.settings.pii_key.get_secret_value().encode())
        return Scrubber(mode, _local_pii_key(self.settings.data_dir))

    @cached_property
    def keys(self) -> KeyStore:
        return KeyStore(self.db, self.settings.key_cache_s,
                        stale_s=self.settings.key_cache_stale_s)  # fmt: skip

    def authenticator(self) -> Authenticator:
        s = self.settings
        oidc = None
        if s.oidc_issuer and s.oidc_audience and s.oidc_jwks_url:
            oidc = OidcVerifier(OidcConfig(s.oidc_issuer, s.oidc_audience, s.oidc_jwks_url,
                                           s.oidc_role_claim,
                                           jwks_timeout_s=s.oidc_jwks_timeout_s))  # fmt: skip
        return Authenticator(
            self.keys,
            enabled=s.auth == "on",
            oidc=oidc,
            limiter=RateLimiter(parse_limits(s.rate_limits)),
            failures=RateLimiter(parse_limits(f"{FAILURES}={s.auth_failure_limit}")),
        )

    def bootstrap(self) -> None:
        """Register DREAM_BOOTSTRAP_ADMIN_KEY (idempotent), for automation."""
        if self.settings.bootstrap_admin_key is not None:
            token = self.settings.bootstrap_admin_key.get_secret_value()
            self.keys.create("bootstrap admin", "admin", token=token)

    def require_kafka(self) -> None:
        if self.settings.transport != "kafka":
            raise ConfigurationError(
                "DREAM_KAFKA_BOOTSTRAP is not set: the api and worker run separately only over"
                " Kafka; use `dream serve` for the single-process default"
            )

    def close(self) -> None:
        if self._analytics_db is not None:
            self._analytics_db.close()
            self._analytics_db = None
        if self._db is not None:
            self._db.close()
            self._db = None


def _local_pii_key(data_dir: Path) -> bytes:
    """This machine's pseudonym key, created on first use (mode 0600)."""
    path = data_dir / "pii.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        log.warning("DREAM_PII_KEY is not set: using a key generated in the data directory;"
                    " every worker of a deployment must share one key", path=str(path))  # fmt: skip
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip().encode()
