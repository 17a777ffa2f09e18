"""Client mistakes answer a 4xx naming the parameter or field and the value, never a 5xx.

Real api, real PostgreSQL: the cases here used to reach the database (503 "database
unavailable") or crash in Python (500) before they were validated.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.analytics.cursor import encode_cursor
from dream.app import Dream
from dream.settings import Settings
from helpers import beside_a_worker, live_ps_aux, snapshot_body, wait_for

ANALYTICS = ("/v1/analytics/top-apps", "/v1/analytics/usage", "/v1/analytics/breakdown?by=os",
             "/v1/processes", "/v1/users", "/v1/faculties", "/v1/hosts",
             "/v1/export?query=top-apps")  # fmt: skip
SID = "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10"
AT = "2026-03-02T10:00:00+00:00"


@pytest.fixture(scope="module")
def database(module_database_url: str) -> str:
    return module_database_url


@pytest.fixture(scope="module")
def client(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    dream = Dream(Settings(database_url=database, data_dir=tmp_path_factory.mktemp("mistakes"),
                           batch_wait_s=0.05)).open()  # fmt: skip
    with beside_a_worker(dream) as app, TestClient(app, raise_server_exceptions=False) as c:
        yield c
    dream.close()


def _cursor(fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def _refused(response: Any, param: str) -> dict[str, Any]:
    """The one error of a 422 about query parameter ``param``."""
    assert response.status_code == 422, response.text
    errors = [e for e in response.json()["detail"] if e["loc"] == ["query", param]]
    assert errors, response.text
    return errors[0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([1, SID, "(0,1)"], "collected_at"),
        ([None, SID, "(0,1)"], "collected_at"),
        ([AT, 5, "(0,1)"], "snapshot_id"),
        ([AT, ["x"], "(0,1)"], "snapshot_id"),
        ([AT, SID, 7], "row_id"),
        ([AT, SID, None], "row_id"),
        ([AT, SID, ["(0,1)"]], "row_id"),
        ([AT, SID, {"block": 0}], "row_id"),
        ([AT, SID, "(99999999999,1)"], "row_id"),  # no such tid: the database refused it
        ([AT, SID, "(4294967296,1)"], "row_id"),
        ([AT, SID, "(1,99999999)"], "row_id"),
        ([AT, SID, "(-1,1)"], "row_id"),
        (["0001-01-01T00:00:00+14:00", SID, "(0,1)"], "collected_at"),  # year 0 in UTC
        ({"collected_at": AT}, "must hold [collected_at, snapshot_id, row_id]"),
        ([AT, SID], "must hold"),
    ],
)  # fmt: skip
def test_a_forged_cursor_is_422_naming_the_bad_field(
    client: TestClient, fields: Any, field: str
) -> None:
    cursor = _cursor(fields)
    error = _refused(client.get("/v1/processes", params={"cursor": cursor}), "cursor")
    assert field in error["msg"] and error["input"] == cursor, error


def test_a_cursor_the_api_returned_still_pages(client: TestClient) -> None:
    cursor = encode_cursor(datetime.fromisoformat(AT), uuid.UUID(SID), "(4294967295,65535)")
    response = client.get("/v1/processes", params={"cursor": cursor})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ANALYTICS)
@pytest.mark.parametrize(
    ("param", "value", "says"),
    [
        ("from", "0001-01-01T00:00:00+14:00", "must lie between 0001-01-02 and 9999-12-30"),
        ("to", "9999-12-31T23:59:59-12:00", "must lie between"),
        ("from", "9999-12-31T00:00:00Z", "must lie between"),
        ("to", "0.5", "ISO 8601"),  # was read as a unix time: 1970-01-01T00:00:00.5Z
        ("from", "1700000000", "ISO 8601"),
        ("to", "-3e2", "ISO 8601"),
    ],
)  # fmt: skip
def test_times_out_of_range_or_numeric_are_422(
    client: TestClient, path: str, param: str, value: str, says: str
) -> None:
    error = _refused(client.get(path, params={param: value}), param)
    assert says in error["msg"] and error["input"] == value, error


@pytest.mark.parametrize("path", ANALYTICS)
@pytest.mark.parametrize("param", ["faculty", "host", "user", "app", "q", "cursor", "typo"])
def test_nul_in_any_query_parameter_is_422(client: TestClient, path: str, param: str) -> None:
    error = _refused(client.get(path, params={param: "law\x00"}), param)
    # A parameter the endpoint does not take is refused as unknown before its value is read.
    assert "NUL" in error["msg"] or error["msg"].startswith("unknown parameter"), error
    assert error["input"] == "law\x00", error


@pytest.mark.parametrize(
    ("param", "value", "character"),
    [
        ("host", "law-pc\u202e71", "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 7"),
        ("faculty", "l\u200baw", "U+200B (ZERO WIDTH SPACE) at position 2"),
        ("faculty", "law\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE) at position 4"),
        ("host", "\u3164pc", "U+3164 (HANGUL FILLER) at position 1"),
    ],
)  # fmt: skip
def test_invisible_characters_are_refused_naming_them(
    client: TestClient, param: str, value: str, character: str
) -> None:
    error = _refused(client.get("/v1/processes", params={param: value}), param)
    assert character in error["msg"], error
    body = snapshot_body("USER PID COMMAND\n", **{param: value})
    response = client.post("/v1/snapshots", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", param] and character in error["msg"], error


def test_names_are_stored_and_queried_nfkc_normalized(client: TestClient, database: str) -> None:
    # Fullwidth letters and a ligature: what some keyboards and copy-paste produce.
    body = snapshot_body(live_ps_aux(), host="ＬＡＷ-ＰＣ-１７", faculty="Ｌａｗ ﬁnance")
    assert client.post("/v1/snapshots", json=body).status_code == 202
    wait_for(lambda: client.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"]
             == "stored" or None, what="snapshot stored")  # fmt: skip
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT host, faculty FROM snapshots WHERE snapshot_id = %s",
                           (body["snapshot_id"],)).fetchone()  # fmt: skip
    assert row == ("LAW-PC-17", "law finance")
    # A query spelled either way finds it.
    for host, faculty in (("LAW-PC-17", "law finance"), ("ＬＡＷ-ＰＣ-１７", "Ｌａｗ ﬁnance")):
        page = client.get("/v1/processes", params={"host": host, "faculty": faculty,
                                                   "include_system": "true"}).json()  # fmt: skip
        assert page["items"] and page["filters"]["host"] == "LAW-PC-17", page["filters"]


def _multipart(fields: dict[str, bytes], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "dreamboundary7d3"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v
             for k, v in fields.items()]  # fmt: skip
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{k}.txt"'
              f"\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + v
              for k, v in files.items()]  # fmt: skip
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _form_fields(**overrides: str) -> dict[str, bytes]:
    body = snapshot_body("", **overrides)
    return {k: str(v).encode() for k, v in body.items() if k != "output"}


@pytest.mark.parametrize("as_file", [False, True])
def test_multipart_field_that_is_not_utf8_is_422_naming_it(
    client: TestClient, as_file: bool
) -> None:
    fields = _form_fields()
    host = fields.pop("host")[:-1] + b"\xe9"  # Latin-1 'é': was stored as Latin-1, silently
    files = {"output": live_ps_aux().encode()}
    if as_file:
        files["host"] = host  # was decoded as Windows-1252, silently
    else:
        fields["host"] = host
    content, content_type = _multipart(fields, files)
    response = client.post("/v1/snapshots", content=content,
                           headers={"Content-Type": content_type})  # fmt: skip
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "host"] and "not valid UTF-8" in error["msg"], error
    assert "0xe9" in error["msg"], error


@pytest.mark.parametrize("kind", ["json number", "json text", "multipart"])
def test_a_collected_at_given_as_a_number_is_422_not_a_unix_time(
    client: TestClient, kind: str
) -> None:
    """As for `from`/`to`: a number is refused, not read as seconds since 1970 (a minute ago
    here, so only its form can be refused)."""
    seconds = int(datetime.now(UTC).timestamp()) - 60
    if kind == "multipart":
        content, content_type = _multipart(_form_fields(collected_at=str(seconds)),
                                           {"output": live_ps_aux().encode()})  # fmt: skip
        response = client.post("/v1/snapshots", content=content,
                               headers={"Content-Type": content_type})  # fmt: skip
    else:
        at = seconds if kind == "json number" else str(seconds)
        response = client.post("/v1/snapshots", json=snapshot_body(live_ps_aux(), collected_at=at))
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "collected_at"] and "ISO 8601" in error["msg"], error


def test_urlencoded_field_that_is_not_utf8_is_422_naming_it(client: TestClient) -> None:
    body = snapshot_body("USER PID COMMAND\n")
    encoded = "&".join(f"{k}={quote(str(v))}" for k, v in body.items() if k != "faculty")
    response = client.post("/v1/snapshots", content=encoded + "&faculty=law%FF",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "faculty"] and "not valid UTF-8" in error["msg"], error


def test_multipart_output_keeps_its_code_page_decoding(client: TestClient, database: str) -> None:
    """The listing itself may be Windows-1252 (a legacy console), as a file or a text field."""
    listing = "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n" + \
        "jos\u00e9 1 0.0 0.1 1000 900 ? S 10:00 0:00 caf\u00e9\n"  # fmt: skip
    for as_file in (False, True):
        fields = _form_fields()
        sid = fields["snapshot_id"].decode()
        raw = listing.encode("cp1252")
        if as_file:
            content, content_type = _multipart(fields, {"output": raw})
        else:
            content, content_type = _multipart({**fields, "output": raw}, {})
        response = client.post("/v1/snapshots", content=content,
                               headers={"Content-Type": content_type})  # fmt: skip
        assert response.status_code == 202, response.text
        wait_for(lambda sid=sid: client.get(f"/v1/snapshots/{sid}").json()["status"]
                 in ("stored", "failed") or None, what="snapshot settled")  # fmt: skip
        with psycopg.connect(database) as conn:
            (command,) = conn.execute("SELECT command FROM processes WHERE snapshot_id = %s",
                                      (sid,)).fetchone() or (None,)  # fmt: skip
        assert command == "caf\u00e9", (as_file, command)
