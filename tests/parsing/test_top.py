"""``top -b`` with any field set: columns Dream does not keep are cut and ignored, COMMAND may
stand anywhere, ``nTH`` is the thread count."""

from __future__ import annotations

from dream.parsing import parse

SUMMARY = (
    "top - 09:41:07 up 12 days,  3:02,  2 users,  load average: 1.07, 0.93, 0.88\n"
    "Tasks: 287 total,   2 running, 285 sleeping,   0 stopped,   0 zombie\n"
    "%Cpu(s): 12.4 us,  2.1 sy,  0.0 ni, 85.2 id,  0.2 wa,  0.0 hi,  0.1 si,  0.0 st\n"
    "MiB Mem :  31842.6 total,   9120.3 free,  14233.0 used,   8489.3 buff/cache\n"
    "MiB Swap:   2048.0 total,   2048.0 free,      0.0 used.  16994.1 avail Mem\n"
    "\n"
)

# procps-ng 4 top with P, nTH, Flags and CGROUPS enabled after COMMAND (fields management `f`).
COMMAND_NOT_LAST = SUMMARY + (
    "    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND           P nTH    Flags CGROUPS\n"
    "  51220 ana       20   0   10.1g   1.9g 201340 S 101.3   6.1 412:07.33 MATLAB            3  96 ..4.2... 0::/user.slice/user-1000.slice/session-2.scope\n"
    "   3310 ana       20   0 3392840 523000 112000 S   6.0   1.6  62:03.51 Web Content       1  31 ..4.2... 0::/user.slice/user-1000.slice/app.slice/app-firefox.scope\n"
    "      1 root      20   0  167744  11520   8320 S   0.0   0.0   0:04.12 systemd           0   1 ..4.21.. 0::/init.scope\n"
    "      2 root      20   0       0      0      0 S   0.0   0.0   0:00.05 kthreadd          2   1 ..a.2... -\n"
)

# Fields reordered (COMMAND first after PID) with ones Dream has never heard of.
REORDERED = SUMMARY + (
    "    PID COMMAND           USER       nMaj  nMin  nDRT   RSan   RSfd  SWAP    RES %CPU  OOMs  XYZW\n"
    "  51220 MATLAB            ana          12  901k     0 1.8g   1.2m     0   1.9g 101.3   712  abc\n"
    "      1 systemd           root         98   21k     0 8.1m   3.2m     0  11520  0.0     0  abc\n"
)


def test_top_with_extra_fields_after_command() -> None:
    result = parse(COMMAND_NOT_LAST)
    assert (result.format, result.skipped, result.warnings) == ("top", [], [])
    matlab, web, systemd, kthreadd = result.processes
    assert (matlab.pid, matlab.name, matlab.app, matlab.threads, matlab.cpu_percent) == (
        51220, "MATLAB", "matlab", 96, 101.3)
    assert matlab.rss_kb == int(1.9 * 1024 ** 2) and matlab.cpu_seconds == 24727.33
    assert (web.name, web.app, web.threads) == ("Web Content", "web content", 31)
    assert (systemd.user, systemd.is_system, kthreadd.threads) == ("root", True, 1)


def test_top_with_reordered_and_unknown_fields() -> None:
    result = parse(REORDERED)
    assert (result.format, result.skipped) == ("top", [])
    matlab, systemd = result.processes
    assert (matlab.pid, matlab.name, matlab.user, matlab.rss_kb, matlab.cpu_percent) == (
        51220, "MATLAB", "ana", int(1.9 * 1024 ** 2), 101.3)
    assert (systemd.pid, systemd.app, systemd.rss_kb) == (1, "systemd", 11520)


def test_ps_o_with_columns_of_a_newer_procps() -> None:
    text = ("    PID   PPID USER     ELAPSED   ETIMES IO_READ %CPU COMMAND\n"
            "  51220   4189 ana     06:51:02    24662    1024 98.5 /opt/MATLAB/bin/MATLAB -nodesktop\n")
    result = parse(text)
    (matlab,) = result.processes
    assert (result.format, matlab.pid, matlab.ppid, matlab.app, matlab.cpu_percent) == (
        "ps-custom", 51220, 4189, "matlab", 98.5)
