"""The one place confluent-kafka client configurations are made.

Every client Dream opens (the api's producer, the worker's consumer and dead-letter producer,
the replay's consumer, the topic admin, ``dream status``) starts from the same connection and
security settings, so SASL/SSL or reconnection tuning cannot be set for one and forgotten for
another. Each role then adds only what is its own.
"""

from __future__ import annotations

from typing import Any, Literal

from dream.settings import KafkaSettings

Role = Literal["api", "worker", "dead-letter", "replay", "admin", "status"]

# After a broker restart, reconnect within a second rather than librdkafka's default 10 s backoff.
_RECONNECT = {"reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000}


def client_config(settings: KafkaSettings, role: Role, **extra: Any) -> dict[str, Any]:
    """The configuration of the client playing ``role``, from the Kafka section of the settings
    alone; ``extra`` adds callbacks and the like."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap or "",
        **settings.kafka_client_config(),
        "client.id": f"dream-{role}",
        **_RECONNECT,
    }
    max_bytes = settings.kafka_max_message_bytes
    if role in ("api", "dead-letter"):
        config |= {
            "enable.idempotence": True,
            "acks": "all",
            "message.max.bytes": max_bytes,
        }
    if role == "api":
        config |= {
            "compression.type": "zstd",
            "linger.ms": 5,
            "message.timeout.ms": int(settings.kafka_produce_timeout_s * 1000),
            # Bounded: a full queue is a 503, never unbounded memory.
            "queue.buffering.max.kbytes": 256 * 1024,
        }
    elif role == "dead-letter":
        config["message.timeout.ms"] = 30_000
    elif role in ("worker", "replay", "status"):
        config |= {
            "group.id": settings.kafka_group,
            "enable.auto.commit": False,
            "max.partition.fetch.bytes": max_bytes,
            "fetch.max.bytes": 4 * max_bytes,
            "auto.offset.reset": "earliest",
        }
    if role == "worker":
        config |= {
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": settings.kafka_session_timeout_ms,
            "max.poll.interval.ms": settings.kafka_max_poll_interval_ms,
        }
    return config | extra
