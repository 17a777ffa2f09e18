"""Generated requests against every operation of the OpenAPI schema: never a 500."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings
from dream.storage.migrate import migrate
from helpers import snapshot_body

ADMIN = "dream_f0f0f0f0f0f0_" + "C" * 43


@pytest.fixture(scope="module")
def client(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    name = f"dream_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(postgres_server_url, dbname=name)
    migrate(url)
    dream = Dream(Settings(database_url=url, data_dir=tmp_path_factory.mktemp("fuzz"), auth="on",
                           bootstrap_admin_key=ADMIN, rate_limits="")).open()  # fmt: skip
    dream.bootstrap()
    with TestClient(create_app(dream, publisher=dream.publisher()),
                    headers={"Authorization": f"Bearer {ADMIN}"}) as c:  # fmt: skip
        yield c
    dream.close()
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def operations(client: TestClient) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [(method.upper(), path, op.get("parameters", []))
            for path, item in spec["paths"].items() for method, op in item.items()]  # fmt: skip


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
scalars = st.one_of(
    st.text(max_size=30), st.integers(-10**12, 10**12).map(str), st.uuids().map(str),
    st.datetimes().map(lambda d: d.isoformat()), st.sampled_from(["csv", "json", "", "true",
    "hour", "users", "app", "2026-11-27", "-1", "0", "10000000", "%00", "'; DROP TABLE x; --"]),
)  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_generated_request_gets_a_500(client: TestClient, data: st.DataObject) -> None:
    method, path, params = data.draw(st.sampled_from(operations(client)))
    url = path
    query: dict[str, str] = {}
    for param in params:
        if param["in"] == "path":
            value = quote(data.draw(scalars), safe="") or "x"  # a client sends it encoded
            url = url.replace("{" + param["name"] + "}", value)
        elif param["in"] == "query" and data.draw(st.booleans()):
            query[param["name"]] = data.draw(scalars)
    if data.draw(st.booleans()):
        query[data.draw(st.text(min_size=1, max_size=8))] = data.draw(scalars)
    kwargs: dict[str, Any] = {"params": query}
    if method in ("POST", "PUT", "PATCH"):
        base = snapshot_body("USER PID COMMAND\n") if path == "/v1/snapshots" else {"name": "k", "role": "query"}
        body = dict(base)
        for key in data.draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
            body[key] = data.draw(json_values)
        choice = data.draw(st.sampled_from(["json", "garbage", "form"]))
        if choice == "json":
            kwargs["content"] = json.dumps(body)
            kwargs["headers"] = {"content-type": "application/json"}
        elif choice == "garbage":
            kwargs["content"] = data.draw(st.binary(max_size=200))
            kwargs["headers"] = {"content-type": data.draw(st.sampled_from(
                ["application/json", "multipart/form-data", "text/plain", "application/x-www-form-urlencoded"]))}  # fmt: skip
        else:
            kwargs["data"] = {k: str(v) for k, v in body.items() if k != "output"}
            kwargs["files"] = {"output": ("ps.txt", data.draw(st.binary(max_size=200)))}
    response = client.request(method, url, **kwargs)
    assert response.status_code < 500, (method, url, kwargs, response.text[:300])
