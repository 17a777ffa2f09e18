"""The question that motivated sessions, asked as a researcher would: Stata sampled every minute
and SPSS every ten minutes, both open one hour, are one hour of use each — through the api, the
worker and the analytics endpoints, whatever order the listings arrive in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dream.catalog import builtin
from dream.demo.campus import app_processes, system_processes
from dream.demo.listings import Steady, tasklist_v
from dream.parsing import ProcessRecord, parse
from dream.settings import Settings
from helpers import direct_client, snapshot_body, wait_for

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)


def _listings(host: str, app: str, every_s: int, count: int) -> list[tuple[datetime, str]]:
    """``count`` tasklist listings of ``host`` every ``every_s`` seconds, ``app`` open in all."""
    rng = random.Random(f"{host}/{app}")
    rows = system_processes("windows", rng)[:12] + app_processes(app, "windows", rng)
    out = []
    for i in range(count):
        at = HOUR + timedelta(seconds=i * every_s)
        out.append((at, tasklist_v(rows, "ana", host, random.Random(i), Steady(host, "ana", at))))
    return out


def _process(output: str, image: str) -> ProcessRecord:
    (process,) = [p for p in parse(output, os="windows", catalog=builtin()).processes
                  if p.name == image]  # fmt: skip
    return process


def _app_of(output: str, image: str) -> str:
    app = _process(output, image).app  # named by product, as the worker stores it
    assert app
    return app


def test_an_hour_is_an_hour_at_any_cadence_and_in_any_order(database_url: str,
                                                            tmp_path: Path) -> None:  # fmt: skip
    stata = _listings("law-pc-01", "stata", 60, 60)
    spss = _listings("law-pc-02", "spss", 600, 6)
    bodies = [
        snapshot_body(output, host=host, os="windows", user="ana", faculty="law",
                      collected_at=at.isoformat(), command="tasklist /v", interval_s=every)
        for host, every, series in (("law-pc-01", 60, stata), ("law-pc-02", 600, spss))
        for at, output in series
    ]  # fmt: skip
    random.Random(5).shuffle(bodies)  # a spool drained late, a replay: arrival order is free
    settings = Settings(database_url=database_url, data_dir=tmp_path, auth="off",
                        batch_wait_s=0.05)  # fmt: skip
    with direct_client(settings) as (client, _):
        for body in bodies:
            assert client.post("/v1/snapshots", json=body).status_code == 202, body["host"]
        window = {"from": HOUR.isoformat(), "to": (HOUR + timedelta(days=1)).isoformat()}

        def stored() -> bool:
            coverage = client.get("/v1/analytics/top-apps", params=window).json()["coverage"]
            return coverage["hosts"] == 2 and all(
                client.get(f"/v1/snapshots/{b['snapshot_id']}").json()["status"] == "stored"
                for b in bodies[-3:]
            )

        wait_for(stored, timeout_s=60, what="every listing stored")
        top = client.get("/v1/analytics/top-apps",
                         params={**window, "metric": "hours", "limit": 50}).json()  # fmt: skip
        by_app = {item["app"]: item for item in top["items"]}
        for series, image in ((stata, "StataSE-64.exe"), (spss, "stats.exe")):
            item = by_app[_app_of(series[0][1], image)]
            assert item["hours"] == 1.0, item  # 60 × 1 min and 6 × 10 min: one hour each
            assert item["launches"] == 1 and item["users"] == 1 and item["hosts"] == 1
        ranked = [i["app"] for i in top["items"]]
        assert abs(ranked.index(_app_of(stata[0][1], "StataSE-64.exe"))
                   - ranked.index(_app_of(spss[0][1], "stats.exe"))) <= 1  # fmt: skip

        peaks = client.get("/v1/analytics/concurrency", params={
            **window, "app": _app_of(stata[0][1], "StataSE-64.exe"), "bucket": "day"}).json()  # fmt: skip
        assert [(p["peak_users"], p["peak_hosts"]) for p in peaks["items"]] == [(1, 1)]
        # Each a session of its samples, its CPU seconds the TIME column's growth over the hour.
        for host, series, image in (("law-pc-01", stata, "StataSE-64.exe"),
                                    ("law-pc-02", spss, "stats.exe")):  # fmt: skip
            first, last = _process(series[0][1], image), _process(series[-1][1], image)
            listed = client.get("/v1/sessions", params={**window, "host": host, "limit": 1000})
            (session,) = [i for i in listed.json()["items"] if i["name"] == image]
            assert (session["samples"], session["duration_s"]) == (len(series), 3600), session
            assert last.cpu_seconds is not None and first.cpu_seconds is not None
            assert session["cpu_seconds"] == last.cpu_seconds - first.cpu_seconds > 0, session
        # Any app: ana on both machines at once, one sampled every minute, the other every ten.
        both = client.get("/v1/analytics/concurrency", params={**window, "bucket": "day"}).json()
        assert [(p["peak_users"], p["peak_hosts"]) for p in both["items"]] == [(1, 2)]
