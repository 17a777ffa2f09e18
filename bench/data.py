"""Synthetic but realistically laid-out listings for benchmarks (deterministic)."""

from __future__ import annotations

import random

_LINUX_APPS = [
    ("/usr/lib/firefox/firefox", "-contentproc -childID {n} -isForBrowser -prefsLen 31842"),
    ("/opt/google/chrome/chrome", "--type=renderer --lang=en-US --num-raster-threads={n}"),
    ("/usr/share/code/code", "--type=utility --utility-sub-type=node.mojom.NodeService"),
    ("/usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB", "-nosplash -nodesktop -r run{n}"),
    ("/usr/bin/python3", "/home/{u}/analysis/step{n}.py --input data/{n}.csv"),
    ("/usr/lib/libreoffice/program/soffice.bin", "--writer --splash-pipe=5"),
    ("/usr/bin/gnome-shell", ""),
    ("/usr/bin/Xwayland", ":0 -rootless -noreset -accessx -core"),
    ("/usr/lib/slack/slack", "--type=gpu-process --enable-crash-reporter={n}"),
    ("/usr/bin/R", "--no-echo --no-restore --file=model{n}.R"),
]
_SYSTEM = [
    ("root", "/usr/lib/systemd/systemd --switched-root --system --deserialize 22"),
    ("root", "[kthreadd]"),
    ("root", "[kworker/0:{n}-events]"),
    ("root", "/usr/sbin/sshd -D"),
    ("message+", "/usr/bin/dbus-daemon --system --address=systemd: --nofork"),
    ("root", "/usr/lib/systemd/systemd-journald"),
    ("systemd+", "/lib/systemd/systemd-resolved"),
]


def ps_aux_output(processes: int = 300, seed: int = 0, user: str = "jdoe") -> str:
    """A ``ps aux`` listing laid out as procps-ng prints it."""
    rng = random.Random(seed)
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    for i in range(processes):
        pid = 1000 + i * 7 + rng.randrange(7)
        if rng.random() < 0.4:
            owner, command = rng.choice(_SYSTEM)
            command = command.format(n=i % 8)
        else:
            owner = user
            exe, args = rng.choice(_LINUX_APPS)
            command = f"{exe} {args.format(n=i, u=user)}".strip()
        cpu = rng.random() * 20
        mem = rng.random() * 5
        vsz = rng.randrange(10_000, 9_000_000)
        rss = rng.randrange(0, vsz // 4)
        tty = "pts/0" if rng.random() < 0.1 else "?"
        lines.append(
            f"{owner:<8} {pid:>7} {cpu:4.1f} {mem:4.1f} {vsz:>6} {rss:>5} {tty:<8} "
            f"{rng.choice(['S', 'Ss', 'Sl', 'R', 'S<', 'I<'])}   "
            f"{rng.choice(['09:12', '10:40', 'Nov27'])}   {rng.randrange(0, 90)}:"
            f"{rng.randrange(60):02d} {command}"
        )
    return "\n".join(lines) + "\n"


_WIN_APPS = [
    ("chrome.exe", "Running", "New Tab - Google Chrome"),
    ("WINWORD.EXE", "Running", "Thesis draft.docx - Word"),
    ("EXCEL.EXE", "Running", "Grades.xlsx - Excel"),
    ("Teams.exe", "Running", "Microsoft Teams"),
    ("Adobe Desktop Service.exe", "Not Responding", "N/A"),
    ("matlab.exe", "Running", "MATLAB R2023b - academic use"),
    ("explorer.exe", "Running", "N/A"),
    ("svchost.exe", "Unknown", "N/A"),
]


def tasklist_v_output(processes: int = 300, seed: int = 0, user: str = r"LAW-PC-17\jdoe") -> str:
    """A ``tasklist /v`` listing laid out as Windows prints it (CRLF, leading blank line)."""
    rng = random.Random(seed)
    widths = [25, 8, 16, 11, 12, 15, 50, 12, 72]
    header = ["Image Name", "PID", "Session Name", "Session#", "Mem Usage", "Status",
              "User Name", "CPU Time", "Window Title"]  # fmt: skip
    right = {1, 3, 4, 7}

    def row(cells: list[str]) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            out.append(cell.rjust(width) if i in right else cell.ljust(width))
        return " ".join(out).rstrip()

    lines = ["", row(header), " ".join("=" * w for w in widths)]
    for i in range(processes):
        name, status, title = rng.choice(_WIN_APPS)
        system = name == "svchost.exe"
        session_name, session, owner = (
            ("Services", "0", r"NT AUTHORITY\SYSTEM") if system else ("Console", "1", user)
        )
        mem = f"{rng.randrange(1_000, 2_500_000):,} K"
        secs = rng.randrange(0, 20_000)
        cpu = f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        cells = [name[:25], str(4 + i * 4), session_name, session, mem, status, owner, cpu, title]
        lines.append(row(cells))
    return "\r\n".join(lines) + "\r\n"
