"""collected_at must be plausible: the api's window (422 outside it), partitions bounded whatever
reaches the worker, and the collectors' clock skew visible."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from dream.collector import Sender
from dream.settings import Settings
from helpers import direct_client, live_ps_aux, snapshot_body, wait_for


def _serve(database_url: str, data_dir: Path, **settings: object) -> Iterator[TestClient]:
    with direct_client(Settings(database_url=database_url, data_dir=data_dir, batch_wait_s=0.05,
                                **settings)) as (client, _):  # type: ignore[arg-type]  # fmt: skip
        yield client


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    yield from _serve(database_url, tmp_path)


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def _final(client: TestClient, snapshot_id: str) -> dict | None:
    body = client.get(f"/v1/snapshots/{snapshot_id}").json()
    return body if body.get("status") in ("stored", "failed") else None


def _partitions(url: str) -> int:
    with psycopg.connect(url) as conn:
        sql = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'processes'::regclass"
        return conn.execute(sql).fetchone()[0]  # type: ignore[index]


@pytest.mark.parametrize(
    ("collected_at", "why"),
    [
        ("0001-01-01T00:00:00+14:00", "old"),
        ("1900-01-01T00:00:00Z", "old"),
        ("1969-12-31T23:59:59Z", "old"),
        (None, "in the future"),  # a day and an hour ahead
    ],
)
def test_implausible_collected_at_is_422_saying_why_and_the_window(
    client: TestClient, database_url: str, collected_at: str | None, why: str
) -> None:
    collected_at = collected_at or _ago(days=-1, hours=-1)
    body = snapshot_body(live_ps_aux(), collected_at=collected_at)
    response = client.post("/v1/snapshots", json=body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "collected_at"]
    assert error["msg"].startswith("collected_at ") and why in error["msg"]
    assert "accepted: " in error["msg"]  # the window, so the sender knows what would pass
    assert ("1 day" if why == "in the future" else "400 days") in error["msg"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)


@pytest.mark.parametrize("days", [30, 399])
def test_old_but_honest_snapshots_are_accepted_and_stored(client: TestClient, days: int) -> None:
    """A spool drained after weeks offline, last year's listings imported."""
    body = snapshot_body(live_ps_aux(), collected_at=_ago(days=days))
    assert client.post("/v1/snapshots", json=body).status_code == 202
    state = wait_for(lambda: _final(client, body["snapshot_id"]), what="stored")
    assert state["status"] == "stored"


def test_window_is_configurable(database_url: str, tmp_path: Path) -> None:
    for client in _serve(database_url, tmp_path, max_clock_skew="PT1H", max_snapshot_age=86400):
        ahead = client.post("/v1/snapshots",
                            json=snapshot_body("x", collected_at=_ago(hours=-2)))  # fmt: skip
        old = client.post("/v1/snapshots", json=snapshot_body("x", collected_at=_ago(days=2)))
        assert ahead.status_code == old.status_code == 422
        assert "3600 seconds in the future" in ahead.json()["detail"][0]["msg"]
        assert "1 day old" in old.json()["detail"][0]["msg"]
        ok = client.post("/v1/snapshots", json=snapshot_body(live_ps_aux(),
                                                             collected_at=_ago(minutes=-30)))  # fmt: skip
        assert ok.status_code == 202


def test_partitions_do_not_grow_when_absurd_times_reach_the_worker(
    client: TestClient, database_url: str
) -> None:
    """Rows behind the api's back (an older api, a manual import): no partition of their own."""
    poison = {str(uuid.uuid4()): at for at in (
        "1900-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "0001-01-01T12:00:00Z",
        _ago(days=-100), "2100-01-01T00:00:00Z", _ago(days=800),
    )}  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        for snapshot_id, at in poison.items():
            conn.execute(
                "INSERT INTO snapshots (snapshot_id, host, os, user_name, faculty, collected_at,"
                " received_at, command, raw_output, status) VALUES (%s, 'law-pc-09', 'linux',"
                " 'msmith', 'law', %s, now() - interval '1 minute', 'ps aux', %s, 'pending')",
                (snapshot_id, at, live_ps_aux()),
            )
    good = snapshot_body(live_ps_aux())
    assert client.post("/v1/snapshots", json=good).status_code == 202
    assert wait_for(lambda: _final(client, good["snapshot_id"]), what="stored")["status"] == "stored"
    for snapshot_id in poison:
        state = wait_for(lambda s=snapshot_id: _final(client, s), what="poison final")
        assert state["status"] == "failed"
        assert state["error"].startswith("rejected: collected_at has no partition")
    assert _partitions(database_url) == 1


def _skew_samples() -> tuple[float, float]:
    count = REGISTRY.get_sample_value("dream_clock_skew_seconds_count") or 0.0
    total = REGISTRY.get_sample_value("dream_clock_skew_seconds_sum") or 0.0
    return count, total


def test_collector_sends_its_clock_and_the_api_measures_the_skew(client: TestClient) -> None:
    count, total = _skew_samples()
    sender = Sender(url=str(client.base_url), client=client, retries=0)
    sender.post(json.dumps(snapshot_body(live_ps_aux())).encode())
    after_sender = _skew_samples()
    assert after_sender[0] == count + 1 and after_sender[1] - total < 5  # this machine's clock

    behind = format_datetime(datetime.now(UTC) - timedelta(hours=2), usegmt=True)
    response = client.post("/v1/snapshots", json=snapshot_body(live_ps_aux()),
                           headers={"Date": behind})  # fmt: skip
    assert response.status_code == 202
    skewed = _skew_samples()
    assert skewed[0] == count + 2 and 7190 < skewed[1] - after_sender[1] < 7210
