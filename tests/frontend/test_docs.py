"""``/docs`` (Swagger UI) and ``/redoc`` in a real headless browser with every request to a host
but this machine aborted: both render the api's schema from assets the package serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chromium_page import block_other_hosts, check
from served import Served, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("docs") / "data") as served:
        yield served


def operations(url: str) -> set[tuple[str, str]]:
    schema = httpx.get(f"{url}/openapi.json").json()
    return {(method, path) for path, item in schema["paths"].items() for method in item}


def test_swagger_ui_renders_every_operation_offline(server: Served, page: Any) -> None:
    blocked = block_other_hosts(page)
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    shown = {
        (block.get_attribute("class").split("opblock-")[-1].split()[0],
         block.query_selector(".opblock-summary-path").get_attribute("data-path"))
        for block in page.query_selector_all(".opblock")
    }  # fmt: skip
    want = operations(server.url)
    check(page, shown == want, f"Swagger UI shows {len(shown)} operations, the schema has "
          f"{len(want)}: missing {want - shown}, extra {shown - want}")  # fmt: skip
    check(page, not blocked, f"/docs asked other hosts for {blocked}")
    check(page, not page.errors, f"JavaScript errors: {page.errors}")


def test_redoc_renders_offline(server: Served, page: Any) -> None:
    blocked = block_other_hosts(page)
    page.goto(f"{server.url}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    title = page.inner_text("h1")
    version = httpx.get(f"{server.url}/openapi.json").json()["info"]["version"]
    check(page, title.startswith("Dream") and version in title, f"ReDoc's title {title!r}")
    sections = page.query_selector_all('[data-section-id^="operation/"]')
    want = operations(server.url)
    check(page, len(sections) == len(want),
          f"ReDoc shows {len(sections)} operations, the schema has {len(want)}")  # fmt: skip
    check(page, not blocked, f"/redoc asked other hosts for {blocked}")
    check(page, not page.errors, f"JavaScript errors: {page.errors}")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_other_host(server: Served, path: str) -> None:
    page = httpx.get(f"{server.url}{path}")
    assert page.status_code == 200, page.text
    assert "https://" not in page.text and "http://" not in page.text, page.text
    assert "/dashboard/vendor/" in page.text, page.text
