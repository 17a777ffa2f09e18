"""Several values per filter (`faculty=law&faculty=engineering`: any of them), through every
source; a ranking per faculty or OS in one request (`top-apps?group_by=faculty`); and filter
values nothing holds refused with the closest known ones."""

from __future__ import annotations

from typing import Any

import csv
import io

import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds
from dream.client import Client

TOP = "/v1/analytics/top-apps"
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


def test_a_ranking_per_cohort_is_each_cohort_alone(client: TestClient, rows: list[ds.Row]) -> None:
    """`group_by=faculty` (`os`): per value, the top-apps that value alone answers, the value
    beside each app; in JSON and CSV alike."""
    window = [("from", "2026-03-02T00:00:00Z"), ("to", "2026-03-05T00:00:00Z")]
    for by in ("faculty", "os"):
        grouped = get(client, TOP, [("group_by", by), ("limit", "3"), *window])
        assert grouped["group_by"] == by
        values = sorted(i[by] for i in get(client, "/v1/analytics/breakdown",
                                           [("by", by), *window])["items"])  # fmt: skip
        assert len(values) > 1, values
        expected = []
        for value in values:
            alone = get(client, TOP, [(by, value), ("limit", "3"), *window])["items"]
            assert alone == ds.top_apps(rows, {by: value, **dict(window)}, limit=3)
            expected += [{**item, by: value} for item in alone]
        assert grouped["items"] == expected
    table = client.get(TOP, params=[("group_by", "faculty"), ("limit", "3"), *window,
                                    ("format", "csv")])  # fmt: skip
    assert table.status_code == 200, table.text
    found = [(r["faculty"], r["app"], int(r["users"]), r["share_users"])
             for r in csv.DictReader(io.StringIO(table.text))]  # fmt: skip
    grouped = get(client, TOP, [("group_by", "faculty"), ("limit", "3"), *window])
    assert found == [(i["faculty"], i["app"], i["users"], str(i["share_users"]))
                     for i in grouped["items"]]  # fmt: skip
    exported = client.get("/v1/export", params=[("query", "top-apps"), ("group_by", "faculty"),
                                                ("limit", "3"), *window])  # fmt: skip
    assert exported.status_code == 200 and exported.text == table.text, exported.text
    asked = Client("http://testserver", http=client).top_apps(
        group_by="faculty", limit=3, from_=window[0][1], to=window[1][1])
    assert [(r["faculty"], r["app"]) for r in asked] == [(f, a) for f, a, _, _ in found]


def test_an_unknown_app_names_the_closest(client: TestClient) -> None:
    """`app=matlb`: 422 naming the value and the known apps closest to it, where it answered
    200 and nothing; a product of the catalog no one ran is no typo (200, no rows)."""
    for path in (TOP, "/v1/analytics/usage"):
        response = client.get(path, params={"app": "Matlb"})
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "app"] and error["input"] == "matlb"
        assert error["msg"].startswith("unknown value 'matlb'; closest known: matlab"), error
    assert get(client, TOP, [("app", "MATLAB")])["items"]
    assert get(client, TOP, [("app", "ibm-spss-statistics")])["items"] == []
