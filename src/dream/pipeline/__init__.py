"""The transport between api and worker: Kafka, the direct (PostgreSQL-as-queue) mode, replay."""
