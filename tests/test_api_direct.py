"""The api with the direct pipeline (the embedded default's shape) against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.analytics.questions import QUESTIONS
from dream.app import Dream
from dream.demo.listings import ps_aux_output
from dream.parsing import parse
from dream.parsing.users import snapshot_user
from dream.web.app import create_app
from dream.settings import Settings
from helpers import (
    beside_a_worker, listing_of_absurd_pids, listing_with_absurd_pid, listing_with_overlong_name,
    live_ps_aux,
    shared_fixture, snapshot_body, wait_for,
)  # fmt: skip


@pytest.fixture
def dream(database_url: str, tmp_path: Path) -> Iterator[Dream]:
    d = Dream(Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05)).open()
    yield d
    d.close()


@pytest.fixture
def client(dream: Dream) -> Iterator[TestClient]:
    with beside_a_worker(dream) as app, TestClient(app) as c:
        yield c


def settled(client: TestClient, snapshot_id: str) -> dict | None:
    body = client.get(f"/v1/snapshots/{snapshot_id}").json()
    return body if body.get("status") in ("stored", "failed") else None


def posted_and_settled(client: TestClient, bodies: list[dict]) -> list[dict]:
    """Post each body (202), then each one's final state, in order."""
    for body in bodies:
        assert client.post("/v1/snapshots", json=body).status_code == 202
    return [wait_for(lambda b=body: settled(client, b["snapshot_id"]), what="every snapshot final")
            for body in bodies]  # fmt: skip


def process_rows(url: str, snapshot_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT pid, process_user, command, host, faculty, user_name FROM processes"
            " WHERE snapshot_id = %s ORDER BY pid",
            (snapshot_id,),
        ).fetchall()


def test_posted_ps_aux_becomes_process_rows(
    client: TestClient, database_url: str, dream: Dream
) -> None:
    output = live_ps_aux()
    data_lines = [ln for ln in output.splitlines()[1:] if ln.strip()]
    body = snapshot_body(output)

    response = client.post("/v1/snapshots", json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"snapshot_id": body["snapshot_id"], "status": "accepted"}

    state = wait_for(lambda: settled(client, body["snapshot_id"]), what="snapshot stored")
    assert state["status"] == "stored", state
    assert state["format"] == "ps-aux"
    assert state["process_count"] == len(data_lines)

    rows = process_rows(database_url, body["snapshot_id"])
    assert len(rows) == len(data_lines)
    expected_pids = sorted(int(ln.split(None, 2)[1]) for ln in data_lines)
    assert [r[0] for r in rows] == expected_pids
    # The snapshot's user (the owner of the non-system processes, else the one sent: see
    # tests/analytics/test_who_is_a_user.py) is stored as its keyed pseudonym (the PII
    # scrubber's default).
    person = snapshot_user("msmith", "linux", parse(output, os="linux").processes)
    pseudonym = dream.scrubber.user(person)
    assert pseudonym != person
    assert {(r[3], r[4], r[5]) for r in rows} == {("eng-lab-04", "engineering", pseudonym)}


def test_windows_tasklist_upload_as_multipart_file(client: TestClient, database_url: str) -> None:
    raw = shared_fixture("samples", "windows-tasklist-v.txt").read_bytes()
    snapshot_id = str(uuid.uuid4())
    recent = datetime.now(UTC) - timedelta(hours=1)  # its per-sample rows are kept (7 days)
    fields = {
        "host": "eng-lab-04", "os": "windows", "user": "msmith", "faculty": "Engineering",
        "collected_at": f"{recent:%Y-%m-%dT%H:%M:%SZ}", "command": "tasklist /v",
        "snapshot_id": snapshot_id,
    }  # fmt: skip
    # What PowerShell 5.1 writes with `tasklist /v > file`: UTF-16 LE with a BOM.
    utf16 = b"\xff\xfe" + raw.decode("utf-8").encode("utf-16-le")
    response = client.post(
        "/v1/snapshots", data=fields, files={"output": ("tasklist.txt", utf16, "text/plain")}
    )
    assert response.status_code == 202, response.text
    state = wait_for(lambda: settled(client, snapshot_id))
    assert state["status"] == "stored", state
    assert state["faculty"] == "engineering"
    assert state["format"] == "tasklist-verbose"
    lines = [ln for ln in raw.decode().splitlines() if ln.strip()]
    separator, data = lines[1], lines[2:]
    pid_end = separator.index(" ", separator.index("=", separator.index(" ")))
    expected_pids = sorted(int(ln[: pid_end].rsplit(None, 1)[-1]) for ln in data)
    assert state["process_count"] == len(data)
    assert [r[0] for r in process_rows(database_url, snapshot_id)] == expected_pids


def test_declared_interval_is_stored_and_builds_the_sessions(
    client: TestClient, database_url: str
) -> None:
    body = snapshot_body(live_ps_aux(), interval_s=60)
    assert client.post("/v1/snapshots", json=body).status_code == 202
    assert wait_for(lambda: settled(client, body["snapshot_id"]))["status"] == "stored"
    with psycopg.connect(database_url) as conn:
        declared = conn.execute("SELECT interval_s FROM snapshots").fetchone()[0]
        cadences = conn.execute("SELECT DISTINCT cadence_s, samples FROM sessions").fetchall()
    assert declared == 60.0 and cadences == [(60.0, 1)]


@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_a_form_field_given_twice_is_a_422_naming_it(client: TestClient, form: str) -> None:
    """Which `output` would count, the part the api checks or the file the worker parses? A
    NUL-bearing file then a clean `output` were accepted, and the snapshot failed in the
    database; a second `host` silently won. Refused whole instead, nothing published."""
    fields = [(k, v) for k, v in snapshot_body("x").items() if k not in ("output", "snapshot_id")]
    if form == "multipart":
        response = client.post("/v1/snapshots", data=dict(fields), files=[
            ("output", ("ps.txt", b"USER PID\n\x00", "text/plain")),
            ("output", ("ps2.txt", live_ps_aux().encode(), "text/plain")),
        ])  # fmt: skip
        field = "output"
    else:
        body = "&".join(f"{k}={v}" for k, v in [*fields, ("host", "other"), ("output", "x")])
        response = client.post("/v1/snapshots", content=body.replace("+", "%2B"),
                               headers={"content-type": "application/x-www-form-urlencoded"})
        field = "host"
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert "more than once" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_a_listing_posted_as_a_form_field_may_be_larger_than_a_mebibyte(
    client: TestClient, form: str
) -> None:
    """The listing as a text field (urlencoded, or `-F output="$(ps aux)"`) was refused with a
    400 past 1 MiB, the form parser's default, though a snapshot may be 64 MiB."""
    output = ps_aux_output(13_000, seed=3)
    assert len(output.encode()) > 1024 * 1024
    body = snapshot_body(output)
    if form == "multipart":
        response = client.post("/v1/snapshots", files={k: (None, str(v)) for k, v in body.items()})
    else:
        response = client.post("/v1/snapshots", data=body)
    assert response.status_code == 202, response.text
    state = wait_for(lambda: settled(client, body["snapshot_id"]))
    assert (state["status"], state["process_count"]) == ("stored", 13_000)


def test_same_snapshot_id_twice_is_stored_once(client: TestClient, database_url: str) -> None:
    body = snapshot_body(live_ps_aux())
    first = client.post("/v1/snapshots", json=body)
    second = client.post("/v1/snapshots", json=body)
    assert first.status_code == second.status_code == 202
    state = wait_for(lambda: settled(client, body["snapshot_id"]))
    # A third post after it was stored must not add rows either.
    assert client.post("/v1/snapshots", json=body).status_code == 202
    wait_for(lambda: not _pending(database_url), what="queue drained")
    with psycopg.connect(database_url) as conn:
        n_snapshots = conn.execute(
            "SELECT count(*) FROM snapshots WHERE snapshot_id = %s", (body["snapshot_id"],)
        ).fetchone()[0]
        n_rows = conn.execute(
            "SELECT count(*), count(DISTINCT pid) FROM processes WHERE snapshot_id = %s",
            (body["snapshot_id"],),
        ).fetchone()
    assert n_snapshots == 1
    assert n_rows[0] == n_rows[1] == state["process_count"]


def test_idempotency_key_maps_retries_to_one_snapshot(client: TestClient) -> None:
    body = snapshot_body(live_ps_aux())
    del body["snapshot_id"]
    headers = {"Idempotency-Key": f"collector-retry-{uuid.uuid4()}"}
    first = client.post("/v1/snapshots", json=body, headers=headers).json()
    second = client.post("/v1/snapshots", json=body, headers=headers).json()
    other = client.post("/v1/snapshots", json=body).json()
    assert first["snapshot_id"] == second["snapshot_id"] != other["snapshot_id"]


def test_an_idempotency_key_over_its_documented_length_is_a_422_naming_it(
    client: TestClient,
) -> None:
    body = snapshot_body(live_ps_aux())
    r = client.post("/v1/snapshots", json=body, headers={"Idempotency-Key": "k" * 257})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["header", "idempotency-key"]]
    assert client.get(f"/v1/snapshots/{body['snapshot_id']}").status_code == 404
    ok = client.post("/v1/snapshots", json=body, headers={"Idempotency-Key": "k" * 256})
    assert ok.status_code == 202 and ok.json() == {"snapshot_id": body["snapshot_id"],
                                                    "status": "accepted"}  # fmt: skip


def _pending(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM snapshots WHERE status = 'pending'").fetchone()[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"os": "plan9"}, "os"),
        ({"host": ""}, "host"),
        ({"host": "   "}, "host"),  # stripped only after the length check, it was stored as ""
        ({"host": "\u3000"}, "host"),  # an ideographic space: a space once NFKC-normalized
        ({"faculty": " \t "}, "faculty"),
        ({"collected_at": "yesterday"}, "collected_at"),
        ({"collected_at": "2026-11-27T10:00:00"}, "collected_at"),  # no timezone
        ({"collected_at": "2999-01-01T00:00:00Z"}, "collected_at"),
        ({"faculty": "law\nengineering"}, "faculty"),
        ({"output": "USER PID\x00"}, "output"),
        ({"snapshot_id": "not-a-uuid"}, "snapshot_id"),
        ({"unexpected": 1}, "unexpected"),
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": 86401}, "interval_s"),
        ({"interval_s": "often"}, "interval_s"),
    ],
)
def test_malformed_body_is_422_naming_the_field(
    client: TestClient, change: dict, field: str
) -> None:
    response = client.post("/v1/snapshots", json=snapshot_body(**{"output": "x", **change}))
    assert response.status_code == 422, response.text
    locations = [e["loc"] for e in response.json()["detail"]]
    assert ["body", field] in [list(loc[:2]) for loc in locations], locations


def test_missing_field_and_broken_json_are_422(client: TestClient) -> None:
    body = snapshot_body("x")
    del body["user"]
    response = client.post("/v1/snapshots", json=body)
    assert response.status_code == 422
    assert ["body", "user"] in [e["loc"][:2] for e in response.json()["detail"]]

    response = client.post(
        "/v1/snapshots", content=b'{"host": "a",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "json" in response.text.lower()


def test_unparseable_output_is_kept_as_failed_with_reason(
    client: TestClient, database_url: str
) -> None:
    body = snapshot_body("this is not a process listing\nat all\n")
    assert client.post("/v1/snapshots", json=body).status_code == 202
    state = wait_for(lambda: settled(client, body["snapshot_id"]))
    assert state["status"] == "failed"
    assert state["error"]
    assert state["process_count"] is None
    # The raw output is kept (in the blob store, the row holds its reference: tests/blobs).
    raw = client.get(f"/v1/snapshots/{body['snapshot_id']}/raw")
    assert raw.content == body["output"].encode()


def test_body_over_the_limit_is_413(database_url: str, tmp_path: Path) -> None:
    dream = Dream(Settings(database_url=database_url, data_dir=tmp_path, max_snapshot_bytes=4096)).open()
    app = create_app(dream, publisher=dream.publisher())
    with TestClient(app) as client:
        response = client.post("/v1/snapshots", json=snapshot_body("x" * 10_000))
        assert response.status_code == 413
        assert "4096" in response.json()["detail"]
        files = {"output": ("ps.txt", b"x" * 10_000, "text/plain")}
        fields = {k: v for k, v in snapshot_body("").items() if k != "output"}
        assert client.post("/v1/snapshots", data=fields, files=files).status_code == 413
    dream.close()


def test_unknown_snapshot_is_404_and_health_endpoints(client: TestClient) -> None:
    assert client.get(f"/v1/snapshots/{uuid.uuid4()}").status_code == 404
    assert client.get("/v1/snapshots/not-a-uuid").status_code == 422
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/v1/snapshots", "/v1/snapshots/{snapshot_id}", "/v1/snapshots/{snapshot_id}/processes",
        "/v1/snapshots/{snapshot_id}/raw", "/healthz", "/readyz",
        "/v1/analytics/top-apps", "/v1/analytics/usage", "/v1/analytics/breakdown",
        "/v1/processes", "/v1/users", "/v1/faculties", "/v1/hosts", "/v1/keys", "/v1/keys/{key_id}", "/v1/export",
        "/v1/audit", "/v1/users/{user}", "/v1/optouts", "/v1/optouts/{kind}/{value}", "/v1/calendar",
        *(question.path for question in QUESTIONS),  # and any question added since
    }  # fmt: skip
    post = spec["paths"]["/v1/snapshots"]["post"]["requestBody"]["content"]
    assert post["application/json"]["example"]["os"] == "windows"
    assert "multipart/form-data" in post
    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for operation in item.values():
            ok = operation["responses"][next(c for c in operation["responses"] if c < "300")]
            if "content" not in ok or "application/json" not in ok["content"]:
                continue  # 204 No Content; raw bytes (/raw)
            content = ok["content"]["application/json"]
            ref = content.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            assert "example" in content or schemas.get(ref, {}).get("examples"), path
    assert client.get("/docs").status_code == 200


def test_stored_rows_are_queryable_per_snapshot(client: TestClient, dream: Dream) -> None:
    raw = shared_fixture("samples", "windows-tasklist-v.txt").read_text()
    body = snapshot_body(raw, os="windows", command="tasklist /v", user="msmith")
    assert client.post("/v1/snapshots", json=body).status_code == 202
    wait_for(lambda: settled(client, body["snapshot_id"]))
    rows = client.get(f"/v1/snapshots/{body['snapshot_id']}/processes").json()
    matlab = next(p for p in rows["processes"] if p["pid"] == 9911)
    assert matlab["app"] == "matlab"
    assert matlab["rss_kb"] == 2045112
    assert matlab["user"] == dream.scrubber.user("ENG-LAB-04\\msmith")
    assert matlab["window_title"] == "MATLAB R2023b"  # the application's part only
    assert rows["truncated"] is False
    two = client.get(f"/v1/snapshots/{body['snapshot_id']}/processes?limit=2").json()
    assert len(two["processes"]) == 2 and two["truncated"] is True
    assert rows["note"] is None
    assert client.get(f"/v1/snapshots/{uuid.uuid4()}/processes").status_code == 404
    # Collected before the per-sample rows' retention (7 days): stored, its rows not kept, and
    # the answer says so instead of an empty list that looks like a listing of nothing.
    old = snapshot_body(raw, os="windows", command="tasklist /v", user="msmith",
                        collected_at=(datetime.now(UTC) - timedelta(days=9)).isoformat())
    assert client.post("/v1/snapshots", json=old).status_code == 202
    state = wait_for(lambda: settled(client, old["snapshot_id"]))
    kept = client.get(f"/v1/snapshots/{old['snapshot_id']}/processes").json()
    assert (kept["processes"], kept["truncated"]) == ([], False)
    assert kept["note"].startswith(f"its {state['process_count']} process rows are not kept")


def _status_and_error(url: str, snapshot_id: str) -> tuple[str, str | None]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status, error FROM snapshots WHERE snapshot_id = %s", (snapshot_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_pending_row_that_cannot_be_read_is_failed_and_the_queue_flows_on(
    client: TestClient, database_url: str
) -> None:
    """A pending row at year 1, +14:00 (stored as 1 BC) used to kill the embedded worker."""
    poison = str(uuid.uuid4())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO snapshots (snapshot_id, host, os, user_name, faculty, collected_at,"
            " received_at, command, raw_output, status) VALUES (%s, 'law-pc-09', 'linux',"
            " 'msmith', 'law', '0001-01-01T00:00:00+14:00', now() - interval '1 minute',"
            " 'ps aux', %s, 'pending')",
            (poison, live_ps_aux()),
        )
    body = snapshot_body(live_ps_aux())
    assert client.post("/v1/snapshots", json=body).status_code == 202
    state = wait_for(lambda: settled(client, body["snapshot_id"]), what="the good one stored")
    assert state["status"] == "stored"
    status, error = _status_and_error(database_url, poison)
    assert status == "failed"
    assert error is not None and error.startswith("rejected: the stored row is unreadable")


@pytest.mark.parametrize(
    ("poison", "why"),
    [
        (listing_with_absurd_pid, "pid 99999999999 is out of range for the database's integer"),
        (listing_with_overlong_name, "program name is 4000 characters long"),  # index row size
    ],
)
def test_a_row_the_database_refuses_is_skipped_and_the_rest_of_its_snapshot_stored(
    client: TestClient, database_url: str, poison: Callable[[], str], why: str
) -> None:
    """PostgreSQL refused the whole snapshot for one row it cannot hold (SQLSTATE 22003, 54000),
    and every good row of it was lost: now that row is a skipped row saying why, the rest is
    stored, and so are the snapshots around it."""
    bodies = [snapshot_body(live_ps_aux()), snapshot_body(poison()),
              snapshot_body(live_ps_aux())]  # fmt: skip
    states = posted_and_settled(client, bodies)
    assert [s["status"] for s in states] == ["stored"] * 3
    readable = [ln for ln in bodies[1]["output"].splitlines()[1:] if ln.strip()]
    assert states[1]["process_count"] == len(readable) - 1
    [skipped] = states[1]["skipped_rows"]
    assert skipped["line"] == len(readable)  # the last row: its position among the processes
    assert why in skipped["reason"], skipped
    rows = process_rows(database_url, bodies[1]["snapshot_id"])
    assert len(rows) == len(readable) - 1


def test_a_snapshot_none_of_whose_rows_the_database_holds_is_failed_and_the_rest_stored(
    client: TestClient, database_url: str
) -> None:
    bodies = [snapshot_body(live_ps_aux()), snapshot_body(listing_of_absurd_pids()),
              snapshot_body(live_ps_aux())]  # fmt: skip
    states = posted_and_settled(client, bodies)
    assert [s["status"] for s in states] == ["stored", "failed", "stored"]
    _, error = _status_and_error(database_url, bodies[1]["snapshot_id"])
    assert error is not None and error.startswith("rejected: refused by the database")
    assert "out of range" in error
