"""A batch closes at DREAM_BATCH_MAX_BYTES of output as well as at its count: memory is bounded
by bytes whatever the snapshots weigh (real PostgreSQL queue, real Kafka topic)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from dream.app import Dream
from dream.settings import Settings
from dream.snapshots import Snapshot

MiB = 1024 * 1024


def _snapshot() -> Snapshot:
    return Snapshot.model_construct(
        snapshot_id=uuid.uuid4(), host="eng-lab-04", os="linux", os_version="Debian 12",
        user="msmith", faculty="engineering", command="ps aux",
        collected_at=datetime.now(UTC) - timedelta(minutes=5), received_at=datetime.now(UTC),
        output="x" * MiB, output_url=None, raw=None,
    )  # fmt: skip


def _drain(dream: Dream, expected: int) -> list[int]:
    source = dream.source()
    sizes: list[int] = []
    try:
        for _ in range(40):
            batch = source.fetch(200, 0.5)
            if batch.snapshots:  # not acknowledged: in flight, so not fetched again
                sizes.append(len(batch.snapshots))
            if sum(sizes) >= expected:
                break
    finally:
        source.close()
    return sizes


@pytest.mark.parametrize("transport", ["direct", "kafka"])
def test_batches_are_cut_by_bytes(
    transport: str, database_url: str, kafka_bootstrap: str, kafka_names: dict, tmp_path: Path
) -> None:
    kafka = {"kafka_bootstrap": kafka_bootstrap, **kafka_names} if transport == "kafka" else {}
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, batch_max_bytes=3 * MiB,
        store_raw=False, inline_max_bytes=16 * MiB, **kafka,  # type: ignore[arg-type]
    )  # fmt: skip
    dream = Dream(settings).open()
    try:
        publisher = dream.publisher()
        for _ in range(10):
            anyio.run(publisher.publish, _snapshot())
        sizes = _drain(dream, 10)
        publisher.close()
    finally:
        dream.close()
    assert sum(sizes) == 10, sizes
    assert max(sizes) <= 3, f"batches of {sizes} snapshots of 1 MiB with a 3 MiB bound"


def test_one_snapshot_larger_than_the_bound_still_makes_a_batch(
    database_url: str, tmp_path: Path
) -> None:
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, batch_max_bytes=MiB // 2)).open()
    try:
        publisher = dream.publisher()
        for _ in range(2):
            anyio.run(publisher.publish, _snapshot())
        assert _drain(dream, 2) == [1, 1]
    finally:
        dream.close()
