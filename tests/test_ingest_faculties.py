"""The managed list of faculties at ingest: once it holds faculties, a snapshot naming one it
does not know is refused with 422 naming the closest, and an alias is stored as its faculty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.settings import Settings
from dream.storage.database import Database
from dream.storage.directory import Directory, FacultyNames, UnknownFaculty
from helpers import FakeClock, beside_a_worker, live_ps_aux, snapshot_body, wait_for


@pytest.fixture
def dream(database_url: str, tmp_path: Path) -> Iterator[Dream]:
    d = Dream(Settings(database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05)).open()
    yield d
    d.close()


def post(client: TestClient, faculty: str) -> tuple[int, dict]:
    body = snapshot_body(live_ps_aux(), faculty=faculty)
    response = client.post("/v1/snapshots", json=body)
    return response.status_code, {**body, **response.json()}


def test_unknown_faculty_refused_and_alias_mapped(dream: Dream, database_url: str) -> None:
    with beside_a_worker(dream) as app, TestClient(app) as client:
        assert post(client, "Law School")[0] == 202  # no managed list yet: any faculty
        directory = Directory(dream.db)
        directory.add_faculty("engineering")
        directory.add_faculty("law")
        directory.add_alias("Law School", "law")
    # A new app reads the list on its first post (a running one within a minute of a change).
    with beside_a_worker(dream) as app, TestClient(app) as client:
        status, body = post(client, "Engineerng")
        assert status == 422
        [error] = body["detail"]
        assert error["loc"] == ["body", "faculty"] and error["input"] == "engineerng"
        assert "closest known: engineering" in error["msg"]
        status, body = post(client, "Law School")
        assert status == 202, body
        wait_for(lambda: client.get(f"/v1/snapshots/{body['snapshot_id']}").json()["status"]
                 == "stored", what="the snapshot stored")  # fmt: skip
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT faculty FROM snapshots WHERE snapshot_id = %s",
                              (body["snapshot_id"],)).fetchone()  # fmt: skip
    assert stored == ("law",)


def test_the_list_is_read_again_in_the_background_and_kept_while_the_database_is_away(
    database_url: str,
) -> None:
    """Ingest never waits for the list: a stale one stays in use while it is read again in the
    background; one that cannot be read keeps the last (none read yet: any faculty)."""
    db = Database(database_url)
    db.open()
    clock = FakeClock()
    names = FacultyNames(db, ttl_s=60, retry_s=10, clock=clock)
    never = FacultyNames(db, clock=clock)
    try:
        names.load()
        assert names.loaded and names.resolve("law") == "law"  # read, empty: any faculty
        Directory(db).add_faculty("law")
        Directory(db).add_alias("Law School", "law")
        clock.advance(59)
        assert names.resolve("law school") == "law school"  # fresh: not read again yet
        clock.advance(2)
        names.resolve("law")  # stale: used as it is, read again in the background
        wait_for(lambda: names.resolve("law school") == "law", what="the list read again")
    finally:
        db.close()
    clock.advance(61)
    assert names.resolve("law school") == "law"  # the database is away: the last list holds
    never.load()
    assert not never.loaded and never.resolve("anything") == "anything"
    with pytest.raises(UnknownFaculty):
        names.resolve("medicine")
