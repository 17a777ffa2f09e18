"""The app object: settings in, database and pipeline ends out. The CLI and api are thin on top."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

import structlog
from typing import TYPE_CHECKING

from dream.catalog import Catalog
from dream.durable import make_dirs, write_file
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
    from dream.analytics.calendar import Calendar
    from dream.blobs.raw import RawOutputs

log = structlog.get_logger(__name__)


class NotOpenError(RuntimeError):
    """The app was used before ``open()`` (or after ``close()``): a mistake in the caller."""


class Dream:
    """One Dream deployment as seen from one process.

    Nothing starts on construction or on attribute access: ``open()`` starts the database (the
    embedded one when DREAM_DATABASE_URL is unset) and the pools this process uses, ``close()``
    closes them; ``with Dream(settings).open() as dream:`` does both.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._database_url: str | None = None
        self._db: Database | None = None
        self._analytics_db: Database | None = None
        self._direct: DirectTransport | None = None

    def open(self, *, write: bool = True, analytics: bool = True) -> Dream:
        """Start the database, then the ``write`` pool (ingestion, keys, the worker) and the
        ``analytics`` pool (questions: their own connections, so slow questions never starve
        ingestion). A command that connects once (status, migrate) opens neither; what is
        already open stays. Returns the app, for ``with``."""
        try:
            if self._database_url is None:
                self._database_url = self._start_database()
            s = self.settings
            if write and self._db is None:
                db = Database(self._database_url, pool_size=s.db_pool_size)
                db.open(sensor=self.sensor)
                self._db = db
            if analytics and self._analytics_db is None:
                # Each statement cancelled after DREAM_QUERY_TIMEOUT_S.
                pool = Database(self._database_url, pool_size=s.analytics_pool_size,
                                name="dream-analytics", statement_timeout_s=s.query_timeout_s)  # fmt: skip
                pool.open()
                self._analytics_db = pool
        except BaseException:
            self.close()
            raise
        return self

    def _start_database(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        from dream.storage.embedded import start_embedded_postgres

        log.info("starting embedded PostgreSQL", pgdata=str(self.settings.embedded_pgdata))
        # It stops when the last process using it exits, not on close(): others may share it.
        return start_embedded_postgres(self.settings.embedded_pgdata)

    def __enter__(self) -> Dream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def database_url(self) -> str:
        """The configured database, or the embedded one ``open()`` started."""
        if self._database_url is None:
            raise NotOpenError("Dream is not open: call open() first (with Dream(settings).open()"
                               " as dream: ...)")  # fmt: skip
        return self._database_url

    def migrate(self) -> list[str]:
        return [f"{m.version:04d}_{m.name}" for m in migrate(self.database_url)]

    @property
    def db(self) -> Database:
        """The write pool: ingestion, keys, the worker."""
        return self._pool(self._db, "write")

    @property
    def analytics_db(self) -> Database:
        """The analytics pool (questions), so slow questions never starve ingestion."""
        return self._pool(self._analytics_db, "analytics")

    def _pool(self, db: Database | None, name: str) -> Database:
        if db is None:
            raise NotOpenError(f"Dream's {name} pool is not open: call open({name}=True) first")
        return db

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
            batch_max_bytes=self.settings.batch_max_bytes,
            rebalance_wait_s=self.settings.rebalance_wait_s,
            # No partition for months the api would refuse: their number stays bounded.
            writer=SnapshotWriter(
                PartitionManager(self.clock_window),
                default_cadence_s=self.settings.default_cadence_s,
                raw_rows_retention_days=self.settings.raw_rows_retention_days,
            ),
            scrubber=self.scrubber,
            raw=self.raw_outputs,
            sensor=self.sensor,
            progress=Progress(self.settings.worker_stuck_after_s),
            catalog=self.catalog,
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
    def catalog(self) -> Catalog:
        """The product catalog: built-in, with DREAM_CATALOG_FILE merged over it; loaded once,
        so the worker, reprocess and the api name products alike (docs/catalog.md)."""
        return Catalog.load(self.settings.catalog_file)

    @cached_property
    def calendar(self) -> Calendar | None:
        """The academic calendar (DREAM_CALENDAR_FILE), None without one; a bad file raises
        CalendarError naming what is wrong."""
        from dream.analytics.calendar import load_calendar

        return load_calendar(self.settings.calendar_file)

    @cached_property
    def scrubber(self) -> Scrubber:
        """The PII scrubber, with the HMAC key from settings or generated once under data_dir."""
        mode = self.settings.pii_mode
        if mode != "pseudonymize":
            return Scrubber(mode)
        epochs = self.settings.pii_epochs  # pseudonym epochs (security/pii.py)
        if self.settings.pii_key is not None:
            return Scrubber(mode, self.settings.pii_key.get_secret_value().encode(), epochs)
        return Scrubber(mode, _local_pii_key(self.settings.data_dir), epochs)

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
        """Close the pools; the app can be opened again. Clients made by ``publisher()`` and
        ``source()`` are their caller's to close."""
        self._direct = None
        self._database_url = None
        self.__dict__.pop("keys", None)  # its cache holds the write pool
        if self._analytics_db is not None:
            self._analytics_db.close()
            self._analytics_db = None
        if self._db is not None:
            self._db.close()
            self._db = None


def _local_pii_key(data_dir: Path) -> bytes:
    """This machine's pseudonym key, created once, on first use.

    Every pseudonym is made with it, so it is never readable by others (created 0600), it is
    durable before it is used (a key lost to a power cut would change every pseudonym after
    it), and it is never replaced: of processes starting at once on a new data directory, the
    first to link its key in place wins and the others read that one."""
    path = data_dir / "pii.key"
    if not path.exists():
        make_dirs(data_dir)
        log.warning("DREAM_PII_KEY is not set: using a key generated in the data directory;"
                    " every worker of a deployment must share one key", path=str(path))  # fmt: skip
        write_file(path, secrets.token_hex(32).encode(), replace=False)  # (the first wins)
    return path.read_text().strip().encode()
