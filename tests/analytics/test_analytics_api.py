"""The analytics endpoints against a real PostgreSQL holding a generated dataset with known answers."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dream.analytics.questions.hosts import FLEET_FIELDS, without

import analytics_dataset as ds

# Each filter alone, none, combinations; hour-aligned bounds (rollups, with partial days at both
# ends), a bound inside an hour (raw rows), include_system.
FILTER_SETS: list[dict[str, Any]] = [
    {},
    {"faculty": "law"},
    {"os": "windows"},
    {"user": "alice"},
    {"host": "eng-lx-1"},
    {"app": "matlab"},
    {"from": "2026-03-03T00:00:00Z"},
    {"to": "2026-03-04T00:00:00Z"},
    {"from": "2026-03-02T10:00:00Z", "to": "2026-03-10T15:00:00Z"},
    {"from": "2026-03-02T09:45:30Z", "to": "2026-03-04T14:00:00Z"},
    {"faculty": "law", "os": "windows"},
    {"faculty": "engineering", "app": "matlab", "from": "2026-03-02T00:00:00Z",
     "to": "2026-03-11T00:00:00Z"},
    {"include_system": "true"},
    {"os": "windows", "include_system": "true", "from": "2026-03-02T09:00:00Z"},
    {"faculty": "medicine", "user": "dave", "host": "med-lx-1"},
]  # fmt: skip


def oracle_filters(params: dict[str, Any]) -> dict[str, Any]:
    f = dict(params)
    f["include_system"] = f.get("include_system") == "true"
    return f


def aligned(params: dict[str, Any]) -> bool:
    return all(params[k].endswith(":00:00Z") for k in ("from", "to") if k in params)


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def flat_usage(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"group": s["group"], **p, "bucket": datetime.fromisoformat(p["bucket"])}
        for s in body["series"]
        for p in s["points"]
    ]


def test_dataset_has_the_shape_the_tests_rely_on(rows: list[ds.Row]) -> None:
    assert len({r.snapshot.snapshot_id for r in rows}) > 100
    assert {r.snapshot.os for r in rows} == {"linux", "windows", "macos"}
    windows = ds.select(rows, {"os": "windows", "include_system": True})
    assert sum(r.process.is_system for r in windows) > len(windows) / 2  # system dominates


def test_most_used_app_by_law_students_on_windows(client: TestClient) -> None:
    body = get(client, "/v1/analytics/top-apps", faculty="law", os="windows", limit=1)
    assert [i["app"] for i in body["items"]] == ["winword"]
    assert body["items"][0]["users"] == 3  # alice, bob and carol all wrote
    assert body["filters"]["faculty"] == "law" and body["filters"]["os"] == "windows"
    assert body["source"] == "rollup"


@pytest.mark.parametrize("params", FILTER_SETS, ids=lambda p: ",".join(p) or "none")
def test_every_endpoint_answers_exactly(
    client: TestClient, rows: list[ds.Row], params: dict[str, Any]
) -> None:
    f = oracle_filters(params)
    expected_source = "rollup" if aligned(params) else "raw"
    for metric in ("users", "hosts", "snapshots", "processes", "cpu", "memory", "hours",
                   "launches"):  # fmt: skip
        body = get(client, "/v1/analytics/top-apps", **params, metric=metric, limit=50)
        assert body["items"] == ds.top_apps(rows, f, metric, 50), metric
        assert body["source"] == expected_source
    assert get(client, "/v1/analytics/top-apps", **params)["items"] == ds.top_apps(rows, f)

    for by in ("faculty", "os", "user", "host", "app"):
        body = get(client, "/v1/analytics/breakdown", **params, by=by)
        assert body["items"] == ds.with_shares(rows, f, by, ds.breakdown(rows, f, by)), by
    body = get(client, "/v1/analytics/breakdown", **params, by="host", metric="processes", limit=3)
    assert body["items"] == ds.with_shares(rows, f, "host",
                                           ds.breakdown(rows, f, "host", "processes", 3))
    body = get(client, "/v1/analytics/breakdown", **params, by="user", metric="hours", limit=4)
    assert body["items"] == ds.with_shares(rows, f, "user",
                                           ds.breakdown(rows, f, "user", "hours", 4))

    for bucket, group_by in (("day", "faculty"), ("hour", None), ("week", "os"),
                             ("month", "app"), ("day", "user")):  # fmt: skip
        query = {**params, "bucket": bucket} | ({"group_by": group_by} if group_by else {})
        body = get(client, "/v1/analytics/usage", **query)
        assert flat_usage(body) == ds.usage(rows, f, bucket, group_by), (bucket, group_by)

    for path, dim in (("/v1/users", "user"), ("/v1/faculties", "faculty"), ("/v1/hosts", "host")):
        body = get(client, path, **params)
        # The hosts' fleet facts are tests/test_fleet.py's: these rows were never posted.
        assert without(FLEET_FIELDS, body)["items"] == ds.breakdown(rows, f, dim, metric=None), path


def test_include_system_changes_the_answer(client: TestClient, rows: list[ds.Row]) -> None:
    by_processes = {"os": "windows", "metric": "processes"}
    default = get(client, "/v1/analytics/top-apps", **by_processes)["items"]
    with_system = get(client, "/v1/analytics/top-apps", **by_processes, include_system="true")
    assert "svchost" not in [i["app"] for i in default]
    assert with_system["items"][0]["app"] == "svchost"  # 12 per Windows snapshot
    assert with_system["filters"]["include_system"] is True
    # A service and a user process of the same executable count the snapshot once.
    chrome = get(client, "/v1/analytics/top-apps", app="chrome", include_system="true")["items"]
    assert chrome == ds.top_apps(rows, {"app": "chrome", "include_system": True})
    faculties = get(client, "/v1/analytics/breakdown", by="faculty", include_system="true")
    every = {"include_system": True}
    assert faculties["items"] == ds.with_shares(rows, every, "faculty",
                                                ds.breakdown(rows, every, "faculty"))
    assert faculties["items"] != get(client, "/v1/analytics/breakdown", by="faculty")["items"]


@pytest.mark.parametrize(
    "moment", ["2026-03-02T09:45:30Z", "2026-03-02T14:00:00Z"], ids=["raw", "rollup"]
)
def test_from_is_inclusive_and_to_exclusive(
    client: TestClient, rows: list[ds.Row], moment: str
) -> None:
    at = datetime.fromisoformat(moment)
    at_moment = {r.snapshot.snapshot_id for r in rows if r.snapshot.collected_at == at}
    assert at_moment
    day = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    whole = get(client, "/v1/analytics/breakdown", by="os", **day)["items"]
    before = get(client, "/v1/analytics/breakdown", by="os", **{**day, "to": moment})["items"]
    after = get(client, "/v1/analytics/breakdown", by="os", **{**day, "from": moment})["items"]
    total = sum(i["snapshots"] for i in whole)
    assert sum(i["snapshots"] for i in before) + sum(i["snapshots"] for i in after) == total
    on_or_after = {r.snapshot.snapshot_id for r in ds.select(rows, {**day, "from": moment})}
    assert sum(i["snapshots"] for i in after) == len(on_or_after)
    counted_at_moment = {
        r.snapshot.snapshot_id for r in ds.select(rows, {}) if r.snapshot.collected_at == at
    }
    assert counted_at_moment and counted_at_moment <= on_or_after  # from: inclusive
    before_ids = {r.snapshot.snapshot_id for r in ds.select(rows, {**day, "to": moment})}
    assert not counted_at_moment & before_ids  # to: exclusive
    assert sum(i["snapshots"] for i in before) == len(before_ids)


def test_rollups_and_raw_rows_give_the_same_answers(client: TestClient) -> None:
    for params in FILTER_SETS:
        if not aligned(params):
            continue
        for path, extra in (
            ("/v1/analytics/top-apps", {"limit": 100}),
            ("/v1/analytics/top-apps", {"metric": "memory"}),
            ("/v1/analytics/breakdown", {"by": "user"}),
            ("/v1/analytics/breakdown", {"by": "app", "metric": "snapshots"}),
            ("/v1/analytics/usage", {"bucket": "day", "group_by": "host"}),
            ("/v1/analytics/usage", {"bucket": "week"}),
            ("/v1/analytics/usage", {"bucket": "hour", "group_by": "app"}),
        ):
            rollup = get(client, path, **params, **extra, source="rollup")
            raw = get(client, path, **params, **extra, source="raw")
            assert (rollup["source"], raw["source"]) == ("rollup", "raw")
            key = "series" if "series" in rollup else "items"
            assert rollup[key] == raw[key], (path, params, extra)
            assert rollup[key], (path, params, extra)


def test_csv_answers(client: TestClient, rows: list[ds.Row]) -> None:
    by_header = client.get("/v1/analytics/top-apps", params={"faculty": "law"},
                           headers={"Accept": "text/csv"})  # fmt: skip
    by_param = client.get("/v1/analytics/top-apps", params={"faculty": "law", "format": "csv"})
    for response in (by_header, by_param):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
    assert by_header.text == by_param.text
    table = list(csv.DictReader(io.StringIO(by_header.text)))
    expected = ds.top_apps(rows, {"faculty": "law"})
    assert [r["app"] for r in table] == [e["app"] for e in expected]
    assert [int(r["users"]) for r in table] == [e["users"] for e in expected]
    assert [float(r["avg_rss_kb"]) for r in table] == [e["avg_rss_kb"] for e in expected]

    usage = client.get("/v1/analytics/usage", params={"bucket": "day", "group_by": "os",
                                                      "format": "csv"})  # fmt: skip
    table = list(csv.DictReader(io.StringIO(usage.text)))
    assert list(table[0]) == ["group", "bucket", "users", "hosts", "snapshots", "processes",
                              "avg_cpu_percent", "avg_rss_kb", "hours", "launches",
                              "active_users", "share_users"]  # fmt: skip
    expected = ds.usage(rows, {}, "day", "os")
    assert len(table) == len(expected)
    assert [int(r["active_users"]) for r in table] == [e["active_users"] for e in expected]
    for path, params in (("/v1/analytics/breakdown", {"by": "faculty"}), ("/v1/users", {}),
                         ("/v1/processes", {"limit": 5})):  # fmt: skip
        response = client.get(path, params={**params, "format": "csv"})
        assert response.status_code == 200 and response.text.count("\r\n") > 1, path
    # format=json wins over the Accept header.
    assert client.get("/v1/analytics/top-apps", params={"format": "json"},
                      headers={"Accept": "text/csv"}).json()["items"]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "path", "param"),
    [
        ({"os": "beos"}, "/v1/analytics/top-apps", "os"),
        ({"from": "2026-03-04T00:00:00Z", "to": "2026-03-03T00:00:00Z"}, "/v1/analytics/usage",
         "from"),
        ({"from": "2026-03-03T00:00:00Z", "to": "2026-03-03T00:00:00Z"}, "/v1/analytics/top-apps",
         "from"),
        ({"from": "yesterday"}, "/v1/analytics/top-apps", "from"),
        ({"to": "2026-13-45"}, "/v1/analytics/breakdown?by=os", "to"),
        ({"limit": "0"}, "/v1/analytics/top-apps", "limit"),
        ({"limit": "1001"}, "/v1/analytics/top-apps", "limit"),
        ({"limit": "many"}, "/v1/analytics/top-apps", "limit"),
        ({"metric": "fun"}, "/v1/analytics/top-apps", "metric"),
        ({"bucket": "fortnight"}, "/v1/analytics/usage", "bucket"),
        ({"group_by": "colour"}, "/v1/analytics/usage", "group_by"),
        ({}, "/v1/analytics/breakdown", "by"),
        ({"cursor": "not-a-cursor"}, "/v1/processes", "cursor"),
        ({"facutly": "law"}, "/v1/analytics/top-apps", "facutly"),
        ({"include_system": "maybe"}, "/v1/users", "include_system"),
        ({"from": "2026-03-02T09:30:00Z", "source": "rollup"}, "/v1/analytics/top-apps",
         "source"),
    ],
)  # fmt: skip
def test_invalid_values_answer_422_naming_the_parameter(
    client: TestClient, params: dict[str, str], path: str, param: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert param in [e["loc"][-1] for e in response.json()["detail"]], response.text


def test_processes_keyset_pagination(client: TestClient, rows: list[ds.Row]) -> None:
    params = {"faculty": "law", "from": "2026-03-02T09:00:00Z", "to": "2026-03-04T00:00:00Z"}
    expected = [r for r in rows if r.snapshot.faculty == "law" and not r.process.is_system
                and datetime.fromisoformat("2026-03-02T09:00:00+00:00") <= r.snapshot.collected_at
                < datetime.fromisoformat("2026-03-04T00:00:00+00:00")]  # fmt: skip
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        body = get(
            client, "/v1/processes", **params, limit=7, **({"cursor": cursor} if cursor else {})
        )
        assert len(body["items"]) <= 7
        seen.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages >= len(expected) // 7
    assert len(seen) == len(expected)
    keys = [(i["collected_at"], i["snapshot_id"]) for i in seen]
    assert keys == sorted(keys)  # in time order, each snapshot's rows together
    assert sorted((i["snapshot_id"], i["pid"]) for i in seen) == sorted(
        (str(r.snapshot.snapshot_id), r.process.pid) for r in expected
    )
    first = seen[0]
    assert {first["faculty"], first["os"]} <= {"law", "windows", "macos"}
    assert first["user"] in ds.USERS["law"] and first["is_system"] is False
    # The app filter, and system rows when asked.
    matlab = get(client, "/v1/processes", app="matlab", limit=10_000)["items"]
    assert len(matlab) == len(ds.select(rows, {"app": "matlab"}))
    svchost = get(client, "/v1/processes", app="svchost", limit=10_000, include_system="true")
    assert len(svchost["items"]) == len(ds.select(rows, {"app": "svchost", "include_system": True}))


def test_pickers_filter_and_search(client: TestClient, rows: list[ds.Row]) -> None:
    users = get(client, "/v1/users", faculty="engineering")["items"]
    assert [u["user"] for u in users] == ["frank", "grace", "heidi"]
    assert get(client, "/v1/users", q="GR")["items"][0]["user"] == "grace"
    assert [f["faculty"] for f in get(client, "/v1/faculties")["items"]] == [
        "engineering",
        "law",
        "medicine",
    ]
    hosts = get(client, "/v1/hosts", os="linux")["items"]
    assert [h["host"] for h in hosts] == ["eng-lx-1", "eng-lx-2", "med-lx-1"]


def test_filter_values_are_bound_not_formatted(client: TestClient) -> None:
    nasty = "law' OR 1=1; DROP TABLE usage_daily; --"
    for param in ("faculty", "app"):  # no faculty or app has it
        refused = client.get("/v1/analytics/top-apps", params={param: nasty})
        assert refused.status_code == 422 and "unknown value" in refused.text, param
    assert get(client, "/v1/users", q="%")["items"] == []
    assert get(client, "/v1/analytics/top-apps")["items"]


def day(r: ds.Row) -> str:
    return f"{ds.truncate(r.snapshot.collected_at, 'day'):%Y-%m-%dT%H:%M:%SZ}"


def apps_oracle(rows: list[ds.Row], f: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, list[ds.Row]] = {}
    for r in ds.select(rows, f):
        seen.setdefault(r.process.app, []).append(r)
    return [{"app": app, "first_seen": min(map(day, rs)), "last_seen": max(map(day, rs)),
             "snapshots": len({r.snapshot.snapshot_id for r in rs}), **ds.product(app)}
            for app, rs in sorted(seen.items())]  # fmt: skip


@pytest.mark.parametrize("params", FILTER_SETS, ids=range(len(FILTER_SETS)))
def test_apps_with_first_and_last_day(
    client: TestClient, rows: list[ds.Row], params: dict[str, Any]
) -> None:
    body = get(client, "/v1/apps", **params)
    assert body["items"] == apps_oracle(rows, oracle_filters(params))
    assert body["source"] == ("rollup" if aligned(params) else "raw")
    if aligned(params):  # the raw rows say the same
        assert get(client, "/v1/apps", **params, source="raw")["items"] == body["items"]
    matlab = get(client, "/v1/apps", q="MAT", faculty="engineering")["items"]
    assert [a["app"] for a in matlab] == ["matlab"]
