"""An ``app=`` filter's refusal (422) and its suggestions say nothing the floor withholds: a
program fewer users ran than a caller's k-anonymity floor is refused to that caller as one
nobody ran, and suggested to no one held to the floor; the catalog's products stay known."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dream.catalog import builtin
from helpers import beside_a_worker, snapshot_body
from test_api_security import ADMIN_TOKEN, bearer, make_dream
from test_privacy import post_stored, ps_aux

K = 3
# zedtool (no product of the catalog) has one user; mytool four; stata (a product) one.
RUNS = {"zed": ("zedtool", "mytool", "stata"), "amy": ("mytool",), "ben": ("mytool",),
        "cat": ("mytool",)}  # fmt: skip
TOP = "/v1/analytics/top-apps"


@pytest.fixture
def campus(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    dream = make_dream(database_url, tmp_path, rate_limits="", min_group_users=K)
    with beside_a_worker(dream) as app, TestClient(app) as client:
        tokens = {}
        for role in ("ingest", "query", "steward"):
            made = client.post("/v1/keys", json={"name": f"{role} key", "role": role},
                               headers=bearer(ADMIN_TOKEN))  # fmt: skip
            assert made.status_code == 201, made.text
            tokens[role] = made.json()["secret"]
        bodies = [snapshot_body(ps_aux(user, apps), user=user, host=f"arts-lx-{i}",
                                faculty="arts") for i, (user, apps) in enumerate(RUNS.items())]
        post_stored(client, bodies, tokens)
        yield client, tokens
    dream.close()


def _refusal(client: TestClient, token: str, app: str) -> str:
    response = client.get(TOP, params={"app": app}, headers=bearer(token))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "app"] and error["input"] == app
    return str(error["msg"])


def test_a_rare_program_is_not_named_to_a_caller_held_to_the_floor(
    campus: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = campus
    assert "zedtool" not in builtin().products and "stata" in builtin().products
    # Held to the floor: the one-user program is refused as a typo is, and suggested for none.
    note = f" (apps fewer than {K} users ran are not named)"
    held = _refusal(client, tokens["query"], "zedtool")
    assert held.startswith(f"unknown value 'zedtool'{note}") and held.count("zedtool") == 1, held
    typo = _refusal(client, tokens["query"], "zedtoo")
    assert typo.startswith(f"unknown value 'zedtoo'{note}") and "zedtool" not in typo, typo
    assert "mytool" in _refusal(client, tokens["query"], "mytoo")  # four users: suggested
    for app in ("mytool", "stata"):  # enough users; a product (its one user withheld below)
        answered = client.get(TOP, params={"app": app}, headers=bearer(tokens["query"]))
        assert answered.status_code == 200, answered.text
    assert client.get(TOP, params={"app": "stata"},
                      headers=bearer(tokens["query"])).json()["items"] == []  # fmt: skip
    # A role the floor does not hold sees it, and has it suggested.
    seen = client.get(TOP, params={"app": "zedtool"}, headers=bearer(tokens["steward"]))
    assert seen.status_code == 200 and seen.json()["items"], seen.text
    assert "closest known: zedtool" in _refusal(client, tokens["steward"], "zedtoo")
    # The export's door too.
    exported = client.get("/v1/export", params={"query": "top-apps", "app": "zedtool"},
                          headers=bearer(tokens["query"]))  # fmt: skip
    assert exported.status_code == 422 and "zedtool" in exported.text, exported.text
