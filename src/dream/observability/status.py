"""``dream status``: what an operator asks first — is ingestion keeping up, and if not, why."""

from __future__ import annotations

from typing import Any

import psycopg

from dream.app import Dream


def consumer_lag(dream: Dream, timeout_s: float = 5.0) -> dict[str, int]:
    """Messages not yet committed by the worker group, per partition of the snapshot topic."""
    from confluent_kafka import Consumer, TopicPartition

    from dream.transport.kafka.client import client_config

    s = dream.settings
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


def pipeline_status(dream: Dream) -> dict[str, Any]:
    report: dict[str, Any] = {"transport": dream.settings.transport, "healthy": True}
    try:
        with psycopg.connect(dream.database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'stored'),"
                " count(*) FILTER (WHERE status = 'pending'),"
                " count(*) FILTER (WHERE status = 'failed'), max(stored_at) FROM snapshots"
            ).fetchone()
        assert row is not None
        report.update(database="ok", stored=row[0], pending=row[1], failed=row[2],
                      last_stored_at=row[3])  # fmt: skip
    except psycopg.Error as exc:
        report.update(database=f"unreachable: {exc}", healthy=False)
    if dream.settings.transport == "kafka":
        try:
            report["lag"] = consumer_lag(dream)
            report["total_lag"] = sum(report["lag"].values())
        except Exception as exc:
            report.update(lag={}, total_lag=f"unknown: {exc}", healthy=False)
    return report
