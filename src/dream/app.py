"""The app object: settings in, database and pipeline ends out. The CLI and api are thin on top."""

from __future__ import annotations

import structlog

from dream.errors import ConfigurationError
from dream.pipeline.base import Publisher, Source
from dream.pipeline.direct import DirectPipeline
from dream.settings import Settings
from dream.storage.database import Database
from dream.storage.migrate import migrate
from dream.worker.runner import Worker

log = structlog.get_logger(__name__)


class Dream:
    """One Dream deployment as seen from one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._database_url: str | None = None
        self._db: Database | None = None
        self._direct: DirectPipeline | None = None

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
            self._db.open()
        return self._db

    def _direct_pipeline(self) -> DirectPipeline:
        if self._direct is None:
            self._direct = DirectPipeline(self.db)
        return self._direct

    def publisher(self) -> Publisher:
        if self.settings.transport == "direct":
            return self._direct_pipeline()
        from dream.pipeline.kafka import KafkaPublisher, ensure_topics

        ensure_topics(self.settings)
        return KafkaPublisher(self.settings)

    def source(self) -> Source:
        if self.settings.transport == "direct":
            return self._direct_pipeline()
        from dream.pipeline.kafka import KafkaSource, ensure_topics

        ensure_topics(self.settings)
        return KafkaSource(self.settings)

    def worker(self, source: Source | None = None) -> Worker:
        return Worker(
            source or self.source(),
            self.db,
            batch_size=self.settings.batch_size,
            batch_wait_s=self.settings.batch_wait_s,
            rebalance_wait_s=self.settings.rebalance_wait_s,
        )

    def require_kafka(self) -> None:
        if self.settings.transport != "kafka":
            raise ConfigurationError(
                "DREAM_KAFKA_BOOTSTRAP is not set: the api and worker run separately only over"
                " Kafka; use `dream serve` for the single-process default"
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
