"""`/v1/export`: every analytics question as CSV or Parquet, the same answer as the endpoint."""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

QUESTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("top-apps", "/v1/analytics/top-apps", {"faculty": "law", "limit": 5, "metric": "processes"}),
    ("usage", "/v1/analytics/usage", {"app": "matlab", "bucket": "week", "group_by": "faculty"}),
    ("breakdown", "/v1/analytics/breakdown", {"by": "os", "from": "2026-03-02T09:45:30Z"}),
    ("users", "/v1/users", {"faculty": "law", "q": "a"}),
    ("faculties", "/v1/faculties", {}),
    ("hosts", "/v1/hosts", {"os": "linux"}),
]


def _flat(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    if path.endswith("/usage"):
        return [{"group": s["group"], **p} for s in body["series"] for p in s["points"]]
    return body["items"]


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, datetime):
        return value == datetime.fromisoformat(str(expected).replace("Z", "+00:00"))
    return value == expected


@pytest.mark.parametrize(("query", "path", "params"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_export_equals_the_endpoint(client: TestClient, query: str, path: str,
                                    params: dict[str, Any]) -> None:  # fmt: skip
    expected = _flat(path, client.get(path, params=params).json())
    assert expected, "the dataset answers every question"
    as_csv = client.get("/v1/export", params={"query": query, **params})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["x-row-count"] == str(len(expected))
    assert "attachment" in as_csv.headers["content-disposition"]
    endpoint_csv = client.get(path, params={**params, "format": "csv"}).text
    assert as_csv.text == endpoint_csv  # byte for byte what the endpoint's CSV says

    parquet = client.get("/v1/export", params={"query": query, "format": "parquet", **params})
    assert parquet.status_code == 200, parquet.text
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    rows = table.to_pylist()
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        for column, value in got.items():
            assert _same(value, want[column]), (column, value, want[column])
    types = {f.name: str(f.type) for f in table.schema}
    assert types["users"] == "int64" and types["avg_rss_kb"] == "double"
    if query == "usage":
        assert types["bucket"] == "timestamp[us, tz=UTC]"


def test_processes_export_follows_the_cursor(client: TestClient) -> None:
    params = {"faculty": "engineering", "include_system": "true"}
    pages, cursor = [], None
    while True:
        body = client.get("/v1/processes", params={**params, "limit": 37,
                                                   **({"cursor": cursor} if cursor else {})}).json()  # fmt: skip
        pages.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(pages) > 100
    response = client.get("/v1/export", params={"query": "processes", **params})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(pages) == int(response.headers["x-row-count"])
    assert [(r["snapshot_id"], r["pid"]) for r in rows] == [
        (p["snapshot_id"], str(p["pid"])) for p in pages
    ]
    capped = client.get("/v1/export", params={"query": "processes", "limit": 50, **params})
    assert capped.headers["x-row-count"] == "50"
    parquet = client.get("/v1/export", params={"query": "processes", "format": "parquet", **params})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == len(pages)
    assert str(table.schema.field("collected_at").type) == "timestamp[us, tz=UTC]"
    assert table.column("pid").to_pylist() == [p["pid"] for p in pages]


def test_export_refuses_what_it_cannot_answer(client: TestClient) -> None:
    def problem(**params: Any) -> str:
        response = client.get("/v1/export", params=params)
        assert response.status_code == 422, response.text
        return str(response.json()["detail"])

    assert "query" in problem()
    assert "query" in problem(query="nope")
    assert "by" in problem(query="breakdown")
    assert "bucket" in problem(query="top-apps", bucket="day")  # usage's parameter, not this one
    assert "format" in problem(query="top-apps", format="xlsx")
    assert "from" in problem(query="top-apps", **{"from": "2026-03-04", "to": "2026-03-03"})


def test_parquet_without_pyarrow_says_so(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    response = client.get("/v1/export", params={"query": "faculties", "format": "parquet"})
    assert response.status_code == 415
    assert "pyarrow" in response.json()["detail"] and "csv" in response.json()["detail"]
    assert client.get("/v1/export", params={"query": "faculties"}).status_code == 200


def test_parquet_types_started_by_what_the_question_answers(database_url: str,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """A process row's `started` is the listing's START text, a session's a time: one name, two
    types (an export typing it by name alone failed on every real listing)."""
    from dream.demo.listings import ps_aux_output
    from dream.parsing import parse
    from dream.settings import Settings
    from helpers import direct_client, snapshot_body, wait_for

    settings = Settings(database_url=database_url, data_dir=tmp_path, auth="off",
                        batch_wait_s=0.05)  # fmt: skip
    with direct_client(settings) as (client, _):
        body = snapshot_body(ps_aux_output(5))
        assert client.post("/v1/snapshots", json=body).status_code == 202
        wait_for(lambda: client.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"]
                 == "stored", what="the listing stored")  # fmt: skip

        def table(query: str) -> Any:
            got = client.get("/v1/export", params={"query": query, "format": "parquet",
                                                   "include_system": "true"})  # fmt: skip
            assert got.status_code == 200, got.text
            return pq.read_table(io.BytesIO(got.content))

        processes, sessions = table("processes"), table("sessions")
        assert processes.num_rows == sessions.num_rows == 5
        assert str(processes.schema.field("started").type) == "string"
        listed = sorted(p.started for p in parse(body["output"]).processes)
        assert sorted(processes.column("started").to_pylist()) == listed  # "10:21", "Nov26"
        assert str(sessions.schema.field("started").type) == "timestamp[us, tz=UTC]"
