"""The browser the frontend tests drive: Debian's chromium through Playwright, one per module,
a fresh context (1300 × 1400) per test whose page records its JavaScript errors and where its
screenshot goes (``chromium_page.check``); and one `dream serve` holding `dream demo`'s data,
shared by every page test (and one with an academic calendar, for its module)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import unavailable
from served import Served, dream_env, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (it is in the dev extras)")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 1400})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    pg.screenshot_path = tmp_path / f"{request.node.name}.png"
    yield pg
    context.close()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`dream serve` (embedded database) after `dream demo --hosts 20 --days 2` through its api."""
    root = tmp_path_factory.mktemp("dashboard")
    with serve(root / "data") as served:
        demo(served, hosts=20, days=2)
        yield served


def demo(served: Served, *, hosts: int, days: int) -> None:
    """`dream demo` posts ``hosts`` machines' last ``days`` days to ``served``."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dream", "demo", "--url", served.url, "--hosts", str(hosts),
         "--days", str(days)],
        env=dream_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"dream demo --hosts {hosts} --days {days}: {time.monotonic() - started:.1f}s; "
          f"{done.stdout.strip()}")  # fmt: skip


@pytest.fixture(scope="module")
def calendar_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`dream serve` with a calendar of two terms, the first ending the day before yesterday
    (campus days, UTC) and the second starting yesterday, after `dream demo --hosts 6 --days 2`
    (its last 48 hours: use in both terms)."""
    root = tmp_path_factory.mktemp("calendar")
    today = datetime.now(UTC).date()
    calendar = root / "calendar.toml"
    calendar.write_text(f"""tz = "UTC"
[[terms]]
id = "2026-before"
start = {today - timedelta(days=22)}
end = {today - timedelta(days=2)}
teaching_weeks = 3

[[terms]]
id = "2026-now"
start = {today - timedelta(days=1)}
end = {today + timedelta(days=33)}
teaching_weeks = 4
exam_weeks = 1
""", encoding="utf-8")  # fmt: skip
    with serve(root / "data", DREAM_CALENDAR_FILE=str(calendar)) as served:
        demo(served, hosts=6, days=2)
        yield served
