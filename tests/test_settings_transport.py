"""DREAM_TRANSPORT chooses the pipeline; unset, it follows DREAM_KAFKA_BOOTSTRAP as it always
did, and Kafka without brokers is refused with a message naming both variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dream.settings import Settings


@pytest.mark.parametrize(
    ("environment", "transport"),
    [
        ({}, "direct"),
        ({"DREAM_KAFKA_BOOTSTRAP": "broker-1:9092"}, "kafka"),
        ({"DREAM_KAFKA_BOOTSTRAP": "broker-1:9092", "DREAM_TRANSPORT": ""}, "kafka"),
        ({"DREAM_KAFKA_BOOTSTRAP": "broker-1:9092", "DREAM_TRANSPORT": "direct"}, "direct"),
        ({"DREAM_KAFKA_BOOTSTRAP": "broker-1:9092", "DREAM_TRANSPORT": "kafka"}, "kafka"),
        ({"DREAM_TRANSPORT": "direct"}, "direct"),
    ],
)
def test_the_transport_is_chosen_or_follows_the_bootstrap(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], transport: str
) -> None:
    for name in ("DREAM_KAFKA_BOOTSTRAP", "DREAM_TRANSPORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings().transport == transport


def test_kafka_without_brokers_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAM_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("DREAM_TRANSPORT", "kafka")
    with pytest.raises(ValidationError, match="DREAM_TRANSPORT=kafka needs DREAM_KAFKA_BOOTSTRAP"):
        Settings()
    with pytest.raises(ValidationError, match="'kafka' or 'direct'"):
        Settings(transport="carrier-pigeon")  # type: ignore[arg-type]
