"""ps/top layouts beyond the public corpus, written as procps/BSD print them, plus error paths."""

from __future__ import annotations

import pytest

from dream.parsing import FORMATS, ParseError, parse

AUX = (
    "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
    "root           1  0.0  0.1 167772 11520 ?        Ss   Nov27   0:09 /sbin/init splash\n"
    "root           2  0.0  0.0      0     0 ?        S    Nov27   0:00 [kthreadd]\n"
    "systemd+     612  0.0  0.0  25260 12800 ?        Ss   Nov27   0:01 /lib/systemd/systemd-resolved\n"
    "message+     640  0.0  0.0   9776  5888 ?        Ss   Nov27   0:02 @dbus-daemon --system\n"
    "alice       4242 12.5  3.2 3392840 523000 ?      Sl   09:14  1-02:03:04 /opt/google/chrome/chrome --type=renderer\n"
    "alice       4243  0.0  0.0      0     0 ?        Z    09:15   0:00 [chrome] <defunct>\n"
    "alice       5000  0.1  0.2  12000  8000 pts/0    S+   10:00 310:02:11 python3 train.py --name \"run\tA\" ü\n"
    "bob         5001  0.0  0.1  10000  6000 pts/1    Ss   2019    0:00 -bash\n"
)


def test_ps_aux_values() -> None:
    result = parse(AUX)
    assert (result.format, result.os, result.warnings) == ("ps-aux", "linux", [])
    procs = {p.pid: p for p in result.processes}
    assert procs[612].user == "systemd+" and procs[612].is_system
    assert procs[640].is_system and procs[2].is_system and procs[2].app == "kthreadd"
    chrome = procs[4242]
    assert (chrome.app, chrome.is_system, chrome.cpu_percent, chrome.rss_kb, chrome.vsz_kb) == (
        "chrome", False, 12.5, 523000, 3392840)
    assert chrome.cpu_seconds == 86400 + 2 * 3600 + 3 * 60 + 4
    zombie = procs[4243]
    assert (zombie.state, zombie.app, zombie.is_system, zombie.name) == ("Z", "chrome", False, "chrome")
    py = procs[5000]
    assert py.command == 'python3 train.py --name "run\tA" ü' and py.tty == "pts/0"
    assert py.app == "python3" and py.cpu_seconds == 310 * 3600 + 2 * 60 + 11
    assert procs[5001].app == "bash" and procs[5001].started == "2019"


def test_ps_aux_without_header_needs_nothing_but_the_rows() -> None:
    body = AUX.split("\n", 1)[1]
    assert parse(body, command="ps auxh").processes == parse(AUX).processes


def test_malformed_rows_warn_and_are_skipped() -> None:
    text = AUX + "this line is broken\n\n" + "root 9 x 0.0 1 1 ? S Nov27 0:00 cmd\n"
    result = parse(text)
    assert len(result.processes) == 8
    assert [w.split(":")[0] for w in result.warnings] == ["line 10", "line 12"]


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e400"])
def test_a_cpu_share_that_is_no_number_skips_its_row(value: str) -> None:
    """``float`` reads these, PostgreSQL stores them, and one NaN made every average of its
    app's day NaN (shown as null): the row is malformed, as any other unreadable value."""
    text = AUX + f"carol       6000 {value}  0.1  10000  6000 pts/2    S    10:00   0:00 vim\n"
    result = parse(text)
    assert [p.pid for p in result.processes] == [p.pid for p in parse(AUX).processes]
    assert [(s.line, s.reason) for s in result.skipped] == [
        (10, "malformed row (expected USER PID %CPU %MEM VSZ RSS TT STAT START TIME COMMAND)")]


@pytest.mark.parametrize("pid", ["+6000", "6_000", "\uff16\uff10\uff10\uff10"])
def test_a_pid_no_ps_prints_skips_its_row(pid: str) -> None:
    """``int`` reads a sign, underscores and other scripts' digits: PID 6000 out of what no
    ``ps`` prints. The row is malformed instead, as in the C loop (ASCII digits only)."""
    text = AUX + f"carol  {pid}  0.0  0.1  10000  6000 pts/2    S    10:00   0:00 vim\n"
    result = parse(text)
    assert 6000 not in [p.pid for p in result.processes]
    assert [s.line for s in result.skipped] == [10]


def test_all_rows_malformed_raises_with_line() -> None:
    with pytest.raises(ParseError) as info:
        parse(AUX.split("\n")[0] + "\nnot a row\n")
    assert info.value.line == 2


def test_header_only_raises() -> None:
    with pytest.raises(ParseError, match="no process rows"):
        parse(AUX.split("\n")[0] + "\n")


@pytest.mark.parametrize("text", ["", "   \n\t\r\n", b"", b"\xff\xfe"])
def test_empty_input(text: str | bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        parse(text)


def test_unrecognised_lists_tried_formats() -> None:
    with pytest.raises(ParseError) as info:
        parse("hello world\nthis is not a listing\n")
    for name in FORMATS:
        assert name in str(info.value)


def test_bad_hints() -> None:
    with pytest.raises(ParseError, match="unknown format"):
        parse(AUX, format="nope")
    with pytest.raises(ParseError, match="unknown os"):
        parse(AUX, os="beos")
    assert parse(AUX, os="darwin").os == "macos"


def test_forced_format_mismatch_raises() -> None:
    with pytest.raises(ParseError):
        parse(AUX, format="tasklist-csv")


EF_F = (
    "UID          PID    PPID  C    SZ   RSS PSR STIME TTY          TIME CMD\n"
    "root           1       0  0 41943 11520   3 Nov27 ?        00:00:09 /sbin/init splash\n"
    "alice       4242    4200  5 848210 523000  1 09:14 ?        01:02:03 /opt/google/chrome/chrome --type=renderer\n"
)


def test_ps_eF() -> None:
    result = parse(EF_F)
    assert result.format == "ps-custom"
    chrome = result.processes[1]
    assert (chrome.pid, chrome.ppid, chrome.user, chrome.rss_kb, chrome.cpu_seconds) == (
        4242, 4200, "alice", 523000, 3723)
    assert chrome.vsz_kb is None  # SZ is in pages, not kept


def test_ps_el_cmd_is_comm() -> None:
    text = (
        "F S   UID     PID    PPID  C PRI  NI ADDR SZ WCHAN  TTY          TIME CMD\n"
        "4 S     0       1       0  0  80   0 - 41943 -      ?        00:00:09 systemd\n"
        "0 S  1000    4242    4200  5  80   0 - 848210 do_pol ?       01:02:03 Web Content\n"
        "0 Z  1000    4243    4242  0  80   0 -     0 -      ?        00:00:00 chrome <defunct>\n"
    )
    result = parse(text, command="ps -el")
    init, web, zombie = result.processes
    assert (init.user, init.is_system, init.name, init.command) == ("0", True, "systemd", None)
    assert (web.name, web.app, web.state, web.is_system) == ("Web Content", "web content", "S", False)
    assert zombie.state == "Z" and zombie.pid == 4243


def test_ps_eLf_folds_threads() -> None:
    text = (
        "UID          PID    PPID     LWP  C NLWP STIME TTY          TIME CMD\n"
        "alice       4242    4200    4242  2    3 09:14 ?        00:00:10 /usr/bin/java -jar x.jar\n"
        "alice       4242    4200    4250  1    3 09:14 ?        00:00:05 /usr/bin/java -jar x.jar\n"
        "alice       4242    4200    4251  0    3 09:14 ?        00:00:01 /usr/bin/java -jar x.jar\n"
        "root           1       0       1  0    1 Nov27 ?        00:00:09 /sbin/init\n"
    )
    java, init = parse(text).processes
    assert (java.pid, java.threads, java.cpu_seconds, java.app) == (4242, 3, 16, "java")
    assert init.threads == 1


def test_ps_L_without_nlwp_counts_rows() -> None:
    text = ("    PID     LWP TTY          TIME CMD\n"
            "    700     700 ?        00:00:01 Xorg\n"
            "    700     701 ?        00:00:02 Xorg:gdrv0\n")
    (proc,) = parse(text).processes
    assert (proc.threads, proc.cpu_seconds) == (2, 3)


def test_custom_columns_lstart_user_width_comm_and_args() -> None:
    text = (
        "    PID    PPID USER                                              STARTED   RSS COMMAND         COMMAND\n"
        "      1       0 root                             Sat Nov 28 06:03:03 2026 11520 systemd         /sbin/init splash\n"
        "   4242    4200 averyveryverylongusername        Sat Nov  8 16:03:03 2026 523000 Web Content     /usr/lib/firefox/firefox -contentproc 12 tab\n"
    )
    command = "ps -eo pid,ppid,user:32,lstart,rss,comm,args"
    for hint in (command, None):
        init, web = parse(text, command=hint).processes
        assert init.started == "Sat Nov 28 06:03:03 2026" and init.name == "systemd"
        assert web.started == "Sat Nov  8 16:03:03 2026"
        assert (web.user, web.rss_kb, web.name) == ("averyveryverylongusername", 523000, "Web Content")
        assert web.command == "/usr/lib/firefox/firefox -contentproc 12 tab" and web.app == "firefox"


def test_custom_no_headers_uses_hint() -> None:
    text = "  12   1 /usr/sbin/cron -f\n  13   1 /usr/bin/python3 -m http.server\n"
    result = parse(text, command="ps -eo pid,ppid,args --no-headers")
    assert [(p.pid, p.ppid, p.app) for p in result.processes] == [(12, 1, "cron"), (13, 1, "python3")]


def test_bsd_custom_columns() -> None:
    text = (
        "  PID  PPID USER             %CPU %MEM      RSS   TT  STARTED      TIME COMMAND\n"
        "  412     1 kelly             0.0  0.3    52344   ??  Mon09AM   0:10.58 /Applications/Slack.app/Contents/MacOS/Slack\n"
        "  413   412 kelly             0.0  0.1     2344 s000  12:10PM   0:00.01 -zsh\n"
    )
    slack, zsh = parse(text, os="macos").processes
    assert (slack.app, slack.tty, slack.started, slack.cpu_seconds) == ("slack", None, "Mon09AM", 10.58)
    assert (zsh.app, zsh.tty) == ("zsh", "s000")


TOP = (
    "top - 10:11:12 up 3 days,  2:01,  1 user,  load average: 0.52, 0.58, 0.59\n"
    "Tasks: 312 total,   1 running, 311 sleeping,   0 stopped,   0 zombie\n"
    "%Cpu(s):  3.1 us,  1.0 sy,  0.0 ni, 95.8 id,  0.0 wa,  0.0 hi,  0.1 si,  0.0 st\n"
    "MiB Mem :  15836.9 total,   2511.4 free,   7001.7 used,   6323.8 buff/cache\n"
    "MiB Swap:   2048.0 total,   2048.0 free,      0.0 used.   8104.5 avail Mem\n"
    "\n"
    "    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\n"
    "   4242 alice     20   0 3392840 523000 112000 S  12.5   3.2  62:03.51 Web Content\n"
    "   4300 averylo+  20   0   11.2g   1.5g  52000 R 101.0  10.1   0:03.10 java\n"
    "      2 root      20   0       0      0      0 S   0.0   0.0   0:00.00 kthreadd\n"
)


def test_top_batch() -> None:
    result = parse(TOP)
    assert (result.format, result.os, result.warnings) == ("top", "linux", [])
    web, java, kthreadd = result.processes
    assert (web.name, web.app, web.rss_kb, web.cpu_seconds, web.command) == (
        "Web Content", "web content", 523000, 3723.51, None)
    assert (java.user, java.vsz_kb, java.rss_kb, java.cpu_percent) == (
        "averylo+", int(11.2 * 1024 ** 2), int(1.5 * 1024 ** 2), 101.0)
    assert kthreadd.is_system and not web.is_system


# BusyBox `ps` (Alpine, containers): its default PID USER TIME COMMAND, the older
# PID USER VSZ STAT COMMAND, and "{comm} argv" when a process renamed itself.
BUSYBOX = (
    "PID   USER     TIME  COMMAND\n"
    "    1 root      0:02 /sbin/init\n"
    "   12 root      0:00 [kworker/0:1]\n"
    "  301 ana       1:07 python3 train.py\n"
)
BUSYBOX_OLD = (
    "  PID USER       VSZ STAT COMMAND\n"
    "    1 root      1.6m S    init\n"
    "  420 ana      12.1m R    {Web Content} /usr/lib/firefox/firefox -contentproc\n"
)


def test_busybox_ps() -> None:
    result = parse(BUSYBOX)
    assert (result.format, result.os, result.skipped) == ("ps-custom", "linux", [])
    init, kworker, python = result.processes
    assert (init.pid, init.app, init.cpu_seconds, kworker.is_system) == (1, "init", 2.0, True)
    assert (python.user, python.app, python.cpu_seconds) == ("ana", "python3", 67.0)
    init, firefox = parse(BUSYBOX_OLD).processes
    assert (init.vsz_kb, init.state) == (int(1.6 * 1024), "S")
    assert (firefox.name, firefox.app, firefox.vsz_kb) == ("Web Content", "firefox", int(12.1 * 1024))
