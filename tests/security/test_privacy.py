"""Privacy through the real api, worker and PostgreSQL: roles, the k-anonymity floor, window
titles scrubbed before storage, and the audit trail of who asked what."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.demo.campus import Process
from dream.demo.listings import tasklist_v
from dream.security.audit import prune_audit
from helpers import beside_a_worker, snapshot_body, wait_for
from pii_data import text_values
from test_api_security import ADMIN_TOKEN, bearer, make_dream

K = 3
# Who ran what, each on a machine of their own in law: stata has two users (under the floor),
# matlab four.
RUNS = {"alice": ("stata", "matlab"), "bob": ("stata", "matlab"), "carol": ("matlab",),
        "dave": ("matlab",)}  # fmt: skip
# Three more in medicine run rstudio one after the other, a minute each: never two at once.
IN_TURN = ("eve", "frank", "gina")
TITLES = {"WINWORD.EXE": "Case notes.docx - Word", "chrome.exe": "Contract review - Google Chrome"}


def post_stored(client: TestClient, bodies: list[dict[str, Any]], tokens: dict[str, str]) -> None:
    """Post ``bodies`` with the ingest key and wait until each is stored (read as `query`)."""
    for body in bodies:
        posted = client.post("/v1/snapshots", json=body, headers=bearer(tokens["ingest"]))
        assert posted.status_code == 202, posted.text
    for body in bodies:
        wait_for(lambda b=body: client.get(f"/v1/snapshots/{b['snapshot_id']}",
                                           headers=bearer(tokens["query"])
                                           ).json()["status"] == "stored")  # fmt: skip


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
        bodies = [snapshot_body(ps_aux(user, apps), user=user, host=f"law-lx-{i}", faculty="law")
                  for i, (user, apps) in enumerate(RUNS.items())]  # fmt: skip
        now = datetime.now(UTC)
        bodies += [snapshot_body(ps_aux(user, ("rstudio",)), user=user, host=f"med-lx-{i}",
                                 faculty="medicine", interval_s=60,
                                 collected_at=(now - timedelta(minutes=15 - 5 * i)).isoformat())
                   for i, user in enumerate(IN_TURN)]  # fmt: skip
        windows = [Process("", image, title) for image, title in TITLES.items()]
        bodies.append(snapshot_body(tasklist_v(windows, "erin", "law-pc-9", random.Random(1)),
                                    user="erin", host="law-pc-9", os="windows",
                                    faculty="law", command="tasklist /v"))  # fmt: skip
        post_stored(client, bodies, tokens)
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
    ("/v1/analytics/concurrency", {"app": "stata", "bucket": "hour"}),
    ("/v1/analytics/concurrency", {"app": "stata", "os": "linux"}),  # off the timeline
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


def test_a_bucket_whose_peak_is_under_the_floor_is_shown_when_its_users_are_not(
    campus: tuple[TestClient, dict[str, str], Dream],
) -> None:
    """Concurrency's peak (1 here) is not the cell's distinct users (3): not withheld."""
    client, tokens, _ = campus
    for bucket in ("day", "week"):
        params = {"app": "rstudio", "bucket": bucket}
        whole = ask(client, tokens["admin"], "/v1/analytics/concurrency", **params)["items"]
        if len(whole) != 1:
            continue  # the three runs straddle the bucket's start
        assert whole[0]["peak_users"] == 1
        shown = ask(client, tokens["query"], "/v1/analytics/concurrency", **params)
        assert shown["items"] == whole and shown["suppressed"] == 0
        return
    pytest.skip("the three runs straddle a day's and a week's start")


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
    ("/v1/analytics/usage?host=law-lx-0", "`host`"),
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
    snapshot = rows[0]["snapshot_id"]
    assert client.get(f"/v1/snapshots/{snapshot}/processes",
                      headers=bearer(tokens["query"])).status_code == 403  # fmt: skip
    shown = ask(client, tokens["steward"], f"/v1/snapshots/{snapshot}/processes")["processes"]
    assert {r["window_title"] for r in shown} == {"Word", "Google Chrome"}


def test_the_audit_lists_the_query_keys_questions(
    campus: tuple[TestClient, dict[str, str], Dream], module_database_url: str, tmp_path: Path,
) -> None:
    client, tokens, _ = campus
    query_id, steward_id = (tokens[r].split("_")[1] for r in ("query", "steward"))
    asked = ask(client, tokens["query"], "/v1/analytics/top-apps", faculty="law", limit=7)
    client.get("/v1/processes", headers=bearer(tokens["query"]))  # refused: recorded too
    ask(client, tokens["steward"], "/v1/analytics/breakdown", by="app", user="alice")
    assert client.get("/v1/audit", headers=bearer(tokens["query"])).status_code == 403
    nul = client.get("/v1/faculties", params={"q": "a\x00b"}, headers=bearer(tokens["query"]))
    assert nul.status_code == 422  # refused, and recorded as asked (escaped), blocking nothing

    entries = ask(client, ADMIN_TOKEN, "/v1/audit", key=query_id, limit=10_000)["items"]
    top = [e for e in entries if e["params"] == {"faculty": "law", "limit": "7"}]
    assert len(top) == 1 and top[0]["path"] == "/v1/analytics/top-apps"
    assert (top[0]["key_name"], top[0]["role"], top[0]["status"]) == ("query key", "query", 200)
    assert (top[0]["rows"], top[0]["suppressed"]) == (len(asked["items"]), asked["suppressed"])
    refused = [e for e in entries if e["path"] == "/v1/processes"]
    assert refused and all(e["status"] == 403 and e["rows"] is None for e in refused)
    assert [e["status"] for e in entries if e["params"] == {"q": "a\\x00b"}] == [422]
    paths = {e["path"] for e in entries}
    assert {"/v1/analytics/usage", "/v1/analytics/concurrency", "/v1/export"} <= paths
    # A steward's user= is kept as the pseudonym it was asked by, never the name.
    stewards = ask(client, ADMIN_TOKEN, "/v1/audit", key=steward_id, limit=10_000)["items"]
    assert any(e["path"].endswith("/processes") and e["rows"] == 2 for e in stewards)
    by_user = [e for e in stewards if e["path"] == "/v1/analytics/breakdown"]
    assert by_user and by_user[-1]["params"]["user"].startswith("u_")
    assert by_user[-1]["suppressed"] is None and by_user[-1]["rows"] >= 2
    assert not [v for v in text_values(module_database_url) if "alice" in v]

    # Keyset pages: all of them, each once, in order.
    seen, cursor = [], None
    while True:
        page = ask(client, ADMIN_TOKEN, "/v1/audit", key=query_id, limit=3,
                   **({"cursor": cursor} if cursor else {}))  # fmt: skip
        seen += [e["id"] for e in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [e["id"] for e in entries]
    bad = client.get("/v1/audit", params={"cursor": "x"}, headers=bearer(ADMIN_TOKEN))
    assert bad.status_code == 422

    env = {**os.environ, "DREAM_DATABASE_URL": module_database_url, "DREAM_DATA_DIR": str(tmp_path)}
    listed = subprocess.run([sys.executable, "-m", "dream", "audit", "--key", query_id, "--json",
                             "--limit", "10000"], env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == seen


def test_audit_entries_past_the_retention_are_pruned(module_database_url: str) -> None:
    with psycopg.connect(module_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (at, key_id, key_name, role, method, path, status,"
                     " duration_ms) VALUES (now() - interval '401 days', 'old', 'old', 'query',"
                     " 'GET', '/v1/users', 200, 1), (now() - interval '399 days', 'kept', 'kept',"
                     " 'query', 'GET', '/v1/users', 200, 1)")  # fmt: skip
        assert prune_audit(conn, 400) == 1
        keys = {r[0] for r in conn.execute("SELECT key_id FROM audit_log")}
    assert "kept" in keys and "old" not in keys


def test_a_dp_key_is_held_to_the_floor_on_exact_counts(
    campus: tuple[TestClient, dict[str, str], Dream],
) -> None:
    """Noise is added to the rows the floor kept: a noisy count of stata's two users would
    often pass the floor of three if the floor judged it."""
    client, _, _ = campus
    made = client.post("/v1/keys", json={"name": "dp", "role": "query", "dp_epsilon": 0.5,
                                         "dp_budget": 100}, headers=bearer(ADMIN_TOKEN))  # fmt: skip
    assert made.status_code == 201, made.text
    for _ in range(20):
        shown = ask(client, made.json()["secret"], "/v1/analytics/top-apps", faculty="law")
        assert [i["app"] for i in shown["items"]] == ["matlab"] and shown["suppressed"] >= 1
        assert shown["privacy"]["epsilon"] == 0.5
