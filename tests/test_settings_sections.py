"""Settings in sections: each DREAM_* variable belongs to exactly one section, keeps its flat
name, and a section read alone takes only its own variables (secrets from files included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dream.settings import (
    ApiSettings,
    BlobSettings,
    DatabaseSettings,
    KafkaSettings,
    SecuritySettings,
    Settings,
    TelemetrySettings,
    WorkerSettings,
)

SECTIONS = (DatabaseSettings, KafkaSettings, ApiSettings, WorkerSettings, BlobSettings,
            SecuritySettings, TelemetrySettings)  # fmt: skip


def test_every_setting_belongs_to_exactly_one_section() -> None:
    owners: dict[str, list[str]] = {}
    for section in SECTIONS:
        for name in section.model_fields:
            owners.setdefault(name, []).append(section.__name__)
    assert {name: o for name, o in owners.items() if len(o) > 1} == {}
    assert set(owners) == set(Settings.model_fields)


def test_names_stay_flat_and_a_section_reads_only_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "sasl"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("DREAM_KAFKA_TOPIC", "lab.snapshots")
    monkeypatch.setenv("DREAM_KAFKA_SASL_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("DREAM_PORT", "9090")
    kafka = KafkaSettings()
    assert kafka.kafka_topic == "lab.snapshots"
    assert kafka.kafka_client_config() == {"sasl.password": "s3cret"}
    assert not hasattr(kafka, "port")
    settings = Settings()
    assert (settings.kafka_topic, settings.port) == ("lab.snapshots", 9090)
    assert ApiSettings().port == 9090


def test_a_section_alone_keeps_its_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DREAM_KAFKA_BOOTSTRAP", raising=False)
    with pytest.raises(ValidationError, match="DREAM_KAFKA_BOOTSTRAP"):
        KafkaSettings(transport="kafka")
    monkeypatch.setenv("DREAM_MAX_CLOCK_SKEW", "PT2H")
    assert ApiSettings().max_clock_skew.total_seconds() == 7200
