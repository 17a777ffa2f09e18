"""`dream query ...` and `dream prune-raw` as a user runs them, against a live api."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

import analytics_dataset as ds
from dream.analytics.questions import QUESTIONS, Question
from dream.cli import app as cli
from dream.app import Dream
from dream.settings import Settings
from helpers import live_api_of as _serve
from dream.analytics.questions.registry import required_params
from typer.testing import CliRunner


@pytest.fixture
def live_api(dream: Dream, rows: list[ds.Row]) -> Iterator[str]:
    yield from _serve(dream)


@pytest.fixture
def secured_api(database_url: str, tmp_path: Path, rows: list[ds.Row]) -> Iterator[tuple[str, str]]:
    """An api that wants keys, and the secret of a `query` key."""
    secured = Dream(Settings(database_url=database_url, data_dir=tmp_path, pii_mode="off",
                             auth="on")).open()  # fmt: skip
    key = secured.keys.create("analyst", "query").secret
    try:
        for url in _serve(secured):
            yield url, key
    finally:
        secured.close()


def dream_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})  # fmt: skip


def test_query_top_apps_json_csv_and_table(live_api: str, rows: list[ds.Row]) -> None:
    done = dream_cli("query", "top-apps", "--faculty", "law", "--os", "windows", "--limit", "1",
                     "--json", "--url", live_api)  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["items"] == ds.top_apps(rows, {"faculty": "law", "os": "windows"}, limit=1)
    assert body["items"][0]["app"] == "winword"

    done = dream_cli("query", "top-apps", "--metric", "processes", "--include-system",
                     "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-03T00:00:00Z",
                     "--csv", "--url", live_api)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    f = {"include_system": True, "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    expected = ds.top_apps(rows, f, "processes")
    assert [(r["app"], int(r["processes"])) for r in table] == [
        (e["app"], e["processes"]) for e in expected
    ]

    done = dream_cli("query", "top-apps", "--faculty", "law", "--url", live_api)
    assert done.returncode == 0, done.stderr
    assert "winword" in done.stdout and "faculty=law" in done.stdout.replace("\n", "")


def test_query_usage_and_breakdown(live_api: str, rows: list[ds.Row]) -> None:
    done = dream_cli("query", "usage", "--app", "matlab", "--bucket", "week", "--group-by",
                     "faculty", "--json", "--url", live_api)  # fmt: skip
    assert done.returncode == 0, done.stderr
    series = json.loads(done.stdout)["series"]
    points = sum(len(s["points"]) for s in series)
    assert points == len(ds.usage(rows, {"app": "matlab"}, "week", "faculty"))

    done = dream_cli("query", "breakdown", "--by", "os", "--csv", "--url", live_api)
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["os"], int(r["users"])) for r in table] == [
        (e["os"], e["users"]) for e in ds.breakdown(rows, {}, "os")
    ]
    done = dream_cli("query", "usage", "--app", "matlab", "--url", live_api)
    assert done.returncode == 0 and "matlab" in done.stdout, done.stderr

    asked = ["query", "top-apps", "--group-by", "faculty", "--limit", "2", "--url", live_api]
    grouped = CliRunner().invoke(cli, [*asked, "--json"])  # a ranking per faculty
    assert grouped.exit_code == 0, grouped.output
    expected = httpx.get(f"{live_api}/v1/analytics/top-apps", timeout=60,
                         params={"group_by": "faculty", "limit": 2}).json()  # fmt: skip
    assert json.loads(grouped.stdout) == expected
    assert {i["faculty"] for i in expected["items"]} == {"engineering", "law", "medicine"}


def test_query_reads_the_url_from_dream_url(live_api: str, rows: list[ds.Row]) -> None:
    done = dream_cli("query", "top-apps", "--json", env={"DREAM_URL": live_api})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"] == ds.top_apps(rows, {})


def test_query_key_before_or_after_the_question_or_from_dream_api_key(
    secured_api: tuple[str, str],
) -> None:
    url, key = secured_api
    env = {"DREAM_URL": url, "DREAM_API_KEY": ""}
    refused = dream_cli("query", "top-apps", "--json", env=env)
    assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
    for args, extra in (
        (["--key", key, "top-apps", "--json"], {}),
        (["top-apps", "--json", "--key", key], {}),
        (["breakdown", "--by", "faculty", "--key", key, "--json"], {}),
        (["usage", "--json"], {"DREAM_API_KEY": key}),
    ):
        done = dream_cli("query", *args, env={**env, **extra})
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout), args
    # A query key's floor (5 users): every user's own row is withheld, and the table says so.
    held = dream_cli("query", "breakdown", "--by", "user", env={**env, "DREAM_API_KEY": key})
    assert held.returncode == 0 and "row(s) withheld" in held.stderr, held.stderr


def test_query_reports_invalid_values(live_api: str) -> None:
    done = dream_cli("query", "top-apps", "--os", "beos", "--url", live_api)
    assert done.returncode == 2
    assert "os" in done.stderr


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.name for q in QUESTIONS])
def test_each_question_is_a_command(live_api: str, question: Question) -> None:
    """`dream query NAME --json` prints what the api answers; without --json, a table."""
    params = required_params(question)
    options = [arg for name, value in params.items() for arg in (f"--{name}", value)]
    runner = CliRunner()
    done = runner.invoke(cli, ["query", question.name, *options, "--json", "--url", live_api])
    assert done.exit_code == 0, done.output
    expected = httpx.get(f"{live_api}{question.path}", params=params, timeout=60).json()
    assert json.loads(done.stdout) == expected and question.rows(expected)
    table = runner.invoke(cli, ["query", question.name, *options, "--url", live_api])
    assert table.exit_code == 0 and "no filters" in table.stdout.replace("\n", ""), table.output


def test_prune_raw_command(database_url: str, rows: list[ds.Row]) -> None:
    env = {"DREAM_DATABASE_URL": database_url, "DREAM_RAW_ROWS_RETENTION_DAYS": "1"}
    done = dream_cli("prune-raw", "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "would drop 2 partition(s)" in done.stderr
    with psycopg.connect(database_url, autocommit=True) as conn:  # the audit trail's retention
        conn.execute("INSERT INTO audit_log (at, key_id, key_name, role, method, path, status,"
                     " duration_ms) VALUES (now() - interval '500 days', 'k', 'k', 'query',"
                     " 'GET', '/v1/users', 200, 1)")  # fmt: skip
    done = dream_cli("prune-raw", env=env)
    assert done.returncode == 0 and "dropped 2 partition(s)" in done.stderr, done.stderr
    assert "1 audit entries older than 400 days deleted" in " ".join(done.stderr.split())
    # DREAM_RAW_RETENTION_DAYS is the blob store's (dream gc): the rows' default of 7 days holds
    done = dream_cli("prune-raw", "--dry-run",
                     env={"DREAM_DATABASE_URL": database_url, "DREAM_RAW_RETENTION_DAYS": "1"})
    assert done.returncode == 0 and "would drop 0 partition(s)" in done.stderr, done.stderr


def test_query_takes_several_values_of_a_filter(live_api: str) -> None:
    """`--faculty law --faculty engineering`: the use of either, as the api answers the two."""
    runner = CliRunner()
    asked = ["query", "top-apps", "--faculty", "law", "--faculty", "engineering", "--limit", "50",
             "--url", live_api]  # fmt: skip
    done = runner.invoke(cli, [*asked, "--json"])
    assert done.exit_code == 0, done.output
    expected = httpx.get(f"{live_api}/v1/analytics/top-apps", timeout=60, params=[
        ("faculty", "law"), ("faculty", "engineering"), ("limit", "50")]).json()  # fmt: skip
    assert json.loads(done.stdout) == expected
    assert expected["filters"]["faculty"] == ["law", "engineering"]
    law = httpx.get(f"{live_api}/v1/analytics/top-apps", params={"faculty": "law", "limit": 50},
                    timeout=60).json()  # fmt: skip
    assert expected["items"] != law["items"]  # both faculties, not the last one given
    table = runner.invoke(cli, asked, env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "faculty=law or engineering" in table.stdout, table.output
