"""The top products, hours over time and week × hour panels in a real headless browser, over the
demo data: the numbers each chart draws are the api's, its axes are titled with units, and a
product with no use in the range gets words, not an empty frame. Each panel's screenshot is kept
(chromium_page.artifact)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import pytest
from statsmodels.stats.proportion import proportion_confint

from chromium_page import artifact, check, shown_name, wait_ready
from served import Served

# What an ECharts chart draws: each series' data, the axes' names, each y axis' ticks.
DRAWN = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  if (!chart) return null;
  const option = chart.getOption(), model = chart.getModel();
  const axes = (kind) => option[kind].map((a, i) => ({ name: a.name, data: a.data || null,
    ticks: model.getComponent(kind, i).axis.scale.getTicks().map((t) => t.value) }));
  return { series: Object.fromEntries(option.series.map((s) => [s.name, s.data])),
           x: axes("xAxis"), y: axes("yAxis"), title: ((option.title || [])[0] || {}).text || "" };
}"""


def answer_of(url: str, **params: Any) -> Any:
    """The api's JSON answer (a loaded machine may take a while: no 5 s default)."""
    return httpx.get(url, params=params or None, timeout=60).json()  # None: the URL's own query


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


PANELS = ("panel-top-apps", "panel-hours", "panel-heatmap")


def fits(pg: Any, width: int) -> None:
    """Each panel's content within its width (nothing scrolls sideways); its screenshot kept."""
    for panel in PANELS:
        wide = pg.evaluate(f"(() => {{ const p = document.getElementById('{panel}');"
                           " return [p.scrollWidth, p.clientWidth]; })()")  # fmt: skip
        check(pg, wide[0] <= wide[1], f"{panel} overflows its width at {width} px: {wide}")
        artifact(pg, f"{panel}-{width}px", f"#{panel}")


def top_by_hours(api: str) -> tuple[str, str]:
    """The app most used by hours, and its product's display name."""
    top = answer_of(f"{api}/v1/analytics/top-apps", limit=1, metric="hours")["items"][0]
    return top["app"], shown_name(top)


def switched(pg: Any, api: str, choices: dict[str, str], view: str,
             **params: str) -> tuple[list[dict[str, Any]], Any]:  # fmt: skip
    """The top products panel after choosing ``choices`` (selector: value): the api's top 10
    under ``params`` and what the panel draws."""
    for selector, value in choices.items():
        pg.select_option(selector, value)
    wait_ready(pg, view)
    answer = answer_of(f"{api}/v1/analytics/top-apps", limit=10, **params)["items"]
    return answer, pg.evaluate(DRAWN, "top-apps-chart")


def test_top_products_by_share_with_intervals_and_by_version(demo_server: Served, page: Any) -> None:
    pg, api = page, demo_server.url
    pg.goto(f"{api}/#measure=share")
    wait_ready(pg, "measure=share")
    answer = answer_of(f"{api}/v1/analytics/top-apps", limit=10)["items"]
    check(pg, len(answer) >= 5, f"api: {answer}")
    for i in answer:  # the interval the api gives is statsmodels' Wilson interval of the share
        lo, hi = proportion_confint(i["users"], i["active_users"], method="wilson")
        check(pg, (i["share_ci95_lo"], i["share_ci95_hi"]) == pytest.approx((lo, hi)), f"{i}")
    drawn = pg.evaluate(DRAWN, "top-apps-chart")
    labels = drawn["y"][0]["data"]  # the products by their display names (the demo's are known)
    check(pg, labels == [i["product"] for i in answer] and None not in labels,
          f"bars {labels}, the api's {answer}")  # fmt: skip
    bars = [d["value"] for d in drawn["series"]["share of active users (%)"]]
    check(pg, bars == [i["share_users"] * 100 for i in answer], f"shares drawn {bars}")
    whiskers = drawn["series"]["95 % interval"]
    want = [[i["share_ci95_lo"] * 100, i["share_ci95_hi"] * 100, k] for k, i in enumerate(answer)]
    check(pg, whiskers == want, f"intervals drawn {whiskers}, the api's {want}")
    check(pg, all(lo <= v <= hi for v, (lo, hi, _) in zip(bars, whiskers, strict=True)),
          "each share lies inside its interval")  # fmt: skip
    check(pg, drawn["x"][0]["name"] == "share of active users (%)", f"x axis {drawn['x']}")
    artifact(pg, "top-products-share", "#panel-top-apps")

    answer, drawn = switched(pg, api, {"#f-measure": "hours", "#f-grouping": "version"},
                             "grouping=version", metric="hours", group_by="version")  # fmt: skip
    shown = dict(zip(drawn["y"][0]["data"],
                     [d["value"] for d in drawn["series"]["hours of use (h)"]], strict=True))  # fmt: skip
    want = {f"{shown_name(i)} {i['version'] if i['version'] is not None else '(version not shown)'}":
            i["hours"] for i in answer}  # fmt: skip
    check(pg, shown == want and len(want) >= 3, f"versions drawn {shown}, the api's {want}")
    check(pg, drawn["x"][0]["name"] == "hours of use (h)", f"x axis {drawn['x']}")
    cli = pg.inner_text("#panel-top-apps code.cli")
    check(pg, "--group-by version" in cli and "--metric hours" in cli, f"CLI line {cli!r}")
    artifact(pg, "top-products-versions", "#panel-top-apps")

    # A category of the catalog (offered as those of the apps in use): its products alone.
    categories = [o for o in pg.eval_on_selector_all("#f-category option", "os => os.map(o => o.value)") if o]
    check(pg, "office" in categories and "browser" in categories, f"categories offered {categories}")
    answer, drawn = switched(pg, api, {"#f-grouping": "product", "#f-category": "office"},
                             "category=office", metric="hours", category="office")  # fmt: skip
    check(pg, drawn["y"][0]["data"] == [i["product"] for i in answer] and answer
          and {i["category"] for i in answer} == {"office"}, f"office drawn {drawn['y']}, {answer}")  # fmt: skip
    cli = pg.inner_text("#panel-top-apps code.cli")
    check(pg, "--category office" in cli, f"CLI line {cli!r}")

    # The status line says which catalog named the products, and when part of the range was
    # grouped by another (an answer as the api gives it after a catalog change, not reprocessed).
    catalog = answer_of(f"{api}/v1/analytics/top-apps", limit=1)["catalog"]
    status = pg.inner_text("#status")
    check(pg, f"products of catalog {catalog}" in status and "grouped by" not in status, status)

    def older(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        body["catalogs"] = [catalog, "2026.1.0+0ld"]
        route.fulfill(response=answer, json=body)

    pg.route("**/v1/analytics/top-apps?*", older)
    pg.select_option("#f-category", "browser")
    wait_ready(pg, "category=browser")
    status = pg.inner_text("#status")
    check(pg, "grouped by catalog 2026.1.0+0ld: dream reprocess re-attributes it" in status, status)
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_hours_over_time_and_week_hour_heatmap_are_the_apis(demo_server: Served, page: Any) -> None:
    pg, api = page, demo_server.url
    app, name = top_by_hours(api)
    pg.goto(f"{api}/")
    wait_ready(pg)
    check(pg, "choose an application" in pg.inner_text("#hours-chart"), "no application chosen")
    pg.focus("#f-happ")  # the picker is a <select>: chosen from the keyboard
    pg.select_option("#f-happ", app)  # offered by name, chosen by id
    picked = pg.eval_on_selector("#f-happ", "s => s.selectedOptions[0].textContent")
    check(pg, picked == name, f"the picker shows {picked!r}, the product is {name!r}")
    wait_ready(pg, f"happ={app}")

    # auto over two days of data: hourly, and the page says it chose so.
    usage = answer_of(f"{api}/v1/analytics/usage", app=app, bucket="hour")
    points = usage["series"][0]["points"]
    check(pg, len(points) > 10, f"api: {usage}")
    note = pg.inner_text("#hours-note")
    check(pg, "auto chose hourly" in note and f"{usage['coverage']['hosts']} hosts reported" in note,
          f"note {note!r}")  # fmt: skip
    drawn = pg.evaluate(DRAWN, "hours-chart")
    want = [[epoch_ms(p["bucket"]), p["hours"]] for p in points]
    check(pg, drawn["series"]["hours of use"] == want, f"hours drawn {drawn['series']}, the api's {want}")
    reporting = answer_of(f"{api}/v1/analytics/usage", bucket="hour", include_system="true")
    hosts = [[epoch_ms(p["bucket"]), p["hosts"]] for p in reporting["series"][0]["points"]]
    check(pg, drawn["series"]["hosts reporting"] == hosts, f"coverage drawn, the api's {hosts}")
    check(pg, [a["name"] for a in drawn["y"]] == ["hours of use (h)", "hosts reporting"]
          and drawn["x"][0]["name"] == "hour (UTC)" and name in drawn["title"],
          f"axes {drawn['x']} {drawn['y']}, title {drawn['title']!r}")  # fmt: skip
    check(pg, all(float(t).is_integer() for t in drawn["y"][1]["ticks"]),
          f"hosts ticks {drawn['y'][1]['ticks']} are not whole hosts")  # fmt: skip
    link = pg.get_attribute("#panel-hours a.rest-link", "href")
    check(pg, answer_of(link)["series"] == usage["series"], f"REST link {link}")
    artifact(pg, "hours-over-time", "#panel-hours")

    # The heatmap: each cell is the sum of the api's hourly buckets on that weekday and hour.
    sums: dict[tuple[int, int], float] = defaultdict(float)
    for p in points:
        t = datetime.fromisoformat(p["bucket"].replace("Z", "+00:00"))
        sums[(t.hour, t.weekday())] += p["hours"]
    drawn = pg.evaluate(DRAWN, "heatmap-chart")
    cells = {(h, d): v for h, d, v in drawn["series"]["hours of use"]}
    check(pg, cells == pytest.approx(dict(sums)) and len(cells) > 10,
          f"heatmap cells {cells}, the api's hourly sums {dict(sums)}")  # fmt: skip
    check(pg, (drawn["x"][0]["name"], drawn["y"][0]["name"]) == ("hour of day (UTC)", "day of week")
          and name in drawn["title"], f"heatmap axes {drawn['x']} {drawn['y']} {drawn['title']!r}")  # fmt: skip
    cli = pg.inner_text("#panel-heatmap code.cli")
    check(pg, cli.startswith("dream query usage") and f"--app {app}" in cli
          and "--bucket hour" in cli, f"CLI line {cli!r}")  # fmt: skip
    artifact(pg, "week-hour-heatmap", "#panel-heatmap")
    fits(pg, 1300)

    # The api stops answering: none of the three keeps the previous view's chart.
    pg.route("**/v1/**", lambda route: route.abort("connectionrefused"))
    pg.select_option("#f-hbucket", "day")
    pg.wait_for_selector("body[data-state=error]", timeout=30_000, state="attached")
    texts = {p: pg.inner_text(f"#{p}-chart") for p in ("top-apps", "hours", "heatmap")}
    check(pg, all("not shown" in t for t in texts.values())
          and not pg.query_selector_all(".plot canvas"), f"stale charts: {texts}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_a_product_without_use_in_the_range_says_so_at_400px(demo_server: Served, browser: Any,
                                                             tmp_path: Any) -> None:  # fmt: skip
    api = demo_server.url
    app, name = top_by_hours(api)
    context = browser.new_context(viewport={"width": 400, "height": 1400})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.screenshot_path = tmp_path / "empty.png"
    try:
        pg.goto(f"{api}/#range=custom&from=2020-01-06T00:00&to=2020-01-07T00:00&happ={app}")
        wait_ready(pg, f"happ={app}")
        texts = {p: pg.inner_text(f"#{p}-chart") for p in ("top-apps", "hours", "heatmap")}
        seen = next(i for i in answer_of(f"{api}/v1/apps", q=app)["items"] if i["app"] == app)
        ran = f"{name} ran from {seen['first_seen'][:10]} to {seen['last_seen'][:10]}"
        check(pg, "no application was in use" in texts["top-apps"] and ran in texts["hours"]
              and f"no hours of use of {name}" in texts["hours"]
              and f"no hours of use of {name}" in texts["heatmap"], f"empty states {texts}")  # fmt: skip
        check(pg, pg.query_selector_all("#top-apps-chart canvas, #hours-chart canvas, #heatmap-chart canvas")
              == [], "a chart drawn for no data")  # fmt: skip
        artifact(pg, "hours-no-use-in-range", "#panel-hours")

        pg.goto(f"{api}/#happ={app}")  # the same product over all time: drawn, inside its panel
        wait_ready(pg, "range=all")
        fits(pg, 400)
        check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
    finally:
        context.close()
