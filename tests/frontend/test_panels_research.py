"""The dashboard's research panels in headless chromium, over `dream demo`'s data: compare two
cohorts (the answer in words), the executables' sizes per OS, fleet health. What each panel
shows is the api's answer, formatted as the panel formats it; its chart has a title and axis
titles with units; empty, withheld and failed answers are said in words and leave no chart.

A withheld answer needs a `query` key's k-anonymity floor, which the shared demo server (no
authentication) does not apply: those checks take the server's real answer and withhold in it
what the floor would (no rows, `suppressed`, `min_group_users`) before the page reads it.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from chromium_page import artifact, check, wait_ready
from served import Served

TESTS = {"fisher_exact": "Fisher's exact test", "two_proportion_z": "two-proportion z-test"}
OSES = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}

CHART = """id => {
  const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return { title: option.title[0].text, x: option.xAxis[0].name, rows: option.yAxis[0].data,
           series: option.series.filter(s => s.type === "bar").map(s => [s.name, s.data]),
           whiskers: option.series.filter(s => s.type === "custom").map(s => [s.name, s.data]) };
}"""


def pct(share: float) -> int:
    """A share as the page writes it: whole percent, halves up."""
    return int(Decimal(share * 100).quantize(Decimal(1), ROUND_HALF_UP))


def p_text(p: float, name: str = "p") -> str:
    if p < 0.001:
        return f"{name} < 0.001"
    return (
        f"{name} = {Decimal(p).quantize(Decimal('0.01' if p >= 0.01 else '0.001'), ROUND_HALF_UP)}"
    )


def sentence(row: dict[str, Any], a: str, b: str) -> str:
    """engineering 80 % [49–94 %] vs science 20 % [6–51 %], p = 0.02 (Fisher's exact test)"""
    sides = [f"{name} {pct(row[f'{s}_share'])} % [{pct(row[f'{s}_ci95_lo'])}–{pct(row[f'{s}_ci95_hi'])} %]"
             for name, s in ((a, "a"), (b, "b"))]  # fmt: skip
    return f"{sides[0]} vs {sides[1]}, {p_text(row['p_value'])} ({TESTS[row['test']]})"


def withhold(route: Any, **floor: Any) -> None:
    """The api's answer as a `query` key's floor leaves it: no rows, and how many withheld."""
    body = route.fetch().json()
    body.update(items=[], **floor)
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


def test_compare_says_the_apis_answer_in_words(demo_server: Served, page: Any) -> None:
    pg, api = page, demo_server.url
    asked = {"by": "faculty", "cohort": "host", "a": "engineering", "b": "science"}
    pg.goto(f"{api}/#cmp_app=matlab&cmp_a=engineering&cmp_b=science")
    wait_ready(pg)
    pg.wait_for_selector('#panel-compare[data-view*="app=matlab"]', state="attached")
    body = httpx.get(f"{api}/v1/analytics/compare", params={**asked, "app": "matlab"}).json()
    row = body["items"][0]
    check(pg, body["a"]["users"] > 0 and body["p_value"] is not None, f"api: {body}")
    said = pg.inner_text("#compare-answer")
    check(pg, said == sentence(row, "engineering", "science"), f"said {said!r}, the api's {row}")
    drawn = pg.evaluate(CHART, "compare-chart")
    check(pg, drawn["series"] == [["engineering", [row["a_share"] * 100]],
                                  ["science", [row["b_share"] * 100]]], f"bars {drawn}")  # fmt: skip
    check(pg, drawn["whiskers"][0][1] == [[row["a_ci95_lo"] * 100, row["a_ci95_hi"] * 100, 0]],
          f"engineering's interval {drawn['whiskers']}")  # fmt: skip
    check(
        pg,
        "%" in drawn["x"] and "matlab" in drawn["title"],
        f"axis {drawn['x']!r}, {drawn['title']!r}",
    )
    link = pg.get_attribute("#panel-compare a.rest-link", "href")
    check(pg, httpx.get(link).json()["items"] == body["items"], f"REST link {link}")
    cli = pg.inner_text("#panel-compare code.cli")
    check(pg, cli.startswith("dream query compare --a engineering --b science --cohort host")
          and "--app matlab" in cli, f"CLI line {cli!r}")  # fmt: skip
    artifact(pg, "compare-matlab")

    # Every application: the largest differences first, the first three in words.
    pg.select_option("#f-cmp-app", "")
    pg.wait_for_selector(f'#panel-compare[data-view="{"&".join(f"{k}={v}" for k, v in asked.items())}"]',
                         state="attached")  # fmt: skip
    items = httpx.get(f"{api}/v1/analytics/compare", params=asked).json()["items"]
    said = [li.inner_text() for li in pg.query_selector_all("#compare-answer li")]
    want = [f"{r['app']}: {sentence(r, 'engineering', 'science')}, {p_text(r['q_value'], 'q')}"
            for r in items[:3]]  # fmt: skip
    check(pg, said == want, f"said {said}, the api's {want}")
    drawn = pg.evaluate(CHART, "compare-chart")
    check(pg, drawn["rows"] == [r["app"] for r in items[:6]], f"rows {drawn['rows']}")
    artifact(pg, "compare-every-app")
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_compare_says_when_there_is_nothing_or_it_is_withheld(
    demo_server: Served, page: Any
) -> None:
    pg, api = page, demo_server.url
    # The demo's directory knows no user's faculty: by the users' faculty, no cohort has anyone.
    pg.goto(f"{api}/#cmp_app=matlab&cmp_a=law&cmp_b=arts&cmp_cohort=user")
    wait_ready(pg)
    pg.wait_for_selector('#panel-compare[data-view*="cohort=user"]', state="attached")
    body = httpx.get(f"{api}/v1/analytics/compare", params={"a": "law", "b": "arts", "app": "matlab",
                                                             "cohort": "user"}).json()  # fmt: skip
    check(pg, body["a"]["active_users"] == body["b"]["active_users"] == 0, f"api: {body}")
    empty, said = pg.inner_text("#compare-chart"), pg.inner_text("#compare-answer")
    check(pg, empty == "no active users in law nor arts (users' faculty) in this range"
          and said == "law: no active users vs arts: no active users"
          and pg.query_selector("#compare-chart canvas") is None, f"empty state {empty!r}, {said!r}")  # fmt: skip

    pg.route(
        "**/v1/analytics/compare?*",
        lambda r: withhold(
            r, suppressed=1, min_group_users=5, warnings=[], a=None, b=None, p_value=None
        ),
    )
    pg.select_option("#f-cmp-cohort", "host")
    pg.wait_for_selector('#panel-compare[data-view*="cohort=host"]', state="attached")
    note = pg.inner_text("#compare-note")
    check(pg, pg.inner_text("#compare-chart") == "matlab in law and arts (machines' faculty): withheld"
          and note == "1 answer withheld: a cohort counted fewer than 5 users (the floor of a `query` key)"
          and pg.inner_text("#compare-answer") == "",
          f"withheld: {pg.inner_text('#panel-compare')!r}")  # fmt: skip
    artifact(pg, "compare-withheld")
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def shown_sizes(pg: Any) -> dict[str, tuple[int, float, float]]:
    return {tr.get_attribute("data-os"): (int(tr.get_attribute("data-files")),
                                          float(tr.get_attribute("data-avg-bytes")),
                                          float(tr.get_attribute("data-median-bytes")))
            for tr in pg.query_selector_all("#executables-table tbody tr")}  # fmt: skip


def test_executables_panel_is_the_apis_per_os(demo_server: Served, page: Any) -> None:
    pg, api = page, demo_server.url
    pg.goto(f"{api}/")
    wait_ready(pg)
    files: dict[str, int] = {}
    for system in ("false", "true"):
        if system == "true":
            pg.select_option("#f-exe-system", "true")
            pg.wait_for_selector('#panel-executables[data-view*="system=true"]', state="attached")
        answers = {os: httpx.get(f"{api}/v1/analytics/executables",
                                 params={"os": os, "include_system": system}).json() for os in OSES}  # fmt: skip
        want = {os: (a["files"], a["avg_size_bytes"], a["median_size_bytes"])
                for os, a in answers.items() if a["files"]}  # fmt: skip
        check(pg, len(want) == 3, f"the demo's executables: {answers}")
        files[system] = sum(w[0] for w in want.values())
        check(pg, shown_sizes(pg) == want, f"{system}: shown {shown_sizes(pg)}, the api's {want}")
        cells = pg.inner_text("#executables-table tbody tr[data-os=macos]").split("\t")
        check(
            pg, cells[2] == f"{answers['macos']['avg_size_bytes'] / 1e6:.1f}", f"macOS row {cells}"
        )
        drawn = pg.evaluate(CHART, "executables-chart")
        check(pg, drawn["x"] == "file size (MB)" and drawn["rows"] == list(OSES.values())
              and drawn["series"][0] == ["mean", [w[1] / 1e6 for w in want.values()]],
              f"chart {drawn}")  # fmt: skip
        links = pg.query_selector_all("#panel-executables a.rest-link")
        check(pg, len(links) == 3 and all(f"include_system={system}" in a.get_attribute("href")
                                          for a in links), "one REST call per OS")  # fmt: skip
    check(pg, files["true"] > files["false"], f"system files counted too: {files}")
    artifact(pg, "executables")

    pg.fill("#f-user", "nobody-at-all")
    pg.press("#f-user", "Enter")
    wait_ready(pg, "user=nobody-at-all")
    empty = pg.inner_text("#executables-chart")
    check(pg, empty.startswith("no executables under these filters: 0 hosts reported")
          and shown_sizes(pg) == {}, f"empty state {empty!r}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_fleet_health_counts_the_apis_hosts(demo_server: Served, page: Any) -> None:
    pg, api = page, demo_server.url
    pg.goto(f"{api}/#faculty=law")
    wait_ready(pg, "faculty=law")
    hosts = httpx.get(f"{api}/v1/hosts", params={"faculty": "law", "limit": 1000}).json()["items"]
    counts = {k: sum(1 for h in hosts if (h["status"] or "never") == k)
              for k in ("reporting", "late", "silent", "never")}  # fmt: skip
    shown = {k: int(pg.inner_text(f"#fleet-{k}")) for k in counts}
    check(pg, hosts and shown == counts, f"shown {shown}, the api's {counts}")
    quiet = {h["host"] for h in hosts if h["status"] != "reporting"}
    rows = {
        tr.get_attribute("data-host") for tr in pg.query_selector_all("#fleet-table tr[data-host]")
    }
    check(pg, rows == quiet, f"hosts not reporting: shown {rows}, the api's {quiet}")
    if not quiet:
        said = pg.inner_text("#fleet-table tbody")
        check(pg, said == f"all {len(hosts)} hosts seen under these filters are reporting", said)
    check(
        pg, "/v1/hosts?faculty=law" in pg.get_attribute("#panel-fleet a.rest-link", "href"), "REST"
    )
    artifact(pg, "fleet")

    pg.route("**/v1/hosts?*", lambda r: withhold(r, suppressed=3, min_group_users=5))
    pg.select_option("#f-os", "windows")
    wait_ready(pg, "os=windows")
    note = pg.inner_text("#fleet-note")
    check(pg, note.startswith("3 hosts withheld: each counted fewer than 5 users")
          and pg.inner_text("#fleet-reporting") == "0", f"withheld note {note!r}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_research_panels_fit_a_phone_and_clear_on_an_api_error(demo_server: Served, browser: Any,
                                                               tmp_path: Any) -> None:  # fmt: skip
    context = browser.new_context(viewport={"width": 400, "height": 1400})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.screenshot_path = tmp_path / "phone.png"
    try:
        pg.goto(f"{demo_server.url}/#cmp_app=matlab&cmp_a=engineering&cmp_b=science")
        wait_ready(pg)
        pg.wait_for_selector('#panel-compare[data-view*="app=matlab"]', state="attached")
        for panel in ("panel-compare", "panel-executables", "panel-fleet"):
            over = pg.evaluate("id => { const p = document.getElementById(id);"
                               " return p.scrollWidth - p.clientWidth; }", panel)  # fmt: skip
            check(pg, over <= 0, f"#{panel} is {over} px wider than its box at 400 px")
        artifact(pg, "research-panels-400px")

        pg.route("**/v1/**", lambda route: route.abort("connectionrefused"))
        pg.select_option("#f-os", "macos")
        pg.wait_for_selector("body[data-state=error]", timeout=30_000, state="attached")
        for chart in ("compare-chart", "executables-chart"):
            check(pg, pg.query_selector(f"#{chart} canvas") is None
                  and "not shown" in pg.inner_text(f"#{chart}"), f"stale #{chart}")  # fmt: skip
        left = {"answer": pg.inner_text("#compare-answer"), "fleet": pg.inner_text("#fleet-reporting"),
                "sizes": pg.query_selector_all("#executables-table tbody tr"),
                "hosts": pg.query_selector_all("#fleet-table tbody tr")}  # fmt: skip
        check(pg, left == {"answer": "", "fleet": "–", "sizes": [], "hosts": []}, f"stale {left}")
        check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
    finally:
        context.close()
