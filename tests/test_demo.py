"""`dream demo`: realistic listings (each parses as the real tool's output), faculty mixes,
the diurnal pattern, determinism, and the whole run through `dream serve` in under a minute."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from dream.demo.campus import APPS, DEFAULT_FACULTIES, PROFILES, activity, app_processes, campus
from dream.demo.history import generate
from dream.demo.listings import listing, ps_aux_linux, ps_aux_macos, tasklist_v
from dream.parsing import parse
from served import dream_env, serve

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday afternoon


def test_every_generated_listing_parses_as_the_real_tool_prints_it() -> None:
    formats: Counter[tuple[str, str]] = Counter()
    for body in generate(hosts=30, days=2, seed=3, now=NOW):
        result = parse(body["output"], os=body["os"], command=body["command"])
        assert result.warnings == [], (body["host"], result.warnings[:3])
        formats[(body["os"], result.format)] += 1
        # Detection without hints agrees: the layout alone says which tool printed it.
        blind = parse(body["output"])
        assert (blind.format, blind.os) == (result.format, body["os"]), body["host"]
        assert len(blind.processes) == len(result.processes) > 10
    assert set(formats) == {("linux", "ps-aux"), ("macos", "ps-aux"), ("windows", "tasklist-verbose")}


def test_each_app_shows_up_under_its_own_name_on_each_os() -> None:
    """Every catalogued application, on every OS it exists on, parses to a non-system app."""
    import random

    rng = random.Random(1)
    for app, spec in APPS.items():
        for os_name in ("linux", "macos", "windows"):
            if os_name not in spec:
                continue
            rows = app_processes(app, os_name, rng)
            layout = {"linux": lambda r: ps_aux_linux(r, "jdoe1", NOW, rng),
                      "macos": lambda r: ps_aux_macos(r, "jdoe1", NOW, rng),
                      "windows": lambda r: tasklist_v(r, "jdoe1", "x", rng)}[os_name]  # fmt: skip
            parsed = parse(layout(rows), os=os_name).processes
            assert len(parsed) == len(rows)
            assert all(not p.is_system and p.app for p in parsed), (app, os_name, parsed[0])


def test_faculty_mixes_and_the_diurnal_pattern() -> None:
    bodies = list(generate(hosts=60, days=7, seed=1, now=NOW))
    apps: dict[str, Counter[str]] = {}
    by_hour: Counter[int] = Counter()
    for body in bodies:
        by_hour[datetime.fromisoformat(body["collected_at"]).hour] += 1
        result = parse(body["output"], os=body["os"], command=body["command"])
        seen = {p.app for p in result.processes if not p.is_system}
        apps.setdefault(body["faculty"], Counter()).update(seen)
    assert set(apps) == set(DEFAULT_FACULTIES)
    top = {f: {a for a, _ in c.most_common(6)} for f, c in apps.items()}
    assert {"winword", "acrobat", "chrome"} & top["law"], top["law"]
    assert {"matlab", "python3", "code"} & top["engineering"], top["engineering"]
    assert {"stats", "excel", "rstudio", "r"} & top["medicine"], top["medicine"]
    assert "matlab" not in apps["law"] and "winword" not in apps["engineering"]
    day = sum(by_hour[h] for h in range(10, 17)) / 7
    night = sum(by_hour[h] for h in range(0, 6)) / 6
    assert day > 5 * night, (day, night)  # much busier in the day than at night
    assert activity(datetime(2026, 11, 28, 13, tzinfo=UTC)) < activity(NOW.replace(hour=13))


def test_campus_is_deterministic_and_ids_repeat_with_the_seed() -> None:
    first = [b["snapshot_id"] for b in generate(hosts=5, days=1, seed=9, now=NOW)]
    again = [b["snapshot_id"] for b in generate(hosts=5, days=1, seed=9, now=NOW)]
    other = [b["snapshot_id"] for b in generate(hosts=5, days=1, seed=10, now=NOW)]
    assert first == again and not set(first) & set(other)
    hosts = campus(30, DEFAULT_FACULTIES, 0)
    assert len({h.name for h in hosts}) == 30
    for h in hosts:
        assert h.os in PROFILES[h.faculty][0]
        assert h.name.split("-")[1] == {"linux": "lx", "windows": "pc", "macos": "mac"}[h.os]
    out, _ = listing(hosts[0], hosts[0].users[0], NOW, __import__("random").Random(0))
    assert out.strip()


def test_demo_through_dream_serve_stores_every_snapshot_once(tmp_path: Path) -> None:
    with serve(tmp_path / "data") as served:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "dream", "demo", "--url", served.url, "--hosts", "20",
             "--days", "2", "--faculties", "law,medicine,engineering"],
            env=dream_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        posted = int(done.stdout.split("/", 1)[0])
        assert f"{posted}/{posted} posted, {posted} stored, 0 failed" in done.stdout
        faculties = httpx.get(f"{served.url}/v1/faculties").json()["items"]
        assert {f["faculty"] for f in faculties} == {"law", "medicine", "engineering"}
        snapshots = sum(f["snapshots"] for f in httpx.get(
            f"{served.url}/v1/analytics/breakdown",
            params={"by": "host", "metric": "snapshots", "include_system": "true"}).json()["items"])  # fmt: skip
        assert snapshots == posted
        # Again: the same snapshot ids, stored once.
        again = subprocess.run(done.args, env=dream_env(), capture_output=True, text=True,
                               timeout=120)  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        total = sum(f["snapshots"] for f in httpx.get(
            f"{served.url}/v1/analytics/breakdown",
            params={"by": "host", "metric": "snapshots", "include_system": "true"}).json()["items"])  # fmt: skip
        # (an hour boundary crossed between the two runs would shift the window by one hour)
        assert total <= posted + 20, (total, posted)
        print(json.dumps({"demo_seconds": round(took, 1), "snapshots": posted}))
