"""The academic calendar: a calendar of two terms (the first with a reading week), snapshots
placed in them, and the api's answers by term and teaching week in the campus time zone; bad
calendar files are refused at start with what is wrong."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dream.analytics.calendar import CalendarError, load_calendar
from dream.app import Dream
from dream.cli import app as cli
from dream.client import Client
from dream.parsing.model import ProcessRecord
from dream.settings import Settings
from dream.snapshots import Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter
from dream.web.app import create_app

CALENDAR = """\
tz = "Europe/London"

[[terms]]
id = "2026-autumn"
start = 2026-09-28   # a Monday; British Summer Time until 25 October
end = 2026-12-18
teaching_weeks = 10
exam_weeks = 1

[[terms.holidays]]
name = "reading week"
start = 2026-11-02
end = 2026-11-08

[[terms]]
id = "2027-spring"
start = 2027-01-11
end = 2027-03-26
teaching_weeks = 10
"""

USES = [  # (user, app, when, UTC)
    ("ann", "matlab", "2026-09-27T23:30"),  # Monday 00:30 on campus: week 1, not before it
    ("ann", "matlab", "2026-10-06T10:00"),  # week 2
    ("bob", "matlab", "2026-10-06T11:00"),  # week 2
    ("bob", "matlab", "2026-11-04T10:00"),  # reading week: in the term, in no teaching week
    ("cat", "matlab", "2026-11-10T10:00"),  # week 6: the week after the reading week
    ("ann", "matlab", "2027-01-12T10:00"),  # spring, week 1
    ("dan", "matlab", "2026-12-25T10:00"),  # between terms
    ("eve", "firefox", "2026-10-07T10:00"),  # another app, in week 2
]


def snapshots() -> list[ProcessedSnapshot]:
    out = []
    for user, app, when in USES:
        at = datetime.fromisoformat(when).replace(tzinfo=UTC)
        host = f"lab-{user}"
        snap = Snapshot(snapshot_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{when}"), host=host,
                        os="linux", user=user, faculty="engineering", collected_at=at,
                        received_at=at, command="ps", output="(generated)", interval_s=60)  # fmt: skip
        procs = [ProcessRecord(pid=7, user=user, name=app, app=app, is_system=False)]
        out.append(ProcessedSnapshot(snap, "stored", format="generated", processes=procs))
    return out


def open_dream(database_url: str, tmp_path: Path, calendar: str | None) -> Dream:
    path = None
    if calendar is not None:
        path = tmp_path / "calendar.toml"
        path.write_text(calendar, encoding="utf-8")
    return Dream(Settings(database_url=database_url, data_dir=tmp_path, pii_mode="off",
                          calendar_file=path)).open()  # fmt: skip


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        SnapshotWriter(PartitionManager()).write(conn, snapshots())
    dream = open_dream(database_url, tmp_path, CALENDAR)
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as c:
            yield c
    finally:
        dream.close()


def points(client: TestClient, **params: Any) -> list[tuple[str | None, str, int]]:
    response = client.get("/v1/analytics/usage", params=params)
    assert response.status_code == 200, response.text
    return [(s["group"], p["bucket"], p["users"]) for s in response.json()["series"]
            for p in s["points"]]  # fmt: skip


def test_users_per_term_are_distinct_over_the_term(client: TestClient) -> None:
    # ann used MATLAB on two days of the autumn: counted once (a sum of days would say 5).
    for source in ("rollup", "raw"):
        assert points(client, app="matlab", bucket="term", source=source) == [
            (None, "2026-autumn", 3), (None, "2027-spring", 1)]  # fmt: skip
    by_user = points(client, app="matlab", bucket="term", group_by="user")
    assert by_user == [("ann", "2026-autumn", 1), ("ann", "2027-spring", 1),
                       ("bob", "2026-autumn", 1), ("bob", "2027-spring", 0),
                       ("cat", "2026-autumn", 1), ("cat", "2027-spring", 0)]  # fmt: skip


def test_a_terms_share_is_of_its_active_users(client: TestClient) -> None:
    # Autumn: ann, bob, cat of the four active (eve ran firefox); spring: ann, alone.
    body = client.get("/v1/analytics/usage", params={"app": "matlab", "bucket": "term"}).json()
    assert [(p["bucket"], p["users"], p["active_users"], p["share_users"])
            for p in body["series"][0]["points"]] == [("2026-autumn", 3, 4, 0.75),
                                                      ("2027-spring", 1, 1, 1.0)]  # fmt: skip
    weeks = client.get("/v1/analytics/usage", params={"app": "matlab", "term": "2026-autumn",
                                                      "bucket": "teaching_week"}).json()  # fmt: skip
    assert [(p["users"], p["active_users"]) for p in weeks["series"][0]["points"][:3]] == [
        (1, 1), (2, 3), (0, 0)]  # fmt: skip
    assert weeks["series"][0]["points"][2]["share_users"] is None  # nobody active: no share


def test_teaching_weeks_skip_the_holiday_week_and_fill_empty_ones(client: TestClient) -> None:
    weeks = points(client, app="matlab", bucket="teaching_week", term="2026-autumn")
    assert weeks == [(None, f"2026-autumn w{n}", users) for n, users in
                     enumerate([1, 2, 0, 0, 0, 1, 0, 0, 0, 0], start=1)]  # fmt: skip
    body = client.get("/v1/analytics/usage", params={"bucket": "teaching_week",
                                                     "term": "2026-autumn"}).json()  # fmt: skip
    assert body["filters"]["term"] == "2026-autumn"
    assert body["series"][0]["points"][1]["users"] == 3  # ann, bob and eve (firefox) in week 2


def test_a_term_filter_is_its_campus_days(client: TestClient) -> None:
    found = client.get("/v1/analytics/top-apps", params={"term": "2026-autumn"}).json()
    assert {i["app"]: i["users"] for i in found["items"]} == {"matlab": 3, "firefox": 1}
    assert found["filters"]["from"] == "2026-09-27T23:00:00+00:00"  # campus midnight, BST
    assert found["filters"]["to"] == "2026-12-19T00:00:00+00:00"  # GMT by then


def test_an_unknown_term_names_the_known_ones(client: TestClient) -> None:
    response = client.get("/v1/analytics/usage", params={"term": "2026-atumn"})
    assert response.status_code == 422
    assert "unknown term '2026-atumn'; known: 2026-autumn, 2027-spring" in response.text
    both = client.get("/v1/analytics/top-apps", params={"term": "2026-autumn",
                                                        "from": "2026-10-01"})  # fmt: skip
    assert both.status_code == 422 and "term" in both.text


def test_calendar_buckets_need_a_calendar(database_url: str, tmp_path: Path) -> None:
    dream = open_dream(database_url, tmp_path, None)
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as c:
            for params in ({"bucket": "term"}, {"term": "2026-autumn"}):
                response = c.get("/v1/analytics/usage", params=params)
                assert response.status_code == 422, response.text
                assert "DREAM_CALENDAR_FILE" in response.text
    finally:
        dream.close()


def test_dream_serve_refuses_a_bad_calendar_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(CALENDAR.replace('tz = "Europe/London"', 'tz = "Europe/Londres"'), "utf-8")
    monkeypatch.setenv("DREAM_CALENDAR_FILE", str(path))
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2, result.output
    assert "tz: unknown time zone 'Europe/Londres'" in result.output
    assert not (tmp_path / "data").exists()  # refused before opening anything


def test_a_bad_calendar_stops_the_api_at_start(database_url: str, tmp_path: Path) -> None:
    dream = open_dream(database_url, tmp_path, CALENDAR.replace("teaching_weeks = 10\nexam",
                                                                "teaching_weeks = 12\nexam"))  # fmt: skip
    try:
        with pytest.raises(CalendarError, match=r"terms\[0\] \(2026-autumn\).*12 teaching and 1"
                                                r" exam weeks do not fit"):  # fmt: skip
            create_app(dream, publisher=dream.publisher())
    finally:
        dream.close()


@pytest.mark.parametrize(("text", "says"), [
    ('tz = "Europe/London"\n[[terms]\n', "not valid TOML.*line 2"),
    ('tz = "Europe/Londres"\n' + CALENDAR.split("\n", 1)[1], "tz: unknown time zone 'Europe/Londres'"),
    (CALENDAR.replace("2027-spring", "2026-autumn"), "term '2026-autumn' is listed twice"),
    (CALENDAR.replace("start = 2027-01-11", "start = 2026-12-01"),
     "term '2027-spring' starts 2026-12-01, before term '2026-autumn' ends"),
    (CALENDAR.replace("end = 2026-11-08", "end = 2026-12-30"),
     r"terms\[0\] \(2026-autumn\).*holiday 'reading week' .* is outside the term"),
    (CALENDAR.replace('id = "2027-spring"', 'id = "Spring"'), r"terms\[1\] \(Spring\) id"),
    (CALENDAR.replace("end = 2027-03-26", "end = 2027-03-32"), "not valid TOML"),
])  # fmt: skip
def test_bad_calendars_say_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=says):
        load_calendar(path)


def test_teaching_weeks_are_counted_from_the_term_start(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(CALENDAR, encoding="utf-8")
    calendar = load_calendar(path)
    assert calendar is not None
    weeks = calendar.buckets("teaching_week", *calendar.range_of("2026-autumn"))
    assert [(label, lo.isoformat()) for label, lo, _ in weeks][4:6] == [
        ("2026-autumn w5", "2026-10-26T00:00:00+00:00"),  # GMT from 25 October
        ("2026-autumn w6", "2026-11-09T00:00:00+00:00"),  # the reading week skipped
    ]  # fmt: skip


def test_the_client_asks_by_term_and_keeps_the_labels(client: TestClient) -> None:
    frame = Client("http://testserver", http=client).usage(
        bucket="teaching_week", term="2026-autumn", app="matlab", dataframe=True)  # fmt: skip
    assert list(frame["bucket"])[:2] == ["2026-autumn w1", "2026-autumn w2"]
    assert list(frame["users"]) == [1, 2, 0, 0, 0, 1, 0, 0, 0, 0]
    days = Client("http://testserver", http=client).usage(term="2027-spring", dataframe=True)
    assert str(days["bucket"].dtype).startswith("datetime64")  # UTC days stay times


def test_the_export_answers_by_term(client: TestClient) -> None:
    response = client.get("/v1/export", params={"query": "usage", "bucket": "term",
                                                 "app": "matlab", "format": "csv"})  # fmt: skip
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    assert [line.split(",")[1:3] for line in lines[1:]] == [["2026-autumn", "3"],
                                                            ["2027-spring", "1"]]  # fmt: skip


def test_weeks_of_term_line_the_terms_up(client: TestClient) -> None:
    body = client.get("/v1/analytics/usage", params={"app": "matlab", "bucket": "week_of_term"})
    assert body.status_code == 200, body.text
    series = {s["group"]: [(p["bucket"], p["users"]) for p in s["points"]]
              for s in body.json()["series"]}  # fmt: skip
    assert series == {  # the same weeks as bucket=teaching_week, numbered within each term
        "2026-autumn": [(f"w{n}", u) for n, u in enumerate([1, 2, 0, 0, 0, 1, 0, 0, 0, 0], 1)],
        "2027-spring": [(f"w{n}", u) for n, u in enumerate([1] + [0] * 9, 1)]}  # fmt: skip
    week2 = body.json()["series"][0]["points"][1]
    assert (week2["active_users"], week2["share_users"]) == (3, 2 / 3)  # eve browsed
    refused = client.get("/v1/analytics/usage", params={"bucket": "week_of_term",
                                                        "group_by": "faculty"})  # fmt: skip
    assert refused.status_code == 422 and "week_of_term groups by term" in refused.text
    frame = Client("http://testserver", http=client).usage(bucket="week_of_term", app="matlab",
                                                           dataframe=True)  # fmt: skip
    assert list(frame["group"][:2]) == ["2026-autumn"] * 2 and frame["bucket"][1] == "w2"
