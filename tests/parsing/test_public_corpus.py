"""Every row of jc's public ps fixtures must agree with jc's own expected JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dream.parsing import ParseResult, parse

CASES = [
    "centos-7.7--ps-axu", "centos-7.7--ps-ef", "ubuntu-18.04--ps-axu", "ubuntu-18.04--ps-ef",
    "osx-10.11.6--ps-axu", "osx-10.11.6--ps-ef", "osx-10.14.6--ps-axu", "osx-10.14.6--ps-ef",
]


def load(directory: Path, case: str) -> tuple[ParseResult, list[dict[str, object]]]:
    out = directory / f"{case}.out"
    expected = json.loads(Path(str(out)[:-4] + ".json").read_text())
    return parse(out.read_text()), expected


@pytest.mark.parametrize("case", CASES)
def test_rows_agree_with_jc(public_jc: Path, case: str) -> None:
    result, expected = load(public_jc, case)
    assert result.warnings == []
    assert len(result.processes) == len(expected)
    for got, want in zip(result.processes, expected, strict=False):
        assert got.pid == want["pid"]
        assert got.user == want.get("user", want.get("uid"))
        assert got.command == want.get("command", want.get("cmd"))
        if "ppid" in want:
            assert got.ppid == want["ppid"]
        if "cpu_percent" in want:
            assert got.cpu_percent == want["cpu_percent"]
            assert got.mem_percent == want["mem_percent"]
            assert got.vsz_kb == want["vsz"]
            assert got.rss_kb == want["rss"]
        else:  # ps -ef carries none of these
            assert (got.cpu_percent, got.mem_percent, got.vsz_kb, got.rss_kb) == (None,) * 4
        assert got.tty == want.get("tty", want.get("tt"))
        assert got.started == want.get("start", want.get("started", want.get("stime")))


@pytest.mark.parametrize(("case", "fmt", "os"), [
    ("centos-7.7--ps-axu", "ps-aux", "linux"), ("centos-7.7--ps-ef", "ps-ef", "linux"),
    ("osx-10.14.6--ps-axu", "ps-aux", "macos"), ("osx-10.14.6--ps-ef", "ps-ef", "macos"),
])
def test_format_and_os_detected(public_jc: Path, case: str, fmt: str, os: str) -> None:
    result, _ = load(public_jc, case)
    assert (result.format, result.os) == (fmt, os)


def by_pid(directory: Path, case: str) -> dict[int, Any]:
    result, _ = load(directory, case)
    return {p.pid: p for p in result.processes}


def test_linux_details(public_jc: Path) -> None:
    procs = by_pid(public_jc, "centos-7.7--ps-axu")
    init = procs[1]
    assert (init.name, init.app, init.is_system, init.state, init.cpu_seconds) == (
        "systemd", "systemd", True, "Ss", 3.0)
    kworker = procs[4]
    assert (kworker.command, kworker.name, kworker.app, kworker.is_system) == (
        "[kworker/0:0H]", "kworker/0:0H", "kworker", True)
    ef = by_pid(public_jc, "centos-7.7--ps-ef")
    assert ef[4].ppid == 2 and ef[1].cpu_seconds == 3.0 and ef[1].tty is None


def test_macos_details(public_jc: Path) -> None:
    procs = by_pid(public_jc, "osx-10.14.6--ps-axu")
    terminal = procs[556]
    assert terminal.app == "terminal" and terminal.is_system is False
    assert terminal.cpu_seconds == pytest.approx(37.91)
    sublime = procs[633]  # path with a space before the executable
    assert (sublime.name, sublime.app) == ("plugin_host", "plugin_host")
    hidd = procs[112]  # `_`-prefixed daemon user running from /usr/libexec
    assert hidd.user == "_hidd" and hidd.is_system and hidd.cpu_seconds == pytest.approx(167.17)
    zombie = procs[1043]
    assert (zombie.command, zombie.state, zombie.app) == ("(uname)", "Z", "uname")
    assert zombie.tty is None and zombie.started == "12:10PM"
    ef = by_pid(public_jc, "osx-10.14.6--ps-ef")
    assert ef[1].user == "0" and ef[1].is_system and ef[1].cpu_seconds == pytest.approx(68.04)
    user_procs = [p for p in ef.values() if p.user == "501"]
    assert user_procs and not any(p.is_system and not (p.command or "").startswith(
        ("/System/", "/usr/libexec/", "/usr/sbin/", "/sbin/")) for p in user_procs)


def test_macos_app_bundle_names() -> None:
    result = parse(
        "USER               PID  %CPU %MEM      VSZ    RSS   TT  STAT STARTED      TIME COMMAND\n"
        "kelly              600   1.0  2.0  5000000  80000   ??  S    Mon09AM   1:02.50 "
        "/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word -psn_0_1\n"
        "kelly              601   0.0  0.5  4000000  20000   ??  S    27Nov25   0:00.50 "
        "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/"
        "Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper --type=gpu\n"
        "_windowserver      166   3.0  1.0  7000000  50000   ??  Ss   12:10PM  10:00.00 "
        "/System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer -daemon\n"
    )
    word, helper, server = result.processes
    assert (word.name, word.app, word.is_system, word.started) == (
        "Microsoft Word", "microsoft word", False, "Mon09AM")
    assert word.cpu_seconds == pytest.approx(62.5)
    assert helper.app == "google chrome helper" and helper.started == "27Nov25"
    assert server.is_system and server.app == "windowserver"
