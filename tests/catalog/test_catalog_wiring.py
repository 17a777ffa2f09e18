"""The catalog wired in: what the worker stores and the api answers is by product. Listings go
through the api, the direct pipeline and the worker (real PostgreSQL); a local catalog file and
`dream reprocess` re-attribute history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dream.catalog import Catalog
from dream.demo.history import generate
from dream.settings import Settings
from helpers import direct_client, snapshot_body, wait_for

pytestmark = pytest.mark.postgres

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
WINDOW = {"from": (HOUR - timedelta(days=3)).isoformat(),
          "to": (HOUR + timedelta(hours=4)).isoformat()}  # fmt: skip

TASKLIST = '''"Image Name","PID","Session Name","Session#","Mem Usage"
"WINWORD.EXE","4100","Console","1","184,220 K"
"chrome.exe","5120","Console","1","120,400 K"
"chrome.exe","5124","Console","1","80,100 K"
'''
MACOS = """USER   PID  %CPU %MEM      VSZ    RSS   TT  STAT STARTED      TIME COMMAND
ana    568   4.0  1.0  2534864  43136   ??  S     9:00AM   0:10.58 /Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word
ana    569   3.0  1.0  2534864  43136   ??  S     9:00AM   0:10.58 /Applications/Google Chrome.app/Contents/MacOS/Google Chrome
ana    570   2.0  1.0  2534864  43136   ??  S     9:00AM   0:10.58 /Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0.6099.71/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer) --type=renderer --lang=en
ana    571   9.0  3.0  2534864  43136   ??  S     9:00AM   0:10.58 /Applications/MATLAB_R2024a.app/bin/maca64/MATLAB
"""
LINUX = """USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
ana         4100  1.0  2.0 500000 80000 ?        Sl   09:00   0:10 /usr/lib/libreoffice/program/soffice.bin --writer --splash-pipe=5
ana         4200  3.0  2.0 500000 80000 ?        Sl   09:00   0:10 /opt/google/chrome/chrome
ana         4201  3.0  2.0 500000 80000 ?        Sl   09:00   0:10 /opt/google/chrome/chrome --type=renderer --field-trial-handle=1
ana         4300  9.0  5.0 900000 99000 ?        Sl   09:00   0:10 /usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB -nodesktop
ana         4400  1.0  1.0  90000  9000 ?        S    09:00   0:01 /opt/lab/bin/frobnicator --fast
"""
LOCAL = """[products.lab-frobnicator]
name = "Frobnicator"
vendor = "Physics Workshop"
category = "science"
linux = ["frobnicator"]
examples = ["/opt/lab/bin/frobnicator --fast"]
"""


def _settings(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, auth="off", batch_wait_s=0.05,
                    raw_rows_retention_days=3650, **extra)  # fmt: skip


def _post_and_settle(client: TestClient, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        assert client.post("/v1/snapshots", json=body).status_code == 202, body["host"]

    def settled() -> bool:
        return all(client.get(f"/v1/snapshots/{b['snapshot_id']}").json().get("status")
                   in ("stored", "failed") for b in bodies)  # fmt: skip

    wait_for(settled, timeout_s=120, what="every listing stored")


def _three_oses() -> list[dict[str, Any]]:
    """One user, ana, on three machines; plus bob on Linux (Chrome and Writer again): each
    listing's processes are its user's (the owners are who a snapshot counts for)."""
    at = HOUR.isoformat()
    return [
        snapshot_body(TASKLIST, host="law-pc-01", os="windows", user="ana", faculty="law",
                      collected_at=at, command="tasklist /fo csv"),
        snapshot_body(MACOS, host="law-mac-01", os="macos", user="ana", faculty="law",
                      collected_at=at, command="ps aux"),
        snapshot_body(LINUX, host="eng-lx-01", os="linux", user="ana", faculty="engineering",
                      collected_at=at, command="ps aux"),
        snapshot_body(LINUX.replace("ana ", "bob "), host="eng-lx-02", os="linux", user="bob",
                      faculty="engineering", collected_at=at, command="ps aux"),
    ]  # fmt: skip


@pytest.fixture
def three_oses(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with direct_client(_settings(database_url, tmp_path)) as (client, _):
        _post_and_settle(client, _three_oses())
        yield client


def _by_app(client: TestClient, **params: Any) -> dict[str, dict[str, Any]]:
    body = client.get("/v1/analytics/top-apps", params={**WINDOW, "limit": 100, **params})
    assert body.status_code == 200, body.text
    return {item["app"]: item for item in body.json()["items"]}


def test_one_product_whatever_each_os_calls_it(three_oses: TestClient) -> None:
    """WINWORD.EXE and Word.app are one product, counted once for the one user of both;
    LibreOffice Writer is another; Chrome on three OSes with its renderers and helpers is one;
    MATLAB R2023b (Linux) and R2024a (macOS) are one."""
    apps = _by_app(three_oses)
    word = apps["microsoft-word"]
    assert (word["product"], word["vendor"], word["category"]) == ("Microsoft Word", "Microsoft",
                                                                   "office")  # fmt: skip
    assert (word["users"], word["hosts"]) == (1, 2)  # ana, on Windows and on macOS
    assert apps["libreoffice-writer"]["product"] == "LibreOffice Writer"
    assert (apps["libreoffice-writer"]["users"], apps["libreoffice-writer"]["hosts"]) == (2, 2)
    chrome = apps["google-chrome"]
    assert (chrome["product"], chrome["users"], chrome["hosts"]) == ("Google Chrome", 2, 4)
    assert (apps["matlab"]["product"], apps["matlab"]["hosts"]) == ("MATLAB", 3)
    # No executable's own name stands beside its product.
    assert not {"winword", "chrome", "google chrome", "google chrome helper (renderer)",
                "microsoft word", "soffice.bin", "soffice", "matlab_r2024a"} & set(apps)  # fmt: skip
    # One the catalog does not know stays, under its executable's name, with no product.
    assert apps["frobnicator"]["product"] is None and apps["frobnicator"]["users"] == 2


def test_answers_carry_the_product_and_the_catalog(three_oses: TestClient) -> None:
    version = Catalog.load().version
    for path, params in (("analytics/top-apps", {}), ("analytics/breakdown", {"by": "app"}),
                         ("analytics/usage", {"group_by": "app"}), ("sessions", {}),
                         ("analytics/breakdown", {"by": "os"}), ("apps", {})):  # fmt: skip
        body = three_oses.get(f"/v1/{path}", params={**WINDOW, **params}).json()
        assert body.get("catalog") == version, (path, body)
        assert body.get("catalogs") == [version], (path, body)  # what named the stored rows
    before = three_oses.get("/v1/analytics/top-apps", params={"to": WINDOW["from"]}).json()
    assert before["catalogs"] == [] and before["items"] == []  # no row, no catalog
    breakdown = three_oses.get("/v1/analytics/breakdown", params={**WINDOW, "by": "app"}).json()
    assert {i["app"]: i["category"] for i in breakdown["items"]}["matlab"] == "mathematics"
    usage = three_oses.get("/v1/analytics/usage", params={**WINDOW, "group_by": "app"}).json()
    assert {s["group"]: s["product"] for s in usage["series"]}["google-chrome"] == "Google Chrome"
    sessions = three_oses.get("/v1/sessions", params={**WINDOW, "limit": 1000}).json()
    word = [s for s in sessions["items"] if s["app"] == "microsoft-word"]
    assert {s["name"] for s in word} == {"WINWORD.EXE", "Microsoft Word"}  # executables kept
    assert {s["vendor"] for s in word} == {"Microsoft"}


def test_catalog_unknown_lists_the_executables_with_no_product(three_oses: TestClient) -> None:
    from dream.cli.catalog import unknown_apps
    from dream.client import Client

    rows = unknown_apps(Client(http=three_oses), 50, WINDOW)
    assert [row["app"] for row in rows] == ["frobnicator"]
    assert (rows[0]["users"], rows[0]["hosts"]) == (2, 2) and rows[0]["hours"] > 0
    assert unknown_apps(Client(http=three_oses), 50, {"to": HOUR.isoformat()}) == []


def test_category_and_product_filters(three_oses: TestClient) -> None:
    office = _by_app(three_oses, category="office")
    assert set(office) == {"microsoft-word", "libreoffice-writer"}
    assert set(_by_app(three_oses, category="browser")) == {"google-chrome"}
    for name in ("Google Chrome", "google chrome", "GOOGLE-CHROME"):
        assert set(_by_app(three_oses, product=name)) == {"google-chrome"}, name
    assert set(_by_app(three_oses, product="frobnicator")) == {"frobnicator"}  # alias of app=
    assert _by_app(three_oses, category="office", product="MATLAB") == {}  # each narrows
    answer = three_oses.get("/v1/analytics/top-apps", params={**WINDOW, "category": "office"})
    assert answer.json()["filters"]["category"] == "office"
    hours = three_oses.get("/v1/analytics/breakdown",
                           params={**WINDOW, "by": "user", "category": "office"}).json()  # fmt: skip
    assert len({i["user"] for i in hours["items"]}) == 2  # ana and bob (pseudonymized)
    bad = three_oses.get("/v1/analytics/top-apps", params={"category": "spreadsheets"})
    assert bad.status_code == 422, bad.text
    assert "spreadsheets" in bad.text and "statistics" in bad.text and "office" in bad.text


def test_the_demo_top_ten_names_products_once(database_url: str, tmp_path: Path) -> None:
    bodies = list(generate(hosts=24, days=2, seed=3, now=HOUR))
    with direct_client(_settings(database_url, tmp_path)) as (client, _):
        _post_and_settle(client, bodies)
        top = client.get("/v1/analytics/top-apps", params={"limit": 10, "metric": "users"}).json()
    items = top["items"]
    assert len(items) == 10
    products = [item["product"] for item in items]
    assert None not in products, items  # every one is a product of the catalog
    assert len(set(products)) == 10 == len({item["app"] for item in items})
    assert {"Microsoft Word", "Google Chrome"} <= set(products), products


def test_a_local_catalog_and_reprocess_re_attribute_history(database_url: str,
                                                            tmp_path: Path) -> None:  # fmt: skip
    import typer

    from dream.cli.raw import reprocess

    built_in = Catalog.load().version
    with direct_client(_settings(database_url, tmp_path)) as (client, _):
        _post_and_settle(client, _three_oses())
        assert "frobnicator" in _by_app(client)
    local = tmp_path / "local.toml"
    local.write_text(LOCAL, encoding="utf-8")
    with direct_client(_settings(database_url, tmp_path, catalog_file=local)) as (client, dream):
        # The api runs the new catalog, the rows are still the old one's: the answer says both.
        answer = client.get("/v1/analytics/top-apps", params=WINDOW).json()
        assert (answer["catalog"], answer["catalogs"]) == (dream.catalog.version, [built_in])
        assert "frobnicator" in {i["app"] for i in answer["items"]}
        # A product of the local catalog no row has yet is no typo (unknown apps answer 422).
        asked = client.get("/v1/analytics/top-apps", params={**WINDOW, "app": "lab-frobnicator"})
        assert asked.status_code == 200 and asked.json()["items"] == [], asked.text
    env = {"DREAM_DATABASE_URL": database_url, "DREAM_DATA_DIR": str(tmp_path),
           "DREAM_CATALOG_FILE": str(local), "DREAM_RAW_ROWS_RETENTION_DAYS": "3650"}  # fmt: skip
    command = typer.Typer()
    command.command()(reprocess)
    with mock.patch("dream.cli.wiring.configure_logging"):  # (CliRunner's stderr closes after)
        result = CliRunner().invoke(command, [], env=env)
    assert result.exit_code == 0, result.output
    with direct_client(_settings(database_url, tmp_path, catalog_file=local)) as (client, dream):
        apps = _by_app(client)
        assert "frobnicator" not in apps
        frob = apps["lab-frobnicator"]
        assert (frob["product"], frob["category"], frob["users"]) == ("Frobnicator", "science", 2)
        assert set(_by_app(client, category="science")) >= {"lab-frobnicator"}
        answer = client.get("/v1/analytics/top-apps", params=WINDOW).json()
        assert answer["catalog"] == dream.catalog.version != built_in
        assert answer["catalogs"] == [dream.catalog.version]  # every row moved to the new one
        sessions = client.get("/v1/sessions",
                              params={**WINDOW, "app": "lab-frobnicator"}).json()  # fmt: skip
        assert {s["host"] for s in sessions["items"]} == {"eng-lx-01", "eng-lx-02"}
