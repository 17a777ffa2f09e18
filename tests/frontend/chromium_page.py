"""What the frontend tests do to a page: assert with a screenshot, keep it off the network, save
screenshots as artifacts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


def shown_name(item: dict[str, Any]) -> str:
    """How the page names an answer's item: its product's display name, else (an executable the
    catalog does not know) its app."""
    return item.get("product") or item["app"]


def check(pg: Any, condition: bool, message: str) -> None:
    """assert, with a screenshot of the page saved and named in the message on failure."""
    if not condition:
        path = pg.screenshot_path
        try:
            pg.screenshot(path=str(path), full_page=True)
            where = f"screenshot: {path}"
        except Exception as exc:
            where = f"(no screenshot: {exc})"
        raise AssertionError(f"{message}\n{where}\npage errors: {pg.errors}")


def artifact(pg: Any, name: str, element: Any = None) -> Path:
    """A screenshot of ``element`` (a selector or an element handle; else the whole page) kept as ``name``.png: under the directory
    ``DREAM_TEST_ARTIFACTS`` names (CI keeps it: .ci/run), else beside the test's own screenshot
    (its tmp_path)."""
    where = os.environ.get("DREAM_TEST_ARTIFACTS")
    directory = Path(where) if where else Path(pg.screenshot_path).parent
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    if element is None:
        pg.screenshot(path=str(path), full_page=True)
    else:
        (pg.locator(element) if isinstance(element, str) else element).screenshot(path=str(path))
    return path


def block_other_hosts(pg: Any) -> list[str]:
    """Abort every request to a host but this machine; the list it returns fills with their
    URLs, so a test can say what a page tried to fetch from elsewhere."""
    blocked: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in _LOCAL:
            r.continue_()
        else:
            blocked.append(url)
            r.abort()

    pg.route("**/*", route)
    return blocked


def wait_ready(pg: Any, contains: str = "") -> None:
    """Until the dashboard has drawn its view (the one whose URL holds ``contains``)."""
    selector = "body[data-state=ready]"
    if contains:
        selector = f'body[data-state=ready][data-view*="{contains}"]'
    try:
        pg.wait_for_selector(selector, timeout=30_000, state="attached")
    except Exception as exc:
        status = pg.inner_text("#status") if pg.query_selector("#status") else "?"
        check(pg, False, f"the dashboard did not finish loading ({selector}): {status}; {exc}")
