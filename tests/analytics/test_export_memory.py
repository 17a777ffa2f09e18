"""A large processes export is written a page at a time: the api's memory does not follow the
number of rows (here ~200k rows through the real api and PostgreSQL), nor does the Python
client's when it writes the export to a file."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from helpers import PeakRss, live_api_of
from served import dream_env

from dream.app import Dream

ROWS = 200_000


def _many_rows(database_url: str) -> int:
    """The dataset's snapshots, each with many more process rows: ~ROWS in all."""
    with psycopg.connect(database_url) as conn:
        have = conn.execute("SELECT count(*) FROM processes").fetchone()[0]
        copies = -(-ROWS // have) - 1
        conn.execute(
            "INSERT INTO processes SELECT p.* FROM processes p, generate_series(1, %s)", (copies,)
        )
        return int(conn.execute("SELECT count(*) FROM processes").fetchone()[0])


def test_a_200k_row_export_keeps_memory_bounded(client: TestClient, database_url: str) -> None:
    total = _many_rows(database_url)
    params = {"query": "processes", "limit": 1_000_000, "include_system": "true"}
    # The api runs in this process (TestClient): its memory is this process's.
    with PeakRss(os.getpid()) as rss, client.stream("GET", "/v1/export", params=params) as response:
        assert response.status_code == 200
        count = int(response.headers["x-row-count"])
        lines = 0
        for line in response.iter_lines():
            lines += bool(line)
    assert count >= ROWS * 0.9 and count <= total, (count, total)
    assert lines == count + 1  # the header, then one line per row
    growth = rss.growth_mib
    assert growth < 150, f"the api grew {growth:.0f} MiB exporting {count} rows"


def test_export_csv_pages_join_into_one_file(client: TestClient) -> None:
    response = client.get("/v1/export", params={"query": "processes", "include_system": "true"})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == int(response.headers["x-row-count"]) > 0
    assert all(r["snapshot_id"] and r["host"] for r in rows)  # no header line repeated inside


# The client in a process of its own, so that its memory is its own: its resident set sampled
# every 10 ms from /proc during the export, against the same after the imports. (ru_maxrss
# would not do: a child starts with its parent's high-water mark.)
_CLIENT = """
import json, os, sys, threading
from dream.client import Client
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
start = peak = rss()
done = threading.Event()
def sample():
    global peak
    while not done.wait(0.01):
        peak = max(peak, rss())
sampler = threading.Thread(target=sample)
sampler.start()
Client(sys.argv[1]).export("processes", path=sys.argv[2], limit=1_000_000, include_system=True)
done.set()
sampler.join()
print(json.dumps({"growth_kib": (max(peak, rss()) - start) // 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc/self/statm")
def test_the_client_writes_a_200k_row_export_to_a_file_in_bounded_memory(
    dream: Dream, rows: list, database_url: str, tmp_path: Path
) -> None:
    _many_rows(database_url)
    target = tmp_path / "processes.csv"
    for url in live_api_of(dream):
        done = subprocess.run([sys.executable, "-c", _CLIENT, url, str(target)], env=dream_env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
    size_mib = target.stat().st_size / 2**20
    with target.open(newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) > ROWS * 0.9  # the whole export, header and rows
    assert [p.name for p in tmp_path.iterdir()] == ["processes.csv"]  # no temporary file left
    growth_mib = report["growth_kib"] / 1024
    assert size_mib > 20 and growth_mib < size_mib / 4, (growth_mib, size_mib)
