"""Several values per filter (`faculty=law&faculty=engineering`: any of them), through every
source, and filter values nothing holds refused with the closest known ones."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds
from dream.client import Client

TWO = [("faculty", "law"), ("faculty", "engineering")]
SUMMED = ("users", "hosts", "snapshots", "processes", "launches")  # the faculties share no one


def get(client: TestClient, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("window", [[], [("from", "2026-03-02T09:00:00Z")],
                                    [("from", "2026-03-02T09:30:00Z"), ("to", "2026-03-05")]],
                         ids=["rollup", "hours", "raw"])  # fmt: skip
def test_two_faculties_are_the_sum_of_each(client: TestClient, rows: list[ds.Row],
                                           window: list[tuple[str, str]]) -> None:  # fmt: skip
    both = get(client, "/v1/analytics/top-apps", [*TWO, *window, ("limit", "50")])
    assert both["filters"]["faculty"] == ["law", "engineering"]
    each = [{i["app"]: i for i in get(client, "/v1/analytics/top-apps",
                                      [pair, *window, ("limit", "50")])["items"]}
            for pair in TWO]  # fmt: skip
    assert both["items"]
    for item in both["items"]:
        parts = [found[item["app"]] for found in each if item["app"] in found]
        for metric in SUMMED:
            assert item[metric] == sum(p[metric] for p in parts), (item["app"], metric)
        assert item["hours"] == pytest.approx(sum(p["hours"] for p in parts), abs=1e-3)
    law = ds.top_apps(rows, {"faculty": "law", **dict(window)}, limit=50)
    assert {i["app"] for i in law} <= {i["app"] for i in both["items"]}


def test_two_systems_in_a_breakdown(client: TestClient) -> None:
    found = get(client, "/v1/analytics/breakdown", [("by", "os"), ("os", "linux"),
                                                    ("os", "macos")])  # fmt: skip
    assert sorted(i["os"] for i in found["items"]) == ["linux", "macos"]
    refused = client.get("/v1/analytics/breakdown", params=[("by", "os"), ("os", "linux"),
                                                            ("os", "solaris")])  # fmt: skip
    assert refused.status_code == 422 and "solaris" in refused.text
    [error] = client.get("/v1/analytics/usage", params={"os": "linx"}).json()["detail"]
    assert error["loc"] == ["query", "os"] and error["input"] == "linx"
    assert error["msg"].startswith("unknown value 'linx'; closest known: linux; "), error


@pytest.mark.parametrize(("path", "query"), [("/v1/analytics/top-apps", []),
                                             ("/v1/export", [("query", "top-apps")]),
                                             ("/v1/export", [("query", "processes")])])  # fmt: skip
def test_an_unknown_faculty_names_the_closest(client: TestClient, path: str,
                                              query: list[tuple[str, str]]) -> None:  # fmt: skip
    response = client.get(path, params=[*query, ("faculty", "law"), ("faculty", "Engineerng")])
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "faculty"] and error["input"] == "engineerng"
    assert error["msg"] == "unknown value 'engineerng'; closest known: engineering"


def test_the_client_passes_several_values(client: TestClient) -> None:
    both = get(client, "/v1/analytics/top-apps", [*TWO, ("limit", "50")])["items"]
    frame = Client("http://testserver", http=client).top_apps(
        faculty=["law", "engineering"], limit=50, dataframe=True)  # fmt: skip
    assert list(frame["app"]) == [i["app"] for i in both]
    assert list(frame["users"]) == [i["users"] for i in both]
