"""The dashboard in a real headless browser (Debian's chromium driven by Playwright).

`dream serve` (subprocess, embedded database), `dream demo --hosts 20 --days 2` through its api,
then the page: the default view's charts are not empty, and after picking a faculty the numbers
on the page are those the api answers for that faculty. On failure a screenshot is saved and
its path is in the assertion message.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from chromium_page import check, shown_name, wait_ready
from served import Served


# The top products chart (products.js, ECharts): each bar's label, value and value label.
TOP_BARS = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById("top-apps-chart"));
  if (!chart) return [];
  const option = chart.getOption();
  return option.yAxis[0].data.map((label, i) => [label, option.series[0].data[i]]);
}"""


def shown_bars(pg: Any) -> dict[str, float]:
    return {label: bar["value"] for label, bar in pg.evaluate(TOP_BARS)}


def shown_breakdown(pg: Any) -> dict[str, dict[str, str]]:
    rows = {}
    for tr in pg.query_selector_all("#breakdown-table tbody tr[data-label]"):
        cells = {td.get_attribute("data-column"): td.get_attribute("title")
                 for td in tr.query_selector_all("td[data-column]")}  # fmt: skip
        rows[tr.get_attribute("data-label")] = cells
    return rows


def test_dashboard_shows_the_demo_and_follows_the_faculty_filter(
    demo_server: Served, page: Any
) -> None:
    started = time.monotonic()
    pg = page
    api = demo_server.url
    pg.goto(f"{api}/")
    wait_ready(pg)

    # No academic calendar: no Term filter and no calendar bucket offered.
    offered = pg.eval_on_selector_all("#f-bucket option, #f-hbucket option", "os => os.map((o) => o.value)")
    check(pg, not {"term", "teaching_week", "week_of_term"} & set(offered)
          and not pg.is_visible("#f-term"), f"calendar offered without one: {offered}")  # fmt: skip
    calendar = httpx.get(f"{api}/v1/calendar", timeout=10).json()
    check(pg, calendar == {"tz": None, "terms": []}, f"/v1/calendar without one: {calendar}")

    # Default view: all faculties, all time. Charts drawn with data.
    bars = shown_bars(pg)
    check(pg, len(bars) >= 5, f"top applications chart has {len(bars)} bar(s)")
    points = int(pg.get_attribute("#usage-chart", "data-points") or 0)
    check(pg, points > 10, f"usage chart has {points} point(s)")
    drawn = pg.evaluate(DRAWN, "usage-chart")  # one small chart per faculty; whole users
    check(pg, len(drawn["series"]) >= 3 and drawn["y"] == "users", f"usage charts {drawn}")
    check(pg, drawn["ticks"] and all(float(t).is_integer() for t in drawn["ticks"]),
          f"usage y ticks {drawn['ticks']} are not whole users")  # fmt: skip
    check(pg, len(pg.query_selector_all("#processes-table tbody tr")) == 50, "processes table")
    expected = httpx.get(f"{api}/v1/analytics/top-apps", params={"limit": 10}).json()["items"]
    check(pg, bars == {shown_name(i): i["users"] for i in expected},
          f"default bars {bars} differ from the api's {expected}")  # fmt: skip
    faculties = [i["faculty"] for i in httpx.get(f"{api}/v1/faculties").json()["items"]]
    check(pg, {"law", "engineering", "medicine"} <= set(faculties), f"faculties {faculties}")

    # The REST link reproduces the view.
    link = pg.get_attribute("#panel-top-apps a.rest-link", "href")
    check(pg, httpx.get(link).json()["items"] == expected, f"REST link {link}")
    cli = pg.inner_text("#panel-top-apps code.cli")
    check(pg, cli.startswith("dream query top-apps") and f"--url {api}" in cli, f"CLI line {cli!r}")

    # Pick a faculty: the numbers become the api's for that faculty.
    for faculty in ("engineering", "law"):
        pg.select_option("#f-faculty", faculty)
        wait_ready(pg, f"faculty={faculty}")
        bars = shown_bars(pg)
        answer = httpx.get(f"{api}/v1/analytics/top-apps",
                           params={"faculty": faculty, "limit": 10}).json()["items"]  # fmt: skip
        check(pg, bars == {shown_name(i): i["users"] for i in answer},
              f"{faculty}: bars {bars} differ from the api's {answer}")  # fmt: skip
        breakdown = httpx.get(f"{api}/v1/analytics/breakdown",
                              params={"faculty": faculty, "by": "os", "limit": 50}).json()  # fmt: skip
        shown = shown_breakdown(pg)
        want = {i["os"]: {c: str(i[c]) for c in ("users", "hosts", "snapshots", "processes")}
                for i in breakdown["items"]}  # fmt: skip
        got = {k: {c: v[c] for c in ("users", "hosts", "snapshots", "processes")}
               for k, v in shown.items()}  # fmt: skip
        check(pg, got == want, f"{faculty}: breakdown {got} differs from the api's {want}")
        usage = httpx.get(f"{api}/v1/analytics/usage",
                          params={"faculty": faculty, "bucket": "hour", "group_by": "faculty"}
                          ).json()  # fmt: skip
        groups = set(pg.evaluate(DRAWN, "usage-chart")["series"])
        check(pg, groups == {faculty}, f"{faculty}: usage charts of {groups}")
        api_points = sum(len(s["points"]) for s in usage["series"])
        shown_points = int(pg.get_attribute("#usage-chart", "data-points") or 0)
        check(pg, shown_points == api_points > 0,
              f"{faculty}: usage chart shows {shown_points} point(s), the api has {api_points}")  # fmt: skip
        rows = pg.query_selector_all("#processes-table tbody tr")
        faculty_cells = {r.query_selector_all("td")[4].inner_text() for r in rows}
        check(pg, faculty_cells == {faculty}, f"{faculty}: processes of {faculty_cells}")
        check(pg, f"faculty={faculty}" in pg.url, f"the view is not in the URL: {pg.url}")

    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
    print(f"browser test: {time.monotonic() - started:.1f}s")


def test_dashboard_sends_the_key_it_holds(demo_server: Served, page: Any) -> None:
    """The page loads without a key; once one is typed, every data call carries it."""
    pg = page
    seen: list[str | None] = []
    pg.on("request", lambda r: seen.append(r.headers.get("authorization"))
          if "/v1/" in r.url else None)  # fmt: skip
    pg.goto(f"{demo_server.url}/")
    wait_ready(pg)
    check(pg, seen and all(h is None for h in seen), f"keyless calls carried {set(seen)}")
    seen.clear()
    pg.fill("#key", "dream_test_key")
    pg.click("#key-save")
    pg.wait_for_function("document.getElementById('key-state').textContent.includes('key set')")
    pg.select_option("#f-os", "linux")
    wait_ready(pg, "os=linux")
    check(pg, seen and all(h == "Bearer dream_test_key" for h in seen),
          f"data calls carried {set(seen)}")  # fmt: skip
    stored = pg.evaluate("sessionStorage.getItem('dream.apiKey')")
    check(pg, stored == "dream_test_key", f"sessionStorage holds {stored!r}")


def test_page_and_assets_load_without_a_key(demo_server: Served) -> None:
    for path in ("/", "/dashboard/app.js", "/dashboard/api.js", "/dashboard/charts.js",
                 "/dashboard/links.js", "/dashboard/concurrency.js", "/dashboard/plots.js",
                 "/dashboard/products.js", "/dashboard/hours.js", "/dashboard/heatmap.js",
                 "/dashboard/usage.js", "/dashboard/empty.js", "/dashboard/style.css"):  # fmt: skip
        response = httpx.get(f"{demo_server.url}{path}")
        assert response.status_code == 200, (path, response.status_code)
        assert "https://" not in response.text, path  # nothing from elsewhere (no CDN)
    assert httpx.get(f"{demo_server.url}/dashboard/nope.js").status_code == 404


# What an ECharts chart (plots.js) draws: its series' figures, axis titles, y ticks, marked lines.
DRAWN = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const option = chart.getOption(), canvas = document.querySelector(`#${id} canvas`);
  return {
    series: Object.fromEntries(option.series.map(s => [s.name, s.data])),
    x: option.xAxis[0].name, y: option.yAxis[0].name,
    ticks: chart.getModel().getComponent("yAxis").axis.scale.getTicks().map(t => t.value),
    seats: option.series.flatMap(s => ((s.markLine || {}).data || []).map(d => d.yAxis)),
    canvas: [canvas.clientWidth, canvas.clientHeight],
  };
}"""


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def one_decimal(hours: float) -> str:
    """As the page writes hours: the double's exact value to one decimal, halves away from 0."""
    return f"{Decimal(hours).quantize(Decimal('0.1'), ROUND_HALF_UP):,}"


def shown_texts(pg: Any) -> dict[str, str]:
    """Each top-apps bar's value label, as the page writes it."""
    return {label: bar["label"]["formatter"] for label, bar in pg.evaluate(TOP_BARS)}


def test_hours_and_users_are_the_apis_with_their_units(demo_server: Served, page: Any) -> None:
    pg = page
    api = demo_server.url
    pg.goto(f"{api}/#metric=hours&measure=hours")
    wait_ready(pg, "measure=hours")
    answer = httpx.get(f"{api}/v1/analytics/top-apps",
                       params={"limit": 10, "metric": "hours"}).json()["items"]  # fmt: skip
    check(pg, len(answer) >= 5 and all(i["hours"] > 0 for i in answer), f"api: {answer}")
    check(pg, shown_bars(pg) == {shown_name(i): i["hours"] for i in answer},
          f"bars {shown_bars(pg)} differ from the api's hours {answer}")  # fmt: skip
    want = {shown_name(i): f"{one_decimal(i['hours'])} h" for i in answer}  # hours, one decimal
    check(pg, shown_texts(pg) == want, f"bar labels {shown_texts(pg)}, want {want}")
    breakdown = httpx.get(f"{api}/v1/analytics/breakdown",
                          params={"by": "os", "metric": "hours", "limit": 50}).json()["items"]  # fmt: skip
    cells = {tr.get_attribute("data-label"): tr.query_selector("td[data-column=hours]")
             for tr in pg.query_selector_all("#breakdown-table tbody tr[data-label]")}  # fmt: skip
    # The title is JavaScript's String of the number: "64" for the api's 64.0, so as numbers.
    got = {k: (float(td.get_attribute("title") or "nan"), td.inner_text()) for k, td in cells.items()}
    want_cells = {i["os"]: (float(i["hours"]), one_decimal(i["hours"])) for i in breakdown}
    check(pg, got == want_cells, f"breakdown hours {got}, the api's {want_cells}")
    drawn = pg.evaluate(DRAWN, "usage-chart")  # auto buckets over two days of demo: hours
    check(pg, (drawn["x"], drawn["y"]) == ("hour (UTC)", "hours of use"), f"usage axes {drawn}")
    auto = pg.text_content("#f-bucket option[value=auto]")
    check(pg, auto == "auto: hourly", f"the bucket picker says {auto!r}")

    pg.select_option("#f-measure", "users")
    wait_ready(pg, "measure=users")
    answer = httpx.get(f"{api}/v1/analytics/top-apps", params={"limit": 10}).json()["items"]
    check(pg, shown_bars(pg) == {shown_name(i): i["users"] for i in answer},
          f"bars {shown_bars(pg)} differ from the api's users {answer}")  # fmt: skip
    want = {shown_name(i): f"{i['users']:,}" for i in answer}  # whole numbers
    check(pg, shown_texts(pg) == want, f"bar labels {shown_texts(pg)}, want {want}")
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_concurrency_panel_draws_the_apis_peaks_and_the_seats(
    demo_server: Served, page: Any
) -> None:
    pg = page
    api = demo_server.url
    pg.goto(f"{api}/")
    wait_ready(pg)
    empty = pg.text_content("#concurrency-chart") or ""
    check(pg, "choose an application" in empty, f"no application chosen: {empty!r}")
    top = httpx.get(f"{api}/v1/analytics/top-apps",
                    params={"limit": 1, "metric": "hours"}).json()["items"][0]["app"]  # fmt: skip
    pg.select_option("#f-capp", top)
    wait_ready(pg, f"capp={top}")
    pg.select_option("#f-cbucket", "hour")
    wait_ready(pg, "cbucket=hour")
    pg.fill("#f-seats", "2")
    pg.press("#f-seats", "Tab")  # the change event
    wait_ready(pg, "seats=2")

    answer = httpx.get(f"{api}/v1/analytics/concurrency", params={"app": top, "bucket": "hour"}).json()
    want = {epoch_ms(i["bucket"]): i["peak_users"] for i in answer["items"]}
    check(pg, len(want) > 10 and max(want.values()) >= 2, f"api: {answer}")
    drawn = pg.evaluate(DRAWN, "concurrency-chart")
    check(pg, drawn["canvas"][0] > 300 and drawn["canvas"][1] > 200, f"canvas {drawn['canvas']}")
    shown = {t: v for t, v in drawn["series"]["peak users"]}
    check(pg, shown == want, f"peaks drawn {shown}, the api's {want}")
    p95 = {epoch_ms(i["bucket"]): i["p95_users"] for i in answer["items"]}
    shown = {t: v for t, v in drawn["series"]["95th percentile"]}
    check(pg, shown == p95, f"95th percentiles drawn {shown}, the api's {p95}")
    check(pg, (drawn["x"], drawn["y"]) == ("hour (UTC)", "users at once"), f"axes {drawn}")
    check(pg, drawn["ticks"] and all(float(t).is_integer() for t in drawn["ticks"]),
          f"y ticks {drawn['ticks']} are not whole users")  # fmt: skip
    check(pg, drawn["seats"] == [2], f"seat line at {drawn['seats']}")
    over = sum(1 for v in want.values() if v > 2)
    note = pg.inner_text("#concurrency-note")
    check(pg, f"in {over} of {len(want)} hours" in note, f"note {note!r}")

    link = pg.get_attribute("#panel-concurrency a.rest-link", "href")
    check(pg, httpx.get(link).json()["items"] == answer["items"], f"REST link {link}")
    cli = pg.inner_text("#panel-concurrency code.cli")
    check(pg, cli.startswith("dream query concurrency") and f"--app {top}" in cli
          and "--bucket hour" in cli, f"CLI line {cli!r}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")


def test_with_the_api_down_the_banner_says_so_and_no_chart_stays(
    demo_server: Served, page: Any
) -> None:
    pg = page
    api = demo_server.url
    top = httpx.get(f"{api}/v1/analytics/top-apps", params={"limit": 1}).json()["items"][0]["app"]
    pg.goto(f"{api}/#capp={top}")
    wait_ready(pg, f"capp={top}")
    check(pg, len(shown_bars(pg)) >= 5 and pg.evaluate(DRAWN, "concurrency-chart")["series"],
          "charts drawn before the api goes away")  # fmt: skip

    # The api stops answering: every call is refused, as by a stopped server.
    pg.route("**/v1/**", lambda route: route.abort("connectionrefused"))
    pg.select_option("#f-faculty", "law")
    pg.wait_for_selector("body[data-state=error]", timeout=30_000, state="attached")
    banner = pg.inner_text("#status")
    check(pg, f"Cannot reach the api at {api}" in banner and "/v1/" in banner
          and "TypeError" not in banner and "Failed to fetch" not in banner, f"banner {banner!r}")  # fmt: skip
    check(pg, shown_bars(pg) == {}, f"stale bars {shown_bars(pg)}")
    usage = pg.get_attribute("#usage-chart", "data-points")
    check(pg, usage == "0", f"the usage chart still has {usage} point(s)")
    check(pg, pg.query_selector("#concurrency-chart canvas") is None
          and "not shown" in pg.inner_text("#concurrency-chart"), "stale seats chart")  # fmt: skip
    tables = {t: len(pg.query_selector_all(f"#{t} tbody tr"))
              for t in ("breakdown-table", "processes-table")}  # fmt: skip
    check(pg, tables == {"breakdown-table": 0, "processes-table": 0}, f"stale rows {tables}")
    links = [box.inner_text() for box in pg.query_selector_all(".panel .links")]
    check(pg, not any(links), f"links to the old view {links}")

    # The api is back: the next change draws the new view.
    pg.unroute("**/v1/**")
    pg.select_option("#f-os", "linux")
    wait_ready(pg, "os=linux")
    answer = httpx.get(f"{api}/v1/analytics/top-apps",
                       params={"faculty": "law", "os": "linux", "limit": 10}).json()["items"]  # fmt: skip
    check(pg, shown_bars(pg) == {shown_name(i): i["users"] for i in answer},
          f"bars {shown_bars(pg)} after the api came back, the api's {answer}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
