"""``dream status``: what an operator asks first — is ingestion keeping up, and if not, why."""

from __future__ import annotations

from typing import Any

import psycopg

from dream.settings import Settings


def consumer_lag(s: Settings, timeout_s: float = 5.0) -> dict[str, int]:
    """Messages not yet committed by the worker group, per partition of the snapshot topic."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": s.kafka_bootstrap, **s.kafka_client_config(),
         "group.id": s.kafka_group, "enable.auto.commit": False}  # fmt: skip
    )
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


def pipeline_status(settings: Settings, database_url: str) -> dict[str, Any]:
    """The report of ``dream status``; given the settings and database, not the app (it sits
    below it)."""
    report: dict[str, Any] = {"transport": settings.transport, "healthy": True}
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
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
    if settings.transport == "kafka":
        try:
            report["lag"] = consumer_lag(settings)
            report["total_lag"] = sum(report["lag"].values())
        except Exception as exc:
            report.update(lag={}, total_lag=f"unknown: {exc}", healthy=False)
    return report
