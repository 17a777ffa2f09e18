"""The contract suite runs each case on every transport (see transports.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dream.settings import Settings
from transports import Harness, direct, kafka, memory


# Each case marked with the service it needs (tests/tiers.py): `-m "contract and not kafka"`.
@pytest.fixture(params=["memory", pytest.param("direct", marks=pytest.mark.postgres),
                        pytest.param("kafka", marks=pytest.mark.kafka)])  # fmt: skip
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        made = memory()
    elif request.param == "direct":
        made = direct(request.getfixturevalue("database_url"))
    else:
        settings = Settings(
            kafka_bootstrap=request.getfixturevalue("kafka_bootstrap"), kafka_partitions=3,
            kafka_session_timeout_ms=6000, data_dir=tmp_path,
            **request.getfixturevalue("kafka_names"),
        )  # fmt: skip
        made = kafka(settings)
    with made as harness:
        yield harness
