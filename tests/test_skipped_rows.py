"""No row lost in silence, end to end: a listing with lines the parser cannot read is stored with
its readable rows, the lines it skipped kept with their numbers and reasons, shown by
``GET /v1/snapshots/{id}`` and counted; one mostly garbage is ``failed``, its raw output kept.
Through the api into real PostgreSQL, by the direct pipeline and by Kafka."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from dream.settings import Settings
from helpers import (
    direct_client, pipeline_settings, ps_aux_with_unreadable_lines, snapshot_body, wait_for,
)  # fmt: skip

SKIPPED_METRIC = "dream_parse_skipped_rows_total"


@pytest.fixture(params=["direct", "kafka"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(request, database_url, tmp_path)


def settled(client: TestClient, snapshot_id: str) -> dict[str, Any] | None:
    body: dict[str, Any] = client.get(f"/v1/snapshots/{snapshot_id}").json()
    return body if body.get("status") in ("stored", "failed") else None


def skipped_counted() -> float:
    return REGISTRY.get_sample_value(SKIPPED_METRIC, {"format": "ps-aux"}) or 0.0


def test_unreadable_lines_are_kept_shown_and_counted(settings: Settings) -> None:
    url = settings.database_url.get_secret_value()
    output = ps_aux_with_unreadable_lines(good=5, bad=2)  # lines 7 and 8 unreadable
    body = snapshot_body(output)
    before = skipped_counted()
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        state = wait_for(lambda: settled(client, body["snapshot_id"]), what="snapshot stored")

    assert state["status"] == "stored", state
    assert state["process_count"] == 5
    assert state["skipped_count"] == 2
    assert [row["line"] for row in state["skipped_rows"]] == [7, 8]
    assert all(row["reason"].startswith("malformed row") for row in state["skipped_rows"])
    assert skipped_counted() - before == 2
    with psycopg.connect(url) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM processes WHERE snapshot_id = %s ORDER BY pid",
            (body["snapshot_id"],))]  # fmt: skip
        kept = conn.execute(
            "SELECT skipped_rows, skipped_count FROM snapshots WHERE snapshot_id = %s",
            (body["snapshot_id"],),
        ).fetchone()
    assert pids == [1000, 1001, 1002, 1003, 1004]
    assert kept == (state["skipped_rows"], 2)


def test_a_listing_mostly_garbage_is_failed_with_its_raw_output_kept(settings: Settings) -> None:
    output = ps_aux_with_unreadable_lines(good=2, bad=3)
    body = snapshot_body(output)
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        state = wait_for(lambda: settled(client, body["snapshot_id"]), what="snapshot failed")
        assert state["status"] == "failed", state
        assert "3 of 5 rows could not be read" in state["error"]
        assert state["process_count"] is None
        raw = client.get(f"/v1/snapshots/{body['snapshot_id']}/raw")
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        rows = conn.execute("SELECT count(*) FROM processes").fetchone()
    assert rows == (0,)
    assert raw.status_code == 200, raw.text
    assert raw.text == output
