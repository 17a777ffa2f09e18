"""Erasure through the real api, worker, PostgreSQL and blob store: erasing one of four users
leaves every answer what ingesting the other three alone gives (a fresh database, question by
question), no row or raw output of theirs anywhere, and their snapshots answering 410."""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import psycopg
import zstandard
from fastapi.testclient import TestClient

from dream.analytics.questions import QUESTIONS, Question
from dream.analytics.questions.hosts import API_CLOCK_FIELDS, without
from dream.analytics.calendar import CALENDAR_BUCKETS
from dream.analytics.questions.registry import required_params
from dream.app import Dream
from dream.blobs.packs import pack_raw_outputs
from dream.settings import Settings
from dream.storage.erasure import erase_rows
from helpers import beside_a_worker, snapshot_body, wait_for

PII_KEY = "erasure-test-key-0123456789abcdef"
# Who works where: dave shares law-lx-1 with bob (an hour's pack holds both) and runs what
# others do too, so erasing him changes shared cells, not only his own.
USERS = {"alice": ("law-lx-0", "law", ("stata", "matlab")),
         "bob": ("law-lx-1", "law", ("matlab", "rstudio")),
         "carol": ("med-lx-2", "medicine", ("rstudio",)),
         "dave": ("law-lx-1", "law", ("stata", "matlab", "spss"))}  # fmt: skip
ERASED = "dave"
START = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)


def ps_aux(user: str, apps: tuple[str, ...], step: int) -> str:
    """A listing with exact binary fractions for %CPU, so sums do not depend on their order."""
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    lines += [f"{user:<12}{4200 + i:>5} {1.5 + i + step * 0.25:>4}  2.0 912344 {81234 + step:>5}"
              f" pts/0    Sl+  09:12   1:{step:02d} /usr/local/bin/{app}"
              for i, app in enumerate(apps)]  # fmt: skip
    return "\n".join(lines) + "\n"


def bodies(user: str) -> list[dict[str, Any]]:
    """A user's listings: every 5 minutes over 40 minutes of each of two hours (bob at :00-:40,
    dave at :20-:55 on the same machine: their hours share packs and host-days)."""
    host, faculty, apps = USERS[user]
    offset = 20 if user == ERASED else 0
    return [snapshot_body(ps_aux(user, apps, step), user=user, host=host, faculty=faculty,
                          interval_s=300, snapshot_id=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                     f"{user}/{h}/{step}")),
                          collected_at=(START + timedelta(hours=h, minutes=offset + 5 * step)
                                        ).isoformat())
            for h in (0, 3) for step in range(8)]  # fmt: skip


@contextmanager
def campus(url: str, data_dir: Path, users: tuple[str, ...]) -> Iterator[tuple[TestClient, Dream]]:
    settings = Settings(database_url=url, data_dir=data_dir, batch_wait_s=0.05, pii_key=PII_KEY,
                        auth="off", min_group_users=1)  # type: ignore[arg-type]  # fmt: skip
    dream = Dream(settings).open()
    try:
        with beside_a_worker(dream) as app, TestClient(app) as client:
            posted = [b for user in users for b in bodies(user)]
            for body in posted:
                assert client.post("/v1/snapshots", json=body).status_code == 202
            for body in posted:
                wait_for(lambda b=body: client.get(f"/v1/snapshots/{b['snapshot_id']}"
                                                   ).json()["status"] == "stored")  # fmt: skip
            yield client, dream
    finally:
        dream.close()


def params_of(question: Question[Any]) -> list[dict[str, Any]]:
    """The question asked several ways: every choice of each Literal parameter it takes, over
    the data's whole hours and over a range cut inside hours (raw rows)."""
    ranges = [{"from": START.isoformat(), "to": (START + timedelta(hours=5)).isoformat()},
              {"from": (START + timedelta(minutes=10)).isoformat(),
               "to": (START + timedelta(hours=3, minutes=30)).isoformat()}]  # fmt: skip
    required = required_params(question, **COHORTS)
    asked = []
    for whole, r in zip((True, False), ranges, strict=True):
        asked.append(dict(r))
        for name, field in question.fields.items():
            for choice in get_args(field.annotation):
                if (isinstance(choice, str) and (whole or choice != "rollup")
                        and choice not in CALENDAR_BUCKETS):  # no calendar here
                    asked.append({**r, **required, name: choice})
    return [{**required, **a} for a in asked]


COHORTS = {"a": "law", "b": "medicine"}  # compare's two cohorts: the campus's two faculties


def answers(client: TestClient) -> dict[str, Any]:
    day = START.replace(hour=0)  # whole days: from the rollups of migration 0025
    found = {}
    for by in ("executable", "version"):
        got = client.get("/v1/analytics/top-apps", params={
            "group_by": by, "from": day.isoformat(), "to": (day + timedelta(days=2)).isoformat()})
        assert got.status_code == 200 and got.json()["source"] == "rollup", got.text
        found[f"top-apps {by} by day"] = without(API_CLOCK_FIELDS, got.json())
    for question in QUESTIONS:
        for params in params_of(question):
            got = client.get(question.path, params=params)
            assert got.status_code == 200, (question.name, params, got.text)
            found[f"{question.name} {sorted(params.items())}"] = without(API_CLOCK_FIELDS, got.json())
    return found


def stored_text(url: str) -> str:
    """Every row of every table of the database, as text."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname = 'public'")]  # fmt: skip
        return "\n".join(str(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)


def catalog_days(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM catalog_days ORDER BY bucket, catalog").fetchall()


def blob_text(root: Path) -> str:
    """Every raw output in the blob store, decompressed."""
    texts = []
    for path in root.rglob("*"):
        if path.suffix == ".gz":
            texts.append(gzip.decompress(path.read_bytes()).decode())
        elif path.suffix == ".zst":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes()))
            texts.append(reader.read().decode())
    return "\n".join(texts)


def test_erasing_one_of_four_users_answers_as_if_never_collected(
    database_url: str, module_database_url: str, tmp_path: Path
) -> None:
    others = tuple(u for u in USERS if u != ERASED)  # into a database of their own
    with campus(module_database_url, tmp_path / "three", others) as (client, _):
        expected = answers(client)
    named = catalog_days(module_database_url)  # which catalog named how many listings a day
    with campus(database_url, tmp_path / "four", tuple(USERS)) as (client, dream):
        packed = pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(0),
                                  grace=timedelta(0))  # fmt: skip
        assert packed.packs_written >= 4  # bob's and dave's hours share packs
        before = answers(client)
        assert before != expected  # dave counted: the comparison below can fail
        with psycopg.connect(database_url, autocommit=True) as conn:  # the timeline's hours
            conn.execute("SELECT concurrency_refresh(1000000, 'infinity')")  # kept, with users
            assert conn.execute("SELECT count(*) FROM concurrency_hourly"
                                " WHERE cardinality(people) > 1").fetchone()[0] > 0  # fmt: skip
            assert conn.execute("SELECT count(*) FROM usage_versions_presence"
                                " WHERE who LIKE 'u\\_%'").fetchone()[0] > 0  # fmt: skip
        erased = client.delete(f"/v1/users/{ERASED}")
        assert erased.status_code == 200, erased.text
        (report,) = erased.json()  # one epoch: one erasure
        assert report["state"] == "done" and report["blobs_left"] == 0
        assert report["removed"]["snapshots"] == len(bodies(ERASED))
        assert report["removed"]["processes"] == 3 * len(bodies(ERASED))
        assert report["removed"]["sessions"] > 0 and report["removed"]["usage_daily"] > 0
        after = answers(client)
        for key, rows in expected.items():
            assert after[key] == rows, key
        assert catalog_days(database_url) == named
        pseudonym = report["user"]
        assert pseudonym.startswith("u_")
        everything = stored_text(database_url)
        assert everything.count(pseudonym) == 1  # the erasure's own row, nothing else
        assert ERASED not in blob_text(tmp_path / "four")
        assert "bob" in blob_text(tmp_path / "four")  # the shared packs were rewritten, not lost
        for body in bodies(ERASED):
            assert client.get(f"/v1/snapshots/{body['snapshot_id']}").status_code == 410
        for body in bodies("bob"):  # read from the rewritten packs
            assert client.get(f"/v1/snapshots/{body['snapshot_id']}/raw").status_code == 200
        (again,) = client.delete(f"/v1/users/{ERASED}").json()  # nothing left: none removed
        assert again["removed"]["snapshots"] == 0 and again["state"] == "done"


def test_an_erasure_cut_short_after_its_rows_resumes_with_the_raw_outputs(
    database_url: str, tmp_path: Path
) -> None:
    with campus(database_url, tmp_path, ("bob", ERASED)) as (client, dream):
        pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(0), grace=timedelta(0))
        with dream.db.pool.connection() as conn:
            conn.autocommit = True
            cut = erase_rows(conn, dream.scrubber.user(ERASED) or ERASED)  # then a crash
        assert cut.state == "blobs" and cut.blobs and cut.removed["snapshots"] == 16
        assert ERASED in blob_text(tmp_path)  # the rows are gone, the raw outputs not yet
        (resumed,) = client.delete(f"/v1/users/{ERASED}").json()
        assert resumed["id"] == cut.id and resumed["state"] == "done"
        assert resumed["removed"] == cut.removed  # what the erasure removed, not a second run
        assert ERASED not in blob_text(tmp_path) and "bob" in blob_text(tmp_path)
