"""A large processes export is written a page at a time: the api's memory does not follow the
number of rows (here ~200k rows through the real api and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import os

import psycopg
from fastapi.testclient import TestClient
from helpers import PeakRss

ROWS = 200_000


def test_a_200k_row_export_keeps_memory_bounded(client: TestClient, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        have = conn.execute("SELECT count(*) FROM processes").fetchone()[0]
        copies = -(-ROWS // have) - 1
        conn.execute(  # the same snapshots, each with many more process rows
            "INSERT INTO processes SELECT p.* FROM processes p, generate_series(1, %s)", (copies,)
        )
        total = conn.execute("SELECT count(*) FROM processes").fetchone()[0]
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
