"""The published OpenAPI schema is complete: every reference resolves, and every status code the
api answers (checked by triggering each one, authentication on) is documented for its path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from helpers import snapshot_body

ADMIN = "dream_a1a1a1a1a1a1_" + "A" * 43


@pytest.fixture(scope="module")
def dream(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dream]:
    d = Dream(Settings(database_url=module_database_url, data_dir=tmp_path_factory.mktemp("oa"),
                       auth="on", bootstrap_admin_key=ADMIN, max_snapshot_bytes=4096,
                       rate_limits="query=1/h:2")).open()  # fmt: skip
    d.bootstrap()
    yield d
    d.close()


@pytest.fixture(scope="module")
def client(dream: Dream) -> Iterator[TestClient]:
    with TestClient(create_app(dream, publisher=dream.publisher())) as c:
        yield c


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    refs = set(_refs(spec))
    assert "#/components/schemas/SnapshotIn" in refs  # POST /v1/snapshots' JSON body
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = spec
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]
    try:
        from openapi_spec_validator import validate  # optional: the full meta-schema check
    except ImportError:
        return
    validate(spec)


def test_the_snapshot_body_schema_is_the_model(spec: dict[str, Any]) -> None:
    snapshot_in = spec["components"]["schemas"]["SnapshotIn"]
    assert {"host", "os", "user", "faculty", "collected_at"} <= set(snapshot_in["required"])
    assert snapshot_in["properties"]["faculty"]["maxLength"] == 64


def test_a_snapshot_state_publishes_its_skipped_lines(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    get = spec["paths"]["/v1/snapshots/{snapshot_id}"]["get"]["responses"]["200"]
    assert get["content"]["application/json"]["schema"]["$ref"].endswith("/SnapshotState")
    state = schemas["SnapshotState"]["properties"]
    assert state["skipped_rows"]["items"]["$ref"] == "#/components/schemas/SkippedLine"
    assert state["skipped_count"]["type"] == "integer"
    assert set(schemas["SkippedLine"]["required"]) == {"line", "reason"}
    example = schemas["SnapshotState"]["examples"][0]
    assert example["skipped_rows"] == [{"line": 5, "reason": "malformed tasklist row"}]
    assert example["skipped_count"] == len(example["skipped_rows"])


def _documented(spec: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(code) for code in spec["paths"][path][method.lower()]["responses"]}


def test_every_status_the_api_answers_is_documented(
    client: TestClient, dream: Dream, spec: dict[str, Any]
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    ingest = {"Authorization": f"Bearer {dream.keys.create('oa ingest', 'ingest').secret}"}
    query = {"Authorization": f"Bearer {dream.keys.create('oa query', 'query').secret}"}
    sid = "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10"
    # (method, documented path, request path, request kwargs, the status it answers)
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("POST", "/v1/snapshots", "/v1/snapshots", {"json": snapshot_body("x")}, 401),
        ("POST", "/v1/snapshots", "/v1/snapshots",
         {"json": snapshot_body("USER PID COMMAND\n"), "headers": query}, 403),
        ("POST", "/v1/snapshots", "/v1/snapshots",
         {"json": snapshot_body("USER PID COMMAND\n"), "headers": ingest}, 202),
        ("POST", "/v1/snapshots", "/v1/snapshots",
         {"json": snapshot_body("x" * 8000), "headers": ingest}, 413),
        ("POST", "/v1/snapshots", "/v1/snapshots", {"json": {"host": "h"}, "headers": ingest}, 422),
        ("GET", "/v1/snapshots/{snapshot_id}", f"/v1/snapshots/{sid}", {"headers": admin}, 404),
        ("GET", "/v1/snapshots/{snapshot_id}", "/v1/snapshots/nope", {"headers": admin}, 422),
        ("GET", "/v1/snapshots/{snapshot_id}/raw", f"/v1/snapshots/{sid}/raw",
         {"headers": query}, 403),
        ("GET", "/v1/processes", "/v1/processes", {"params": {"cursor": "x"}, "headers": admin},
         422),
        ("GET", "/v1/keys", "/v1/keys", {"headers": admin}, 200),
        ("POST", "/v1/keys", "/v1/keys",
         {"content": b"\xff", "headers": {**admin, "Content-Type": "application/json"}}, 400),
        ("DELETE", "/v1/keys/{key_id}", "/v1/keys/abcdefabcdef", {"headers": admin}, 404),
        ("GET", "/v1/analytics/top-apps", "/v1/analytics/top-apps", {"headers": query}, 200),
        ("GET", "/v1/analytics/top-apps", "/v1/analytics/top-apps", {"headers": query}, 200),
        ("GET", "/v1/analytics/top-apps", "/v1/analytics/top-apps", {"headers": query}, 429),
    ]  # fmt: skip
    for method, documented, url, kwargs, status in cases:
        response = client.request(method, url, **kwargs)
        assert response.status_code == status, (method, url, response.text)
        assert status in _documented(spec, method, documented), (method, documented, status)
    # Documented for every /v1 operation: credentials, role, rate limit, an unavailable store.
    for path, item in spec["paths"].items():
        for method in item:
            if path.startswith("/v1/"):
                assert {401, 403, 429, 503} <= _documented(spec, method, path), (method, path)


def test_a_wrong_method_is_answered_with_every_allowed_one(client: TestClient) -> None:
    for method, path, allowed in (("OPTIONS", "/v1/keys", {"GET", "POST"}),
                                  ("PUT", "/v1/keys", {"GET", "POST"}),
                                  ("GET", "/v1/keys/abcdefabcdef", {"DELETE"})):  # fmt: skip
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert allowed <= set(response.headers["allow"].replace(" ", "").split(",")), (
            method, path, response.headers["allow"])  # fmt: skip
