"""GET /v1/sessions: every session in use within the range, once, page after page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds


def pages(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/sessions", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize(
    "params",
    [{}, {"faculty": "law", "include_system": "true"},
     {"app": "matlab", "from": "2026-03-02T10:00:00Z", "to": "2026-03-04T09:30:00Z"}],
)  # fmt: skip
def test_pages_list_each_session_in_the_range_once(
    client: TestClient, rows: list[ds.Row], params: dict[str, Any]
) -> None:
    start, end = ds.window(params)
    expected = [
        s for s in ds.sessions_of(rows)
        if s.first_seen < end and s.ended > start
        and (params.get("include_system") or not s.is_system)
        and all(params.get(k) in (None, s.dimension(k)) for k in ("faculty", "app"))
    ]  # fmt: skip
    seen = pages(client, **params, limit=7)
    key = [(i["started"], i["host"], i["user"], i["pid"], i["name"]) for i in seen]
    assert key == sorted(key) and len(set(key)) == len(key)
    by_key = {(s.host, s.user, s.pid, s.first_seen.isoformat().replace("+00:00", "Z")): s
              for s in expected}  # fmt: skip
    assert {(i["host"], i["user"], i["pid"], i["started"]) for i in seen} == set(by_key)
    for item in seen:
        s = by_key[(item["host"], item["user"], item["pid"], item["started"])]
        assert item["app"] == s.app and item["duration_s"] == (s.ended - s.first_seen).seconds
        assert item["ended"] == s.ended.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("cursor", ["nope", "WyIyMDI2Il0", "WzEsMiwzLDQsNV0"])
def test_a_forged_cursor_is_a_422_naming_it(client: TestClient, cursor: str) -> None:
    response = client.get("/v1/sessions", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert "cursor" in response.text
