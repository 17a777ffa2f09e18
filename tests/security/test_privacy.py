"""Privacy through the real api, worker and PostgreSQL: roles, the k-anonymity floor, window
titles scrubbed before storage, and the audit trail of who asked what."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.demo.campus import Process
from dream.demo.listings import tasklist_v
from helpers import beside_a_worker, snapshot_body, wait_for
from pii_data import text_values
from test_api_security import ADMIN_TOKEN, bearer, make_dream

K = 3
# Who ran what, each on a machine of their own in law: stata has two users (under the floor),
# matlab four.
RUNS = {"alice": ("stata", "matlab"), "bob": ("stata", "matlab"), "carol": ("matlab",),
        "dave": ("matlab",)}  # fmt: skip
TITLES = {"WINWORD.EXE": "Case notes.docx - Word", "chrome.exe": "Contract review - Google Chrome"}


def ps_aux(user: str, apps: tuple[str, ...]) -> str:
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    lines += [f"{user:<12}{4200 + i:>5}  3.1  2.0 912344 81234 pts/0    Sl+  09:12   1:02"
              f" /usr/local/bin/{app}" for i, app in enumerate(apps)]  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def campus(module_database_url: str, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[TestClient, dict[str, str], Dream]]:  # fmt: skip
    """Four users' listings and a Windows one with window titles, stored through the api; a key
    of each role."""
    dream = make_dream(module_database_url, tmp_path_factory.mktemp("privacy"), rate_limits="",
                       min_group_users=K)  # fmt: skip
    with beside_a_worker(dream) as app, TestClient(app) as client:
        tokens = {}
        for role in ("ingest", "query", "steward", "admin"):
            made = client.post("/v1/keys", json={"name": f"{role} key", "role": role},
                               headers=bearer(ADMIN_TOKEN))  # fmt: skip
            assert made.status_code == 201, made.text
            tokens[role] = made.json()["secret"]
        bodies = [snapshot_body(ps_aux(user, apps), user=user, host=f"law-lx-{user}",
                                faculty="law") for user, apps in RUNS.items()]  # fmt: skip
        windows = [Process("", image, title) for image, title in TITLES.items()]
        bodies.append(snapshot_body(tasklist_v(windows, "erin", "law-pc-9", random.Random(1)),
                                    user="erin", host="law-pc-9", os="windows",
                                    faculty="law", command="tasklist /v"))  # fmt: skip
        for body in bodies:
            posted = client.post("/v1/snapshots", json=body, headers=bearer(tokens["ingest"]))
            assert posted.status_code == 202, posted.text
        for body in bodies:
            wait_for(lambda b=body: client.get(f"/v1/snapshots/{b['snapshot_id']}",
                                               headers=bearer(tokens["query"])
                                               ).json()["status"] == "stored")  # fmt: skip
        yield client, tokens, dream
    dream.close()


def ask(client: TestClient, token: str, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_two_user_cell_is_withheld_from_query_and_shown_to_steward_and_admin(
    campus: tuple[TestClient, dict[str, str], Dream],
) -> None:
    client, tokens, _ = campus
    shown = ask(client, tokens["query"], "/v1/analytics/top-apps", faculty="law")
    assert [(i["app"], i["users"]) for i in shown["items"]] == [("matlab", 4)]
    assert shown["suppressed"] >= 1 and shown["min_group_users"] == K  # stata (and erin's apps)
    for role in ("steward", "admin"):
        whole = ask(client, tokens[role], "/v1/analytics/top-apps", faculty="law")
        users = {i["app"]: i["users"] for i in whole["items"]}
        assert users["stata"] == 2 and users["matlab"] == 4, role
        assert whole["suppressed"] == 0 and whole["min_group_users"] is None


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/analytics/top-apps", {"app": "stata"}),
    ("/v1/analytics/top-apps", {"app": "stata", "metric": "hours"}),
    ("/v1/analytics/usage", {"app": "stata", "group_by": "faculty"}),
    ("/v1/analytics/usage", {"app": "stata", "bucket": "hour"}),
    ("/v1/analytics/breakdown", {"app": "stata", "by": "os"}),
    ("/v1/analytics/breakdown", {"by": "app", "os": "linux"}),
    ("/v1/analytics/concurrency", {"app": "stata"}),
    ("/v1/apps", {"q": "st"}),
    ("/v1/faculties", {"app": "stata"}),
])  # fmt: skip
def test_narrowing_filters_cannot_reveal_the_cell(
    campus: tuple[TestClient, dict[str, str], Dream], path: str, params: dict[str, str]
) -> None:
    client, tokens, _ = campus
    whole = client.get(path, params=params, headers=bearer(tokens["admin"])).json()
    held = client.get(path, params=params, headers=bearer(tokens["query"])).json()
    assert "stata" in str(whole) or whole.get("items") or whole.get("series"), whole
    assert "stata" not in str(held.get("items", held.get("series")))
    if path != "/v1/analytics/breakdown" or "app" in params:  # every row was stata's users
        assert held.get("items", []) == [] and held.get("series", []) == [], held
    assert held["suppressed"] >= 1 and held["min_group_users"] == K


def test_csv_and_parquet_say_what_was_withheld(
    campus: tuple[TestClient, dict[str, str], Dream],
) -> None:
    client, tokens, _ = campus
    params = {"faculty": "law"}
    csv = client.get("/v1/analytics/top-apps", params={**params, "format": "csv"},
                     headers=bearer(tokens["query"]))  # fmt: skip
    assert "stata" not in csv.text and "matlab" in csv.text
    assert int(csv.headers["X-Suppressed-Rows"]) >= 1
    for fmt in ("csv", "parquet"):
        exported = client.get("/v1/export", params={"query": "top-apps", "format": fmt,
                                                   **params}, headers=bearer(tokens["query"]))  # fmt: skip
        assert exported.status_code == 200, exported.text
        assert int(exported.headers["X-Suppressed-Rows"]) >= 1
        if fmt == "parquet":
            table = pq.read_table(io.BytesIO(exported.content))
            assert table.column("app").to_pylist() == ["matlab"]
            assert int(table.schema.metadata[b"dream.suppressed_rows"]) >= 1
        else:
            assert "stata" not in exported.text and "matlab" in exported.text
    whole = client.get("/v1/export", params={"query": "top-apps", "format": "csv", **params},
                       headers=bearer(tokens["steward"]))  # fmt: skip
    assert "stata" in whole.text and whole.headers["X-Suppressed-Rows"] == "0"


@pytest.mark.parametrize(("path", "needs"), [
    ("/v1/processes", "/v1/processes"),
    ("/v1/sessions", "/v1/sessions"),
    ("/v1/export?query=processes", "/v1/processes"),
    ("/v1/export?query=sessions", "/v1/sessions"),
    ("/v1/analytics/top-apps?user=alice", "`user`"),
    ("/v1/export?query=top-apps&user=alice", "`user`"),
    ("/v1/analytics/usage?host=law-lx-alice", "`host`"),
])  # fmt: skip
def test_a_query_key_may_not_read_rows_or_single_people_out(
    campus: tuple[TestClient, dict[str, str], Dream], path: str, needs: str
) -> None:
    client, tokens, _ = campus
    refused = client.get(path, headers=bearer(tokens["query"]))
    assert refused.status_code == 403
    assert needs in refused.json()["detail"] and "`steward`" in refused.json()["detail"]
    assert client.get(path, headers=bearer(tokens["steward"])).status_code == 200


def test_window_titles_keep_the_application_only(
    campus: tuple[TestClient, dict[str, str], Dream], module_database_url: str,
) -> None:
    client, tokens, _ = campus
    with psycopg.connect(module_database_url) as conn:
        stored = {r[0] for r in conn.execute(
            "SELECT window_title FROM processes WHERE window_title IS NOT NULL")}  # fmt: skip
    assert stored == {"Word", "Google Chrome"}
    leaks = [v for v in text_values(module_database_url)
             if "Case notes" in v or "Contract review" in v]  # fmt: skip
    assert leaks == []
    rows = ask(client, tokens["steward"], "/v1/processes", host="law-pc-9")["items"]
    assert {r["window_title"] for r in rows} == {"Word", "Google Chrome"}
