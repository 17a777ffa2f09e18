"""The Kafka transport: an idempotent producer (api), a consumer group (worker), replay."""
