"""The academic calendar in the dashboard, in a real headless browser: against an api with a
small calendar file, the hours panel draws hours per teaching week on a category axis equal to
the api's answer, and the Term filter narrows the panels to the api's answer for that term.
(Without a calendar no option shows: test_dashboard's first test. The api: conftest's
calendar_server.)"""

from __future__ import annotations

from typing import Any

import httpx

from chromium_page import artifact, check, wait_ready
from served import Served

# What an ECharts chart draws: each series' data and the x axes' kind, name and labels.
DRAWN = """id => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  if (!chart) return null;
  const option = chart.getOption();
  return { series: Object.fromEntries(option.series.map((s) => [s.name, s.data])),
           x: option.xAxis.map((a) => ({ type: a.type, name: a.name, data: a.data || null })) };
}"""


def usage(api: str, **params: str) -> list[dict[str, Any]]:
    """The api's usage series."""
    return httpx.get(f"{api}/v1/analytics/usage", params=params, timeout=60).json()["series"]


def test_hours_per_teaching_week_and_the_term_filter_are_the_apis(
    calendar_server: Served, page: Any
) -> None:
    pg, api = page, calendar_server.url
    terms = httpx.get(f"{api}/v1/calendar", timeout=10).json()
    check(pg, terms["tz"] == "UTC" and [t["id"] for t in terms["terms"]] == ["2026-before", "2026-now"],
          f"/v1/calendar: {terms}")  # fmt: skip
    top = httpx.get(f"{api}/v1/analytics/top-apps", timeout=60,
                    params={"limit": 1, "metric": "hours", "term": "2026-now"}).json()  # fmt: skip
    app = top["items"][0]["app"]  # used in the second term, so in both views
    pg.goto(f"{api}/#happ={app}&hbucket=teaching_week&bucket=teaching_week&group_by=")
    wait_ready(pg, "hbucket=teaching_week")

    # Hours per teaching week: the api's labels on a category axis, its hours on them.
    weeks = usage(api, app=app, bucket="teaching_week")[0]["points"]
    want = [[p["bucket"], p["hours"]] for p in weeks]
    check(pg, len(want) == 7 and sum(h for _, h in want) > 0, f"api: {weeks}")
    drawn = pg.evaluate(DRAWN, "hours-chart")
    check(pg, drawn["series"]["hours of use"] == want, f"hours drawn {drawn['series']}, the api's {want}")
    check(pg, drawn["x"][0] == {"type": "category", "name": "teaching week (UTC)", "data": [w for w, _ in want]},
          f"x axis {drawn['x']}")  # fmt: skip
    drawn = pg.evaluate(DRAWN, "usage-chart")
    users = [[p["bucket"], p["users"]] for p in usage(api, bucket="teaching_week")[0]["points"]]
    check(pg, drawn["series"]["all"] == users, f"usage drawn {drawn['series']}, the api's {users}")
    offered = pg.eval_on_selector_all("#f-term option", "os => os.map((o) => o.value)")
    check(pg, offered == ["", "2026-before", "2026-now"], f"terms offered {offered}")
    artifact(pg, "hours-per-teaching-week", "#panel-hours")

    # The term filter: both panels narrow to the api's answer for that term.
    pg.select_option("#f-term", "2026-now")
    wait_ready(pg, "term=2026-now")
    check(pg, pg.is_disabled("#f-range"), "the Time picker is still offered beside the term")
    now = usage(api, app=app, bucket="teaching_week", term="2026-now")[0]["points"]
    want = [[p["bucket"], p["hours"]] for p in now]
    check(pg, [w for w, _ in want] == [f"2026-now w{n}" for n in range(1, 5)], f"api: {now}")
    drawn = pg.evaluate(DRAWN, "hours-chart")
    check(pg, drawn["series"]["hours of use"] == want, f"hours drawn {drawn['series']}, the api's {want}")
    drawn = pg.evaluate(DRAWN, "usage-chart")
    users = [[p["bucket"], p["users"]] for p in usage(api, bucket="teaching_week", term="2026-now")[0]["points"]]
    check(pg, drawn["series"]["all"] == users, f"usage drawn {drawn['series']}, the api's {users}")
    link = pg.get_attribute("#panel-hours a.rest-link", "href") or ""
    cli = pg.inner_text("#panel-hours code.cli")
    check(pg, "term=2026-now" in link and "from=" not in link and "--term 2026-now" in cli,
          f"REST link {link}, CLI line {cli!r}")  # fmt: skip

    # By week of term: the week's number alone (w1, w2, …), one series per term (here one).
    pg.select_option("#f-hbucket", "week_of_term")
    wait_ready(pg, "hbucket=week_of_term")
    series = usage(api, app=app, bucket="week_of_term", term="2026-now")
    want = [[p["bucket"], p["hours"]] for p in series[0]["points"]]
    drawn = pg.evaluate(DRAWN, "hours-chart")
    check(pg, len(series) == 1 and [w for w, _ in want] == ["w1", "w2", "w3", "w4"]
          and drawn["series"]["hours of use"] == want, f"drawn {drawn['series']}, the api's {series}")  # fmt: skip
    pg.select_option("#f-bucket", "week_of_term")  # the usage panel: one chart per term
    wait_ready(pg, "&bucket=week_of_term")  # not hbucket=
    series = usage(api, bucket="week_of_term", term="2026-now")
    want = {s["group"]: [[p["bucket"], p["users"]] for p in s["points"]] for s in series}
    drawn = pg.evaluate(DRAWN, "usage-chart")
    check(pg, drawn["series"] == want and drawn["x"][0]["data"] == ["w1", "w2", "w3", "w4"],
          f"usage drawn {drawn}, the api's {want}")  # fmt: skip
    check(pg, not pg.errors, f"JavaScript errors: {pg.errors}")
