"""Listings laid out exactly as the real tools print them, from rows of ``Process``: procps
``ps aux`` (Linux), BSD ``ps aux`` (macOS), ``tasklist /v`` (Windows: CRLF, fixed widths).

The one generator of realistic listings: the demo, the benchmarks (bench/) and the tests
all lay theirs out here, so all of them feed the parsers what machines really send.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dream.demo.campus import APPS, Host, Process, app_processes, open_apps, system_processes


@dataclass
class Steady:
    """What a machine's listings of one day keep from one to the next: each process's PID (a
    function of host, user, command and day, so an application open in consecutive listings is
    one process) and a CPU time that only grows. Without it every listing is drawn afresh."""

    host: str
    user: str
    at: datetime
    _seen: Counter[str] = field(default_factory=Counter)

    def pid(self, p: Process, step: int = 1) -> int:
        nth = self._seen[p.command] = self._seen[p.command] + 1
        owner = "" if p.system else self.user
        key = f"{self.host}/{owner}/{p.command}/{nth}/{self.at.date()}"
        return step * (100 + zlib.crc32(key.encode()) % 60_000)

    def cpu_seconds(self, p: Process) -> int:
        since_midnight = self.at - self.at.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(max(p.cpu, 0.1) / 100 * since_midnight.total_seconds())

def _clock(seconds: int, os_name: str) -> str:
    if os_name == "macos":
        return f"{seconds // 60}:{seconds % 60:02d}.{seconds * 7 % 100:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def ps_aux_linux(rows: list[Process], user: str, at: datetime, rng: random.Random,
                 steady: Steady | None = None) -> str:  # fmt: skip
    """procps-ng ``ps aux``: 8-wide user (longer ones cut to 7 + '+'), START as HH:MM or MmmDD."""
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    boot = at - timedelta(days=rng.randint(1, 9))
    pid = 1
    for p in rows:
        owner = p.owner or user
        owner = owner if len(owner) <= 8 else owner[:7] + "+"
        kernel = p.command.startswith("[")
        vsz = 0 if kernel else p.rss_kb * rng.randint(3, 12) + rng.randrange(1000)
        rss = 0 if kernel else p.rss_kb
        started = boot if p.system else at - timedelta(minutes=rng.randint(1, 300))
        start = started.strftime("%H:%M") if started.date() == at.date() else started.strftime("%b%d")
        tty = "?" if p.system or rng.random() < 0.9 else "pts/0"
        stat = "I<" if kernel else rng.choice(["S", "Ss", "Sl", "Ssl", "R"])
        used = steady.cpu_seconds(p) if steady else rng.randrange(0, 6000 if not p.system else 600)
        lines.append(_procps_line(owner, steady.pid(p) if steady else pid, p.cpu, vsz, rss, tty,
                                  stat, start, _clock(used, "linux"), p.command))  # fmt: skip
        pid += rng.randint(1, 40)
    return "\n".join(lines) + "\n"


def _procps_line(owner: str, pid: int, cpu: float, vsz: int, rss: int, tty: str, stat: str,
                 start: str, cpu_time: str, command: str) -> str:  # fmt: skip
    return (f"{owner:<8} {pid:>7} {cpu:4.1f} {min(99.9, rss / 160_000):4.1f} {vsz:>6} "
            f"{rss:>5} {tty:<8} {stat:<4} {start:>5} {cpu_time:>6} {command}")  # fmt: skip


def ps_aux_series(
    processes: int, times: list[datetime], seed: int = 0, user: str = "jdoe"
) -> list[str]:
    """``ps aux`` of one Linux host at each of ``times``, with the same ``processes`` running
    throughout, as successive listings of a real machine are: stable PIDs and START, TIME
    growing with each process's CPU share, %CPU as procps computes it (CPU time over time
    since start), RSS of a few processes moving between listings (the sessions and storage
    benchmarks feed on these)."""
    rng = random.Random(f"series/linux/{seed}")
    rows = sized_rows("linux", processes, rng)
    pids = sorted(rng.sample(range(300, 400_000), len(rows)))
    starts = [times[0] - timedelta(minutes=rng.randint(1, 600)) for _ in rows]
    shares = [p.cpu / 100 for p in rows]
    rss = [0 if p.command.startswith("[") else p.rss_kb for p in rows]
    listings = []
    for at in times:
        lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
        for i, (p, pid, started, share) in enumerate(zip(rows, pids, starts, shares, strict=True)):
            if rss[i] and rng.random() < 0.1:
                rss[i] += 4 * rng.randrange(-64, 65)
            elapsed = (at - started).total_seconds()
            used = int(share * elapsed)
            start = started.strftime("%H:%M") if started.date() == at.date() else started.strftime("%b%d")
            owner = p.owner or user
            lines.append(_procps_line(owner if len(owner) <= 8 else owner[:7] + "+", pid,
                                      100 * used / elapsed, rss[i] * 6, rss[i], "?",
                                      "Sl" if rss[i] else "I<", start, _clock(used, "linux"),
                                      p.command))  # fmt: skip
        listings.append("\n".join(lines) + "\n")
    return listings


def ps_aux_macos(rows: list[Process], user: str, at: datetime, rng: random.Random,
                 steady: Steady | None = None) -> str:  # fmt: skip
    """BSD (macOS) ``ps aux``: STARTED as 9:12AM / Mon09AM / 28Nov25, TIME as m:ss.hh."""
    lines = ["USER               PID  %CPU %MEM      VSZ    RSS   TT  STAT STARTED      TIME COMMAND"]
    pid = 1
    for p in rows:
        owner = p.owner or user
        started = at - timedelta(minutes=rng.randint(1, 600 if not p.system else 20000))
        if started.date() == at.date():
            label = started.strftime("%I:%M%p").lstrip("0")
        elif (at - started).days < 7:
            label = started.strftime("%a%I%p")
        else:
            label = started.strftime("%d%b%y")
        vsz = 400_000_000 + rng.randrange(50_000_000)
        used = steady.cpu_seconds(p) if steady else rng.randrange(0, 9000)
        lines.append(f"{owner:<16} {steady.pid(p) if steady else pid:>6} {p.cpu:5.1f} "
                     f"{min(99.9, p.rss_kb / 160_000):4.1f} "
                     f"{vsz:>9} {p.rss_kb:>6}   ??  {rng.choice(['S', 'Ss', 'R', 'S+']):<4} "
                     f"{label:>7} {_clock(used, 'macos'):>9} {p.command}")  # fmt: skip
        pid += rng.randint(1, 60)
    return "\n".join(lines) + "\n"


_TASKLIST_WIDTHS = (25, 8, 16, 11, 12, 15, 50, 12, 72)
_TASKLIST_RIGHT = frozenset({1, 3, 4, 7})


def tasklist_v(rows: list[Process], user: str, host: str, rng: random.Random,
               steady: Steady | None = None) -> str:  # fmt: skip
    """Windows ``tasklist /v``: leading blank line, '=' rule, fixed widths, CRLF."""

    def row(cells: list[str]) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, _TASKLIST_WIDTHS, strict=True)):
            cell = cell[:width]
            out.append(cell.rjust(width) if i in _TASKLIST_RIGHT else cell.ljust(width))
        return " ".join(out).rstrip()

    header = ["Image Name", "PID", "Session Name", "Session#", "Mem Usage", "Status",
              "User Name", "CPU Time", "Window Title"]  # fmt: skip
    lines = ["", row(header), " ".join("=" * w for w in _TASKLIST_WIDTHS)]
    pid = 0
    account = f"UNI\\{user}"
    for p in rows:
        session_name, session = ("Services", "0") if p.session0 else ("Console", "1")
        owner = p.owner or account
        status = "Unknown" if p.session0 else ("Running" if p.title != "N/A" or rng.random() < 0.7
                                               else "Not Responding" if rng.random() < 0.02 else "Running")  # fmt: skip
        secs = steady.cpu_seconds(p) if steady else rng.randrange(0, 20_000)
        cpu_time = f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        lines.append(row([p.command, str(steady.pid(p, 4) if steady else pid), session_name,
                          session, f"{p.rss_kb:,} K", status, owner, cpu_time, p.title]))  # fmt: skip
        pid += 4 * rng.randint(1, 60)
    return "\r\n".join(lines) + "\r\n"


def listing(host: Host, user: str, at: datetime, rng: random.Random) -> tuple[str, list[str]]:
    """One listing for ``host`` at ``at`` and the applications it shows open."""
    apps = open_apps(host, at, rng)
    rows = system_processes(host.os, rng)  # desktop shells left out: they would top every chart
    for app in apps:
        rows += app_processes(app, host.os, rng)
    steady = Steady(host.name, user, at)
    if host.os == "linux":
        return ps_aux_linux(rows, user, at, rng, steady), apps
    if host.os == "macos":
        return ps_aux_macos(rows, user, at, rng, steady), apps
    return tasklist_v(rows, user, host.name, rng, steady), apps


# A fixed moment, so that a seed alone decides a sized listing (START columns included).
SIZED_AT = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def sized_rows(os_name: str, processes: int, rng: random.Random) -> list[Process]:
    """Exactly ``processes`` rows: the OS's system processes, then applications opened in turn
    (any the OS has), as a busy machine shows them."""
    rows = system_processes(os_name, rng)[:processes]
    apps = [app for app, spec in APPS.items() if os_name in spec]
    while len(rows) < processes:
        rows += app_processes(rng.choice(apps), os_name, rng)
    return rows[:processes]


def ps_aux_output(processes: int = 300, seed: int = 0, user: str = "jdoe") -> str:
    """A procps ``ps aux`` listing of exactly ``processes`` rows, the same for the same seed:
    the benchmarks' and tests' input of any size."""
    rng = random.Random(f"sized/linux/{seed}")
    return ps_aux_linux(sized_rows("linux", processes, rng), user, SIZED_AT, rng)


def tasklist_v_output(processes: int = 300, seed: int = 0, user: str = "jdoe") -> str:
    """A ``tasklist /v`` listing of exactly ``processes`` rows (see ``ps_aux_output``)."""
    rng = random.Random(f"sized/windows/{seed}")
    return tasklist_v(sized_rows("windows", processes, rng), user, "LAW-PC-17", rng)
