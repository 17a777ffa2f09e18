"""Fleet health: `GET /v1/hosts` says when each host was last heard from, its agent, cadence,
clock skew and status, from the snapshots the api accepted; the gauge the silent-host alert
reads counts them (deploy/prometheus/alerts.yml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.client import Client
from dream.observability import metrics
from dream.observability.sensors import PrometheusSensor
from dream.settings import Settings
from dream.web.fleet import FleetRecorder, agent_of
from helpers import direct_client, live_api_of, snapshot_body, wait_for

LISTING = """\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
alice       2001  3.0  4.0 900000 400000 ?       Sl   09:10   1:30 /usr/lib/firefox/firefox
"""


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Dream]]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, pii_mode="off",
                        batch_wait_s=0.05)  # fmt: skip
    with direct_client(settings) as both:
        yield both


@pytest.fixture
def client(api: tuple[TestClient, Dream]) -> TestClient:
    return api[0]


def post(client: TestClient, host: str, collected_at: datetime, agent: str,
         clock_ahead_s: float = 0.0, **fields: int) -> None:  # fmt: skip
    body = snapshot_body(LISTING, host=host, collected_at=collected_at.isoformat(),
                         interval_s=300, **fields)  # fmt: skip
    sent = datetime.now(UTC) + timedelta(seconds=clock_ahead_s)
    headers = {"User-Agent": agent, "Date": format_datetime(sent, usegmt=True)}
    assert client.post("/v1/snapshots", json=body, headers=headers).status_code == 202


def hosts(client: TestClient) -> dict[str, dict]:
    answer = client.get("/v1/hosts")
    assert answer.status_code == 200, answer.text
    return {item["host"]: item for item in answer.json()["items"]}


def test_hosts_say_when_each_was_last_heard_its_agent_cadence_skew_and_status(
    client: TestClient, database_url: str
) -> None:
    now = datetime.now(UTC)
    # Every 5 minutes, one interval 15 minutes (a missed run): the median says 5 minutes. Its
    # full spool evicted 2 snapshots by the newest (the count the agent sends with each).
    for minutes_ago, evicted in ((40, 0), (35, 0), (30, 1), (15, 1), (10, 2), (5, 2)):
        post(client, "lab-01", now - timedelta(minutes=minutes_ago),
             "dream-agent/1.4.0 (linux/amd64)", spool_evicted=evicted)  # fmt: skip
    post(client, "lab-02", now - timedelta(minutes=3), "dream-collect/0.9.1", clock_ahead_s=120)
    post(client, "lab-03", now - timedelta(minutes=2), "dream-agent/1.3.0 (windows/amd64)")
    post(client, "lab-04", now - timedelta(minutes=2), "dream-agent/1.3.0 (darwin/arm64)",
         spool_evicted=4)
    # An older snapshot drained late does not take the newest's count back.
    post(client, "lab-04", now - timedelta(minutes=7), "dream-agent/1.3.0 (darwin/arm64)",
         spool_evicted=1)

    def all_heard() -> dict[str, dict] | None:
        found = hosts(client)
        return found if sum(h["snapshots_received"] or 0 for h in found.values()) == 10 else None

    found = wait_for(all_heard, what="the fleet's hosts")
    lab1, lab2 = found["lab-01"], found["lab-02"]
    assert lab1["agent"] == "dream-agent/1.4.0" and lab2["agent"] == "dream-collect/0.9.1"
    assert lab1["cadence_s"] == pytest.approx(300)  # median of 300, 300, 900, 300, 300
    assert lab2["cadence_s"] == pytest.approx(300)  # one snapshot: the interval it says
    assert abs(lab1["clock_skew_s"]) < 30 and 100 < lab2["clock_skew_s"] < 140
    assert datetime.fromisoformat(lab1["last_collected_at"]) == pytest.approx(
        now - timedelta(minutes=5), abs=timedelta(seconds=1))  # fmt: skip
    assert {h["status"] for h in found.values()} == {"reporting"}
    assert lab1["users"] == 1 and lab1["snapshots"] == 6  # the picker's counts stay
    assert lab1["spool_evicted"] == 2 and found["lab-04"]["spool_evicted"] == 4
    assert lab2["spool_evicted"] is None  # a snapshot without the count (an older collector)

    # Last heard 15 minutes ago (3 cadences): late; 2 hours ago: silent.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE fleet_hosts SET last_seen = now() - interval '15 minutes'"
                     " WHERE host = 'lab-03'")  # fmt: skip
        conn.execute("UPDATE fleet_hosts SET last_seen = now() - interval '2 hours'"
                     " WHERE host = 'lab-04'")  # fmt: skip
    status = {host: item["status"] for host, item in hosts(client).items()}
    assert status == {"lab-01": "reporting", "lab-02": "reporting", "lab-03": "late",
                      "lab-04": "silent"}  # fmt: skip
    csv = client.get("/v1/hosts", params={"format": "csv"})
    assert csv.status_code == 200 and "status" in csv.text.splitlines()[0]


def test_the_gauge_counts_hosts_by_status(api: tuple[TestClient, Dream], database_url: str) -> None:
    client, dream = api
    now = datetime.now(UTC)
    post(client, "lab-05", now - timedelta(minutes=1), "dream-agent/1.4.0")
    post(client, "lab-06", now - timedelta(minutes=1), "dream-agent/1.4.0")
    wait_for(lambda: len(hosts(client)) == 2 and all(h["status"] for h in hosts(client).values()),
             what="both hosts recorded")  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE fleet_hosts SET last_seen = now() - interval '1 day'"
                     " WHERE host = 'lab-06'")  # fmt: skip
    FleetRecorder(dream.db, sensor=PrometheusSensor()).count()
    gauge = {status: metrics.FLEET_HOSTS.labels(status)._value.get()
             for status in ("reporting", "late", "silent")}  # fmt: skip
    assert gauge == {"reporting": 1, "late": 0, "silent": 1}


def test_the_agent_is_the_user_agents_first_product() -> None:
    assert agent_of("dream-agent/1.2.0 (linux/amd64)") == "dream-agent/1.2.0"
    assert agent_of(None) is None and agent_of("   ") is None
    assert agent_of("x" * 500) == "x" * 200


def test_dream_hosts_and_the_client_list_the_silent_ones(
    api: tuple[TestClient, Dream], database_url: str
) -> None:
    client, dream = api
    now = datetime.now(UTC)
    for host in ("lab-07", "lab-08"):
        post(client, host, now - timedelta(minutes=1), "dream-agent/1.4.0")
    wait_for(lambda: len(hosts(client)) == 2 and all(h["status"] for h in hosts(client).values()),
             what="both hosts recorded")  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE fleet_hosts SET last_seen = now() - interval '1 day'"
                     " WHERE host = 'lab-08'")  # fmt: skip
    for url in live_api_of(dream):
        done = subprocess.run(
            [sys.executable, "-m", "dream", "hosts", "--status", "silent", "--url", url, "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (silent,) = json.loads(done.stdout)["items"]
        assert silent["host"] == "lab-08" and silent["agent"] == "dream-agent/1.4.0"
        table = subprocess.run([sys.executable, "-m", "dream", "hosts", "--url", url],
                               capture_output=True, text=True, timeout=120,
                               env={**os.environ, "COLUMNS": "200"})  # fmt: skip
        assert "silent" in table.stdout and "reporting" in table.stdout, table.stdout
        with Client(url) as api_client:
            reporting = api_client.hosts(status="reporting")
        assert [row["host"] for row in reporting] == ["lab-07"]
