"""The dashboard's layout at a desktop's, a phone's and the narrowest width (1400, 400 and 360 px):
the page never scrolls sideways, no panel's content spills out of it (tables scroll inside their
``.scroll`` box), every ECharts chart on the page names its axes (panels added later are checked
too: every ``.plot``), and each panel's screenshot is kept (``chromium_page.artifact``). Then the
empty states: a faculty (or OS) nothing holds, typed into the URL, is named in every panel with
the closest one that exists; an empty answer says what was asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chromium_page import artifact, check, wait_ready
from served import Served

# What the page's layout measures: the page's and each panel's widths (scrolled and shown), and
# each ECharts chart's axis titles.
LAYOUT = """() => ({
  page: document.documentElement.scrollWidth, inner: innerWidth,
  panels: [...document.querySelectorAll('.panel')].map(p => ({
    id: p.id, scroll: p.scrollWidth, client: p.clientWidth,
    spill: [...p.querySelectorAll('*')].filter(e => !e.closest('.scroll'))
      .filter(e => e.getBoundingClientRect().right > p.getBoundingClientRect().right + 1)
      .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 5),
  })),
  charts: [...document.querySelectorAll('.plot')].map(d => {
    const chart = echarts.getInstanceByDom(d);
    if (!chart) return { id: d.id, drawn: false, text: d.textContent };
    const o = chart.getOption();
    return { id: d.id, drawn: true, x: o.xAxis.map(a => a.name), y: o.yAxis.map(a => a.name) };
  }),
})"""


@contextmanager
def opened(browser: Any, width: int, tmp_path: Path) -> Iterator[Any]:
    """A page of ``width`` × 900 px, its errors recorded as the ``page`` fixture's are."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.screenshot_path = tmp_path / f"layout-{width}.png"
    try:
        yield pg
    finally:
        context.close()


@pytest.mark.parametrize("width", [1920, 1400, 400, 360])
def test_no_overflow_axes_titled_and_panels_kept_as_screenshots(
    demo_server: Served, browser: Any, tmp_path: Path, width: int
) -> None:
    api = demo_server.url
    top = httpx.get(f"{api}/v1/analytics/top-apps", params={"limit": 1}).json()["items"][0]["app"]
    with opened(browser, width, tmp_path) as pg:
        pg.goto(f"{api}/#capp={top}&metric=memory")  # every chart drawn; memory in its unit
        wait_ready(pg, f"capp={top}")
        pg.wait_for_timeout(200)  # ECharts lays out on the next frame
        got = pg.evaluate(LAYOUT)
        check(pg, got["page"] <= got["inner"],
              f"{width} px: the page is {got['page']} px wide, it scrolls sideways")  # fmt: skip
        spilled = [p for p in got["panels"] if p["scroll"] > p["client"] or p["spill"]]
        check(pg, not spilled, f"{width} px: panels whose content spills out: {spilled}")
        if width >= 1400:  # wide enough for every column of the breakdown table
            table = pg.eval_on_selector("#panel-breakdown .scroll",
                                        "e => [e.scrollWidth, e.clientWidth]")  # fmt: skip
            check(pg, table[0] <= table[1], f"{width} px: the breakdown table scrolls: {table}")
        drawn = [c for c in got["charts"] if c["drawn"]]
        check(pg, {"usage-chart", "concurrency-chart"} <= {c["id"] for c in drawn},
              f"{width} px: charts drawn {got['charts']}")  # fmt: skip
        untitled = [c for c in drawn if not all(c["x"]) or not all(c["y"]) or not c["x"]]
        check(pg, not untitled, f"{width} px: axes without a title: {untitled}")
        artifact(pg, f"layout-{width}-page")
        for panel in pg.query_selector_all(".panel"):
            artifact(pg, f"layout-{width}-{panel.get_attribute('id')}", panel)

        # Memory reads in MiB (the api answers KiB), on the usage chart and in the table.
        usage = httpx.get(f"{api}/v1/analytics/usage", params={
            "bucket": "hour", "group_by": "faculty"}).json()  # fmt: skip
        figures = pg.evaluate("DreamPlots.figures('usage-chart')")
        want = {s["group"]: {p["bucket"]: None if p["avg_rss_kb"] is None else p["avg_rss_kb"] / 1024
                             for p in s["points"]} for s in usage["series"]}  # fmt: skip
        shown = {g: {t: v for t, v in points if t in {_ms(b) for b in want.get(g, {})}}
                 for g, points in figures.items()}  # fmt: skip
        want_ms = {g: {_ms(b): v for b, v in points.items()} for g, points in want.items()}
        check(pg, shown == want_ms, f"{width} px: memory drawn {shown}, the api's /1024 {want_ms}")
        heads = pg.eval_on_selector_all("#breakdown-table th", "ths => ths.map(t => t.textContent)")
        check(pg, "avg RSS (MiB)" in heads, f"breakdown columns {heads}")
        if width == 360:  # the filters in reading order by keyboard, each showing its focus
            pg.focus("#f-faculty")
            order = ["f-faculty"]
            for _ in range(6):
                pg.keyboard.press("Tab")
                order.append(pg.evaluate("document.activeElement.id"))
            want = ["f-faculty", "f-os", "f-category", "f-user", "f-range", "f-metric", "f-system"]
            check(pg, order == want, f"Tab goes {order}, want {want}")
            ring = pg.evaluate("(s => [s.outlineStyle, s.outlineWidth])"
                               "(getComputedStyle(document.activeElement))")  # fmt: skip
            check(pg, ring == ["solid", "2px"], f"the focused filter's outline: {ring}")
        check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_a_faculty_nothing_holds_is_named_with_the_closest_in_every_panel(
    demo_server: Served, page: Any
) -> None:
    pg = page
    api = demo_server.url
    refusal = httpx.get(f"{api}/v1/analytics/usage", params={"faculty": "laww"})
    check(pg, refusal.status_code == 422 and "closest known: law" in refusal.text,
          f"the api's answer to faculty=laww: {refusal.status_code} {refusal.text}")  # fmt: skip
    pg.goto(f"{api}/#faculty=laww")
    pg.wait_for_selector("body[data-state=error]", timeout=30_000, state="attached")
    said = "no snapshots for faculty laww; did you mean law?"
    shown = {
        "usage": pg.inner_text("#usage-chart"),
        "concurrency": pg.inner_text("#concurrency-chart"),
        "breakdown": pg.inner_text("#breakdown-table tbody"),
        "top-apps": pg.inner_text("#top-apps-chart"),
        "hours": pg.inner_text("#hours-chart"),
        "heatmap": pg.inner_text("#heatmap-chart"),
        "processes": pg.inner_text("#processes-count"),
    }
    check(pg, all(said in text for text in shown.values()), f"panels say {shown}, want {said!r}")
    check(pg, pg.query_selector("#usage-chart code").inner_text() == "laww", "the value as code")
    check(pg, pg.query_selector("#usage-chart canvas") is None, "a chart under the refusal")
    artifact(pg, "empty-faculty-laww")

    # An OS typo: the api names the closest of its fixed list.
    pg.goto(f"{api}/#os=linx")
    pg.wait_for_function(
        "() => document.querySelector('#usage-chart').textContent.includes('linx')"
    )
    text = pg.inner_text("#usage-chart")
    check(pg, text == "no snapshots for OS linx; did you mean linux?", f"usage panel says {text!r}")

    # An empty answer (a user nothing holds): what was asked, and what to change.
    pg.goto(f"{api}/#user=nobody-here&range=24h")
    wait_ready(pg, "user=nobody-here")
    text = pg.inner_text("#usage-chart")
    check(pg, text.startswith("no snapshots for user nobody-here, from ") and "(UTC)" in text
          and "widen the time range or clear a filter" in text, f"usage panel says {text!r}")  # fmt: skip
    text = pg.inner_text("#breakdown-table tbody")
    check(pg, "no snapshots for user nobody-here" in text, f"breakdown says {text!r}")
    text = pg.inner_text("#processes-count")
    check(pg, "no processes for user nobody-here" in text, f"processes panel says {text!r}")
    artifact(pg, "empty-user")
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
