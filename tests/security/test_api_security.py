"""Roles, keys, rate limits and PII through the real api, worker and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.security.keys import GRANTS, ROLES
from dream.settings import Settings
from helpers import beside_a_worker, snapshot_body, wait_for
from pii_data import SECRET_LISTING, SECRETS, text_values

ADMIN_TOKEN = "dream_a0a0a0a0a0a0_" + "B" * 43


def make_dream(database_url: str, tmp_path: Path, **overrides: object) -> Dream:
    settings = Settings(database_url=database_url, data_dir=tmp_path, auth="on",
                        bootstrap_admin_key=ADMIN_TOKEN, batch_wait_s=0.05,
                        **overrides)  # type: ignore[arg-type]  # fmt: skip
    dream = Dream(settings).open()
    dream.bootstrap()
    return dream


@pytest.fixture
def dream(database_url: str, tmp_path: Path) -> Iterator[Dream]:
    d = make_dream(database_url, tmp_path, rate_limits="")
    yield d
    d.close()


@pytest.fixture
def client(dream: Dream) -> Iterator[TestClient]:
    with beside_a_worker(dream) as app, TestClient(app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    made: dict[str, str] = {}
    for role in ROLES:
        r = client.post("/v1/keys", json={"name": f"{role} key", "role": role},
                        headers=bearer(ADMIN_TOKEN))  # fmt: skip
        assert r.status_code == 201, r.text
        made[role] = r.json()["secret"]
    return made


ENDPOINTS = [
    ("POST", "/v1/snapshots", "ingest"),
    ("GET", "/v1/snapshots/{sid}", "query"),
    ("GET", "/v1/snapshots/{sid}/processes", "steward"),
    ("GET", "/v1/analytics/top-apps", "query"),
    ("GET", "/v1/analytics/usage?app=python3", "query"),
    ("GET", "/v1/analytics/breakdown?by=os", "query"),
    ("GET", "/v1/processes", "steward"),
    ("GET", "/v1/sessions", "steward"),
    ("GET", "/v1/analytics/top-apps?user=jdoe", "steward"),
    ("GET", "/v1/analytics/breakdown?by=app&host=law-pc-1", "steward"),
    ("GET", "/v1/export?query=processes", "steward"),
    ("GET", "/v1/export?query=sessions&format=parquet", "steward"),
    ("GET", "/v1/export?query=top-apps&user=jdoe", "steward"),
    ("GET", "/v1/users", "query"),
    ("GET", "/v1/faculties", "query"),
    ("GET", "/v1/hosts", "query"),
    ("GET", "/v1/export?query=faculties", "query"),
    ("GET", "/v1/snapshots/{sid}/raw", "steward"),
    ("GET", "/v1/keys", "admin"),
    ("POST", "/v1/keys", "admin"),
    ("DELETE", "/v1/keys/ffffffffffff", "admin"),
]


def call(client: TestClient, method: str, path: str, headers: dict[str, str], sid: str):  # type: ignore[no-untyped-def]
    path = path.format(sid=sid)
    if method == "POST" and path == "/v1/snapshots":
        body = snapshot_body("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n")
        return client.post(path, json=body, headers=headers)
    if method == "POST":
        return client.post(path, json={"name": "k", "role": "query"}, headers=headers)
    return client.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path", "needed"), ENDPOINTS)
def test_each_role_on_each_endpoint(client: TestClient, tokens: dict[str, str], method: str,
                                    path: str, needed: str) -> None:  # fmt: skip
    sid = str(uuid.uuid4())
    assert call(client, method, path, {}, sid).status_code == 401
    assert call(client, method, path, bearer("dream_000000000000_" + "x" * 43), sid).status_code == 401
    for role, token in tokens.items():
        status = call(client, method, path, bearer(token), sid).status_code
        allowed = needed in GRANTS[role]
        if allowed:
            assert status not in (401, 403), (role, method, path, status)
        else:
            assert status == 403, (role, method, path, status)


def test_open_endpoints_need_no_key(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_a_revoked_key_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    key_id = tokens["query"].split("_")[1]
    assert client.get("/v1/faculties", headers=bearer(tokens["query"])).status_code == 200
    listed = client.get("/v1/keys", headers=bearer(tokens["admin"])).json()
    assert key_id in {k["id"] for k in listed} and all("secret" not in k for k in listed)
    assert client.delete(f"/v1/keys/{key_id}", headers=bearer(tokens["admin"])).status_code == 204
    refused = client.get("/v1/faculties", headers=bearer(tokens["query"]))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.delete(f"/v1/keys/{key_id}", headers=bearer(tokens["admin"])).status_code == 404


def test_rate_limit_answers_429_then_recovers(database_url: str, tmp_path: Path) -> None:
    dream = make_dream(database_url, tmp_path, rate_limits="query=5/s:3")
    with TestClient(create_app(dream, publisher=dream.publisher())) as client:
        token = client.post("/v1/keys", json={"name": "q", "role": "query"},
                            headers=bearer(ADMIN_TOKEN)).json()["secret"]  # fmt: skip
        statuses = [client.get("/v1/faculties", headers=bearer(token)).status_code
                    for _ in range(6)]  # fmt: skip
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        limited = client.get("/v1/faculties", headers=bearer(token))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        time.sleep(0.5)  # the clock must pass: at 5 tokens/s two are back (the app's own clock)
        assert client.get("/v1/faculties", headers=bearer(token)).status_code == 200
        # The admin role has no limit configured here, and another key has its own bucket.
        assert client.get("/v1/faculties", headers=bearer(ADMIN_TOKEN)).status_code == 200
    dream.close()


def test_personal_data_never_reaches_the_database(client: TestClient, tokens: dict[str, str],
                                                  dream: Dream, database_url: str) -> None:  # fmt: skip
    body = snapshot_body(SECRET_LISTING, user="jdoe", command="ps aux --user jdoe")
    assert client.post("/v1/snapshots", json=body, headers=bearer(tokens["ingest"])).status_code == 202
    state = wait_for(lambda: (s := client.get(f"/v1/snapshots/{body['snapshot_id']}",
                                              headers=bearer(tokens["query"])).json())
                     and s["status"] != "pending" and s)  # fmt: skip
    assert state["status"] == "stored" and state["process_count"] == 4
    values = text_values(database_url)
    leaks = [(secret, v[:120]) for v in values for secret in SECRETS if secret in v]
    assert leaks == []
    # Analytics by the real name still find the user's applications (a steward's question).
    top = client.get("/v1/analytics/top-apps", params={"user": "jdoe"},
                     headers=bearer(tokens["steward"])).json()  # fmt: skip
    # (named by product: python3 is Python; ssh is OpenSSH, a system product, left out)
    assert {"python", "git"} <= {item["app"] for item in top["items"]}


def test_keys_cli_create_list_revoke(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DREAM_DATABASE_URL": database_url, "DREAM_DATA_DIR": str(tmp_path)}

    def dream(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dream", "keys", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    created = dream("create", "--name", "law labs", "--role", "ingest")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    key_id = secret.split("_")[1]
    listed = dream("list")
    assert key_id in listed.stdout and "law labs" in listed.stdout and secret not in listed.stdout
    assert dream("create", "--name", "x", "--role", "root").returncode != 0
    steward = dream("create", "--name", "ethics board", "--role", "steward")
    assert steward.returncode == 0, steward.stderr
    assert "ethics board" in dream("list").stdout and "steward" in dream("list").stdout
    assert dream("revoke", key_id).returncode == 0
    assert dream("revoke", key_id).returncode == 1


def test_stored_warnings_quote_no_row(client: TestClient, tokens: dict[str, str]) -> None:
    """A malformed row's user (here one that owns no parsed row, so the worker cannot know the
    name) must not reach the warnings that query keys read."""
    listing = SECRET_LISTING + "kwong 77 broken vim /home/kwong/diary.txt\n"
    body = snapshot_body(listing, user="jdoe")
    assert client.post("/v1/snapshots", json=body, headers=bearer(tokens["ingest"])).status_code == 202
    state = wait_for(lambda: (s := client.get(f"/v1/snapshots/{body['snapshot_id']}",
                                              headers=bearer(tokens["query"])).json())
                     and s["status"] != "pending" and s)  # fmt: skip
    assert state["status"] == "stored" and state["warnings"] == [
        "line 6: skipped malformed row (expected USER PID %CPU %MEM VSZ RSS TT STAT START TIME"
        " COMMAND)"
    ]
