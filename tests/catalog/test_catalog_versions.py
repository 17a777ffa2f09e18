"""Versions stored and answered: a process's product version (MATLAB R2023b) on its stored row
and its session, top-apps grouped by product, executable or version, and the product's columns
in files. Listings go through the api, the direct pipeline and the worker (real PostgreSQL)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient

from helpers import direct_client
from test_catalog_wiring import WINDOW, _post_and_settle, _settings, _three_oses

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def three_oses(module_database_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[TestClient]:  # fmt: skip
    with direct_client(_settings(module_database_url, tmp_path_factory.mktemp("versions"))) as (
        client, _):  # fmt: skip
        _post_and_settle(client, _three_oses())
        yield client


def _top(client: TestClient, **params: Any) -> dict[str, Any]:
    answer = client.get("/v1/analytics/top-apps", params={**WINDOW, "limit": 100, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_matlab_is_one_product_with_two_versions(three_oses: TestClient) -> None:
    """R2023b on Linux (ana and bob) and R2024a on macOS (ana): one MATLAB by product, two by
    version, each with its own users and hosts."""
    by_product = [i for i in _top(three_oses)["items"] if i["app"] == "matlab"]
    assert len(by_product) == 1 and by_product[0]["users"] == 2 and by_product[0]["hosts"] == 3
    body = _top(three_oses, group_by="version")
    assert body["group_by"] == "version" and body["source"] == "sessions"
    matlab = {i["version"]: i for i in body["items"] if i["app"] == "matlab"}
    assert set(matlab) == {"R2023b", "R2024a"}
    assert (matlab["R2023b"]["users"], matlab["R2023b"]["hosts"]) == (2, 2)
    assert (matlab["R2024a"]["users"], matlab["R2024a"]["hosts"]) == (1, 1)
    assert {i["product"] for i in matlab.values()} == {"MATLAB"}
    assert all(i["hours"] > 0 and i["launches"] == 1 * i["hosts"] for i in matlab.values())
    # A product whose path shows no version is one row, version null.
    chrome = [i for i in body["items"] if i["app"] == "google-chrome"]
    assert [i["version"] for i in chrome] == [None]


def test_top_apps_by_executable_lists_each_name_of_a_product(three_oses: TestClient) -> None:
    body = _top(three_oses, group_by="executable")
    word = {i["executable"]: i for i in body["items"] if i["app"] == "microsoft-word"}
    assert set(word) == {"WINWORD.EXE", "Microsoft Word"}
    assert all(i["users"] == 1 and i["product"] == "Microsoft Word" for i in word.values())
    chrome = {i["executable"] for i in body["items"] if i["app"] == "google-chrome"}
    assert {"chrome.exe", "chrome", "Google Chrome"} <= chrome
    # The filters hold as by product; an executable the catalog does not know stays.
    only = _top(three_oses, group_by="executable", category="office")["items"]
    assert {i["app"] for i in only} == {"microsoft-word", "libreoffice-writer"}
    assert "frobnicator" in {i["app"] for i in body["items"]}


def test_sessions_do_not_count_cpu_so_ordering_by_it_is_refused(three_oses: TestClient) -> None:
    answer = three_oses.get("/v1/analytics/top-apps", params={"group_by": "version",
                                                               "metric": "cpu"})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert "metric" in answer.text and "cpu" in answer.text
    bad = three_oses.get("/v1/analytics/top-apps", params={"group_by": "vendor"})
    assert bad.status_code == 422 and "group_by" in bad.text


def test_sessions_and_process_rows_carry_the_version(three_oses: TestClient) -> None:
    sessions = three_oses.get("/v1/sessions", params={**WINDOW, "limit": 1000}).json()["items"]
    matlab = [s for s in sessions if s["app"] == "matlab"]
    assert sorted(s["version"] for s in matlab) == ["R2023b", "R2023b", "R2024a"]
    assert {s["product"] for s in matlab} == {"MATLAB"}
    rows = three_oses.get("/v1/processes", params={**WINDOW, "app": "matlab"}).json()["items"]
    assert sorted(r["version"] for r in rows) == ["R2023b", "R2023b", "R2024a"]


def _csv(client: TestClient, **params: Any) -> list[dict[str, str]]:
    answer = client.get("/v1/export", params={**WINDOW, "format": "csv", **params})
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_files_carry_the_products_columns(three_oses: TestClient) -> None:
    top = _csv(three_oses, query="top-apps", limit=100)
    assert list(top[0])[:5] == ["app", "product", "vendor", "category", "version"]
    word = next(r for r in top if r["app"] == "microsoft-word")
    assert (word["product"], word["vendor"], word["category"]) == ("Microsoft Word", "Microsoft",
                                                                   "office")  # fmt: skip
    versions = _csv(three_oses, query="top-apps", group_by="version", limit=100)
    assert {r["version"] for r in versions if r["app"] == "matlab"} == {"R2023b", "R2024a"}
    sessions = _csv(three_oses, query="sessions")  # paged: spooled page by page
    assert {r["version"] for r in sessions if r["product"] == "MATLAB"} == {"R2023b", "R2024a"}
    # The same columns from the analytics endpoint's own CSV.
    own = three_oses.get("/v1/analytics/top-apps", params={**WINDOW, "format": "csv"}).text
    assert own.splitlines()[0].startswith("app,product,vendor,category,version,")


def test_parquet_files_type_the_products_columns(three_oses: TestClient) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    answer = three_oses.get("/v1/export", params={**WINDOW, "query": "processes",
                                                   "format": "parquet"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    table = pq.read_table(io.BytesIO(answer.content))
    rows = table.to_pylist()
    assert {"product", "vendor", "category", "version"} <= set(table.column_names)
    assert {r["version"] for r in rows if r["product"] == "MATLAB"} == {"R2023b", "R2024a"}


def test_a_client_dataframe_has_the_products_columns(three_oses: TestClient) -> None:
    pytest.importorskip("pandas")
    from dream.client import Client

    frame = Client(http=three_oses).top_apps(group_by="version", dataframe=True, limit=100,
                                             from_=WINDOW["from"], to=WINDOW["to"])  # fmt: skip
    assert {"app", "product", "vendor", "category", "version"} <= set(frame.columns)
    assert set(frame[frame["app"] == "matlab"]["version"]) == {"R2023b", "R2024a"}


def test_interactive_ssh_is_use_and_sshd_is_the_systems(tmp_path: Path) -> None:
    """The client a user runs (ssh to a cluster, scp) counts as use; the daemon, its per-login
    children and the agent are the OS's."""
    from dream.catalog import Catalog
    from dream.parsing import parse

    listing = """USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root         812  0.0  0.1  15000  7000 ?        Ss   09:00   0:00 /usr/sbin/sshd -D
root        4100  0.0  0.1  16000  9000 ?        Ss   09:01   0:00 sshd: ana [priv]
ana         4120  0.0  0.1  16000  6000 ?        S    09:01   0:00 sshd: ana@pts/0
ana         4130  0.0  0.0   8000  4000 ?        Ss   09:01   0:00 ssh-agent -s
ana         4200  0.1  0.1  12000  6000 pts/0    S+   09:02   0:00 ssh -X ana@login.hpc.example.org
ana         4300  0.1  0.1  12000  6000 pts/1    S+   09:03   0:00 scp run.log hpc:
"""
    result = parse(listing, catalog=Catalog.load())
    seen = {(r.pid, r.app, r.is_system) for r in result.processes}
    assert seen == {(812, "openssh", True), (4100, "openssh", True), (4120, "openssh", True),
                    (4130, "openssh", True), (4200, "openssh-client", False),
                    (4300, "openssh-client", False)}  # fmt: skip


def test_export_checks_a_shared_parameter_against_its_question(three_oses: TestClient) -> None:
    """top-apps' and usage's `group_by` (and usage's and concurrency's `bucket`) take different
    values: the export passes each to its own question's rules, a 422 naming it otherwise."""
    assert _csv(three_oses, query="usage", group_by="faculty", bucket="day")
    for params in ({"query": "top-apps", "group_by": "host"},
                   {"query": "usage", "group_by": "version"},
                   {"query": "concurrency", "bucket": "month"}):  # fmt: skip
        answer = three_oses.get("/v1/export", params={**WINDOW, **params})
        assert answer.status_code == 422, (params, answer.text)
        name = "group_by" if "group_by" in params else "bucket"
        assert name in answer.text and params["query"] in answer.text, answer.text


def test_reprocess_fills_in_the_versions_of_rows_stored_without(database_url: str,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    """Rows stored before versions were (their column null) get them from `dream reprocess`,
    sessions too."""
    import psycopg
    import typer
    from typer.testing import CliRunner

    from dream.cli.raw import reprocess

    with direct_client(_settings(database_url, tmp_path)) as (client, _):
        _post_and_settle(client, _three_oses())
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE processes SET version = NULL")
        conn.execute("UPDATE sessions SET version = NULL")
    env = {"DREAM_DATABASE_URL": database_url, "DREAM_DATA_DIR": str(tmp_path),
           "DREAM_RAW_ROWS_RETENTION_DAYS": "3650"}  # fmt: skip
    command = typer.Typer()
    command.command()(reprocess)
    with mock.patch("dream.cli.wiring.configure_logging"):  # (CliRunner's stderr closes after)
        result = CliRunner().invoke(command, [], env=env)
    assert result.exit_code == 0, result.output
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT version FROM processes WHERE app = 'matlab'").fetchall()
        sessions = conn.execute("SELECT version FROM sessions WHERE app = 'matlab'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(s[0] for s in sessions) == [
        "R2023b", "R2023b", "R2024a"]
