"""The catalog on what listings really show: public ``ps`` and ``tasklist`` outputs read by the
real parsers, and the demo campus (its every application a product, its ranking by product)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from dream.catalog import Catalog
from dream.demo.campus import APPS, app_processes, campus
from dream.demo.listings import listing
from dream.parsing import parse
from helpers import shared_fixture

pytestmark = pytest.mark.unit

CATALOG = Catalog.load()


def _products(path_parts: tuple[str, ...]) -> dict[str, str | None]:
    """Each process name in a shared listing → the product its row matches (None: unknown)."""
    result = parse(shared_fixture(*path_parts).read_bytes())
    out: dict[str, str | None] = {}
    for row in result.processes:
        found = CATALOG.match(row.name, row.command, result.os)
        out.setdefault(row.name or "", None if found is None else found.product)
    return out


def test_a_public_macos_listing_names_its_applications() -> None:
    seen = _products(("public-jc", "osx-10.14.6--ps-axu.out"))
    assert seen["Microsoft Outlook"] == "microsoft-outlook"
    assert seen["Sublime Text"] == seen["plugin_host"] == "sublime-text"  # its plugin host folds in
    assert seen["Docker"] == seen["com.docker.backend"] == "docker-desktop"
    assert seen["Terminal"] == "apple-terminal"
    assert seen["Python"] == "python"
    assert seen["jamfAgent"] == "jamf"
    assert seen["Finder"] == "apple-finder"


def test_an_older_macos_listing_keeps_arguments_out_of_the_match() -> None:
    seen = _products(("public-jc", "osx-10.11.6--ps-axu.out"))
    assert seen["codesign"] is None  # it names PowerPoint.app as an argument; it is not PowerPoint
    assert seen["Microsoft Update Assistant"] == "microsoft-autoupdate"
    assert seen["iTunesHelper"] == "apple-music"


def test_linux_listings_name_shells_and_daemons() -> None:
    seen = _products(("public-jc", "ubuntu-18.04--ps-axu.out"))
    assert seen["-bash"] == seen["bash"] == "unix-shell"
    assert seen["sshd:"] == "openssh"
    assert seen["sleep"] is None  # unknown: the caller keeps the executable name


@pytest.mark.parametrize("sample", ["windows-tasklist.txt", "windows-tasklist-v.txt"])
def test_tasklist_image_names_are_products(sample: str) -> None:
    seen = _products(("samples", sample))
    assert seen["matlab.exe"] == "matlab"
    assert seen["Code.exe"] == "visual-studio-code"
    assert seen["OneDrive.exe"] == "microsoft-onedrive"


# ------------------------------------------------------------------ the demo campus

def _demo_products(app: str, os: str) -> set[str | None]:
    rows = app_processes(app, os, random.Random(f"{app}/{os}"))
    return {None if (m := CATALOG.match(None, row.command, os)) is None else m.product
            for row in rows}  # fmt: skip


def test_every_demo_application_is_one_product_per_os() -> None:
    for app, spec in APPS.items():
        for os in ("windows", "macos", "linux"):
            if os in spec:
                products = _demo_products(app, os)
                assert len(products) == 1 and None not in products, (app, os, products)


def test_no_product_stands_for_two_demo_applications() -> None:
    owner: dict[str, str] = {}
    for app, spec in APPS.items():
        for os in ("windows", "macos", "linux"):
            for product in _demo_products(app, os) if os in spec else ():
                assert product is not None
                assert owner.setdefault(product, app) == app, (product, owner[product], app)


def test_the_demo_top_ten_by_product_has_no_product_twice() -> None:
    """Ranked as the dashboard ranks (distinct users), by product, over demo listings read by
    the real parsers: every user application is a product, and names that counted one product
    two or three times (chrome / google chrome, winword / microsoft word) count it once."""
    rng = random.Random("catalog/demo")
    users: dict[str, set[tuple[str, str]]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    for host in campus(24, ("law", "medicine", "engineering", "arts", "science", "business"), 7):
        for hour in range(0, 9, 2):
            text, _ = listing(host, host.users[hour % len(host.users)], start + timedelta(hours=hour), rng)
            result = parse(text.encode())
            for row in result.processes:
                if row.is_system:
                    continue
                found = CATALOG.match(row.name, row.command, result.os)
                assert found is not None, (row.name, row.command)
                users[found.product].add((host.name, row.user or ""))
                names[found.product].add(row.app or "")
    top = sorted(users, key=lambda product: -len(users[product]))[:10]
    assert len(set(top)) == 10
    assert "google-chrome" in top and len(names["google-chrome"]) >= 2
    assert len(names["microsoft-word"]) >= 2 and len(names["microsoft-teams"]) >= 2


def test_windows_listings_with_paths_give_versions() -> None:
    """Get-Process (CSV) and wmic carry the executable's path: the version shows there."""
    header = ('#TYPE System.Diagnostics.Process\r\n"Name","Path","Id","ProcessName","SessionId",'
              '"WorkingSet64"\r\n')  # fmt: skip
    rows = [("WINWORD", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", 4100),
            ("MATLAB", "C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe", 9911),
            ("chrome", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", 7300)]
    csv = header + "".join(f'"{name}","{path}","{pid}","{name}","1","1000"\r\n'
                           for name, path, pid in rows)  # fmt: skip
    result = parse(csv.encode())
    found = {row.pid: CATALOG.match(row.name, row.command, result.os) for row in result.processes}
    assert {pid: (m.product, m.version) if m else None for pid, m in found.items()} == {
        4100: ("microsoft-word", "16"), 9911: ("matlab", "R2023b"), 7300: ("google-chrome", None)}
    wmic = ("\r\r\n\r\r\nCommandLine=\"C:\\Program Files\\MATLAB\\R2024a\\bin\\win64\\MATLAB.exe\" -nosplash\r\r\n"
            "ExecutablePath=C:\\Program Files\\MATLAB\\R2024a\\bin\\win64\\MATLAB.exe\r\r\n"
            "Name=MATLAB.exe\r\r\nParentProcessId=7020\r\r\nProcessId=9911\r\r\nWorkingSetSize=535556096\r\r\n")  # fmt: skip
    listed = parse(wmic.encode())
    (row,) = listed.processes
    match = CATALOG.match(row.name, row.command, listed.os)
    assert match is not None and (match.product, match.version) == ("matlab", "R2024a")
