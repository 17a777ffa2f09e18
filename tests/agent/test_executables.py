"""Executables' facts end to end: macOS listings posted with their executables through the api
(direct pipeline and Kafka) into real PostgreSQL, then "the average file size of non-system
executables on macOS" asked of GET /v1/analytics/executables."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from dream.settings import Settings
from dream.storage.executables import is_system
from helpers import direct_client, pipeline_settings, snapshot_body, wait_for

MACOS_PS = """\
USER               PID  %CPU %MEM      VSZ    RSS   TT  STAT STARTED      TIME COMMAND
jdoe               501   1.0  0.5  4000000  50000   ??  S     9:00AM   0:01.00 /Applications/Stata/StataMP.app/Contents/MacOS/StataMP
root                 1   0.0  0.1  4000000  10000   ??  Ss    8:00AM   0:10.00 /sbin/launchd
"""
STATA = "/Applications/Stata/StataMP.app/Contents/MacOS/StataMP"


def fact(path: str, size: int, signer: str | None, version: str = "") -> dict[str, Any]:
    digest = hashlib.sha256(f"{path}{version}".encode()).hexdigest()
    return {"path": path, "size_bytes": size, "sha256": digest, "signer": signer}


SYSTEM = [
    fact("/sbin/launchd", 1_200_000, "Software Signing"),
    fact("/System/Applications/Safari.app/Contents/MacOS/Safari", 9_000_000, "Software Signing"),
    fact("/usr/libexec/logd", 800_000, None),  # unsigned, but where only the OS puts files
    fact("/Applications/Safari.app/Contents/MacOS/Safari", 9_100_000, "Software Signing"),
]
NON_SYSTEM = {
    "stata": fact(STATA, 50_000_000, "Developer ID Application: StataCorp LLC (ABCDE12345)"),
    "tool": fact("/Users/jdoe/bin/tool", 1_000, "adhoc"),
    "app-store": fact("/Applications/Foo.app/Contents/MacOS/Foo", 3_000_000,
                      "Apple Mac OS Application Signing"),  # fmt: skip
    "local": fact("/usr/local/bin/tool2", 2_000_000, None),
}


@pytest.fixture(params=["direct", "kafka"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    return pipeline_settings(request, database_url, tmp_path)


def post(client: TestClient, **overrides: Any) -> None:
    # The sent user owns the listing's app, so that is who the snapshot counts for.
    listing = MACOS_PS.replace("jdoe" + " " * 15, f"{overrides.get('user', 'msmith'):<19}")
    body = snapshot_body(listing, **{"os": "macos", "command": "ps auxww", **overrides})
    answer = client.post("/v1/snapshots", json=body)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: client.get(f"/v1/snapshots/{body['snapshot_id']}").json().get("status")
             in ("stored", "failed"), what="the snapshot stored")  # fmt: skip


def test_the_average_size_of_non_system_executables_on_macos(settings: Settings) -> None:
    n = NON_SYSTEM
    with direct_client(settings) as (client, _):
        post(client, host="mac-01", user="jdoe",
             executables=[*SYSTEM, n["stata"], n["tool"], n["app-store"]])  # fmt: skip
        post(client, host="mac-01", user="asmith", executables=[n["stata"]])  # seen again
        post(client, host="mac-02", user="bob", executables=[SYSTEM[0], n["stata"], n["local"]])
        # Another OS's big file, and a Stata updated on one host (another file: new content).
        post(client, host="linux-01", os="linux", command="ps aux", user="eve",
             executables=[fact("/opt/matlab/bin/matlab", 900_000_000, None)])  # fmt: skip
        answer = client.get("/v1/analytics/executables", params={"os": "macos"})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        with_system = client.get("/v1/analytics/executables",
                                 params={"os": "macos", "include_system": "true"}).json()  # fmt: skip
        bobs = client.get("/v1/analytics/executables", params={"os": "macos", "user": "bob"}).json()
        statamp = client.get("/v1/analytics/executables", params={"app": "statamp"}).json()

    sizes = [f["size_bytes"] for f in n.values()]  # each file once, though Stata is on 2 hosts
    assert got["files"] == 4
    assert got["avg_size_bytes"] == pytest.approx(statistics.mean(sizes), abs=0.1)
    assert got["median_size_bytes"] == pytest.approx(statistics.median(sizes))
    assert got["total_size_bytes"] == sum(sizes)
    per_host = [*sizes, n["stata"]["size_bytes"]]  # weighted by installations
    assert got["avg_size_bytes_per_host"] == pytest.approx(statistics.mean(per_host), abs=0.1)
    stata = got["items"][0]
    assert (stata["path"], stata["hosts"], stata["users"]) == (STATA, 2, 3)
    assert stata["signer"].startswith("Developer ID Application: StataCorp")
    # Home directories' names are scrubbed from paths, as from command lines.
    assert {i["path"] for i in got["items"]} == {
        STATA, "/Users/[user]/bin/tool", n["app-store"]["path"], n["local"]["path"]}

    assert with_system["files"] == 8  # launchd on two hosts is one file
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:  # type: ignore[union-attr]
        # The direct pipeline's pending copies are cleared once written.
        assert conn.execute("SELECT count(*) FROM snapshots WHERE executables IS NOT NULL"
                            ).fetchone() == (0,)  # fmt: skip
    assert {i["path"] for i in bobs["items"]} == {STATA, "/usr/local/bin/tool2"}
    assert [(i["path"], i["app"]) for i in statamp["items"]] == [(STATA, "statamp")]
    assert statamp["coverage"]["hosts"] == 3  # the hosts that reported (any app)


def test_bad_executables_are_refused_naming_the_field(settings: Settings) -> None:
    with direct_client(settings) as (client, _):
        for bad, field in (({"path": "StataMP"}, "path"), ({"sha256": "xyz"}, "sha256"),
                           ({"size_bytes": -1}, "size_bytes")):  # fmt: skip
            body = snapshot_body(MACOS_PS, os="macos",
                                 executables=[{**NON_SYSTEM["tool"], **bad}])  # fmt: skip
            answer = client.post("/v1/snapshots", json=body)
            assert answer.status_code == 422, answer.text
            assert field in answer.text and "executables" in answer.text


@pytest.mark.parametrize(("os_name", "path", "signer", "system"), [
    ("macos", "/usr/libexec/logd", "Software Signing", True),
    ("macos", "/usr/libexec/thirdparty", "Developer ID Application: X (A1)", False),  # signer first
    ("macos", "/sbin/mount_x", None, True),
    ("macos", "/Applications/Foo.app/Contents/MacOS/Foo", "adhoc", False),
    ("windows", r"C:\Windows\explorer.exe", "Microsoft Windows", True),
    ("windows", r"C:\Windows\System32\vendor.exe", "Intel Corporation", False),
    ("windows", r"C:\Windows\System32\unsigned.exe", None, True),
    ("windows", r"C:\Program Files\Stata18\StataMP-64.exe", None, False),
    ("linux", "/usr/bin/bash", "dpkg:bash", True),
    ("linux", "/opt/google/chrome/chrome", "dpkg:google-chrome-stable", False),
    ("linux", "/usr/local/bin/tool", None, False),
    ("linux", "/usr/lib/x/unowned", None, True),
])  # fmt: skip
def test_what_is_system_per_os(os_name: str, path: str, signer: str | None, system: bool) -> None:
    assert is_system(os_name, path, signer) is system
