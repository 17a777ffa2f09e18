"""Topic administration: the snapshot topic and its dead-letter topic exist before use."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dream.errors import TransportError
from dream.settings import Settings
from dream.transport.kafka.client import client_config


def ensure_topics(settings: Settings, timeout_s: float = 15.0) -> None:
    """Create the snapshot topic and its dead-letter topic if they do not exist."""
    admin = AdminClient(client_config(settings, "admin"))
    config = {"max.message.bytes": str(settings.kafka_max_message_bytes)}
    wanted = [
        NewTopic(
            topic,
            num_partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            config=config,
        )
        for topic in (settings.kafka_topic, settings.kafka_dlq_topic)
    ]
    for topic, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TransportError(f"could not create topic {topic}: {exc}") from exc


def consumer_lag(s: Settings, timeout_s: float = 5.0) -> dict[str, int]:
    """Messages not yet committed by the worker group, per partition of the snapshot topic."""
    consumer = Consumer(client_config(s, "status"))
    try:
        metadata = consumer.list_topics(s.kafka_topic, timeout=timeout_s)
        partitions = sorted(metadata.topics[s.kafka_topic].partitions)
        committed = consumer.committed(
            [TopicPartition(s.kafka_topic, p) for p in partitions], timeout=timeout_s
        )
        lag: dict[str, int] = {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
            position = tp.offset if tp.offset >= 0 else low
            lag[f"{tp.topic}/{tp.partition}"] = max(0, high - position)
        return lag
    finally:
        consumer.close()
