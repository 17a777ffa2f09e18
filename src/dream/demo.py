"""``dream demo``: realistic demo data, ingested through the api, for a live dashboard at once.

A campus of ``--hosts`` machines spread over ``--faculties``, each machine with an OS that suits
its faculty (engineering runs Linux, arts Macs, law and business Windows...) and a few users.
Over the last ``--days`` days every machine takes a snapshot at most once an hour, more often
during the working day than at night and on weekdays than at weekends (the diurnal pattern);
what is open depends on the faculty (law: Word, Acrobat, Chrome, Teams; engineering: MATLAB,
SolidWorks, Python, VS Code; medicine: SPSS, R, Excel...) and on the hour.

Every listing is laid out as the real tool prints it: procps ``ps aux`` on Linux, BSD ``ps aux``
on macOS, ``tasklist /v`` on Windows (CRLF, fixed-width columns), so the api parses them with
the same code as real ones. Snapshot ids derive from the seed, host and time: running the demo
again within the same hour posts the same snapshots, which the api stores once.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

DEFAULT_FACULTIES = ("law", "medicine", "engineering", "arts", "science", "business")
_NAMESPACE = uuid.UUID("d2e7c1f0-5b8a-4c3e-9f61-0a4b7de35a21")

# Per OS, how an application shows up: Linux/macOS command lines, Windows (image, window title).
# {doc}, {n} and {u} are filled in per process.
APPS: dict[str, dict[str, Any]] = {
    "word": {"windows": ("WINWORD.EXE", "{doc}.docx - Word"),
             "macos": "/Applications/Microsoft Word.app/Contents/MacOS/Microsoft Word",
             "linux": "/usr/lib/libreoffice/program/soffice.bin --writer --splash-pipe=5"},
    "excel": {"windows": ("EXCEL.EXE", "{doc}.xlsx - Excel"),
              "macos": "/Applications/Microsoft Excel.app/Contents/MacOS/Microsoft Excel",
              "linux": "/usr/lib/libreoffice/program/soffice.bin --calc --splash-pipe=5"},
    "powerpoint": {"windows": ("POWERPNT.EXE", "{doc}.pptx - PowerPoint"),
                   "macos": "/Applications/Microsoft PowerPoint.app/Contents/MacOS/Microsoft PowerPoint",
                   "linux": "/usr/lib/libreoffice/program/soffice.bin --impress"},
    "outlook": {"windows": ("OUTLOOK.EXE", "Inbox - Outlook"),
                "macos": "/Applications/Microsoft Outlook.app/Contents/MacOS/Microsoft Outlook",
                "linux": "/usr/lib/thunderbird/thunderbird"},
    "acrobat": {"windows": ("Acrobat.exe", "{doc}.pdf - Adobe Acrobat Reader (64-bit)"),
                "macos": "/Applications/Adobe Acrobat Reader.app/Contents/MacOS/AdobeReader",
                "linux": "/usr/bin/evince /tmp/{doc}.pdf"},
    "chrome": {"windows": ("chrome.exe", "{doc} - Google Chrome"),
               "macos": "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
               "linux": "/opt/google/chrome/chrome", "children": (3, 9),
               "child_args": "--type=renderer --lang=en-US --renderer-client-id={n}"},
    "firefox": {"windows": ("firefox.exe", "{doc} — Mozilla Firefox"),
                "macos": "/Applications/Firefox.app/Contents/MacOS/firefox",
                "linux": "/usr/lib/firefox/firefox", "children": (2, 6),
                "child_args": "-contentproc -childID {n} -isForBrowser -prefsLen 31842 tab"},
    "teams": {"windows": ("ms-teams.exe", "Chat | Microsoft Teams"),
              "macos": "/Applications/Microsoft Teams.app/Contents/MacOS/MSTeams",
              "linux": "/usr/bin/teams-for-linux", "children": (1, 3),
              "child_args": "--type=renderer --enable-features=WebRTC"},
    "zoom": {"windows": ("Zoom.exe", "Zoom Meeting"),
             "macos": "/Applications/zoom.us.app/Contents/MacOS/zoom.us",
             "linux": "/opt/zoom/zoom"},
    "zotero": {"windows": ("zotero.exe", "My Library - Zotero"),
               "macos": "/Applications/Zotero.app/Contents/MacOS/zotero",
               "linux": "/opt/zotero/zotero"},
    "spss": {"windows": ("stats.exe", "*Output1 [Document1] - IBM SPSS Statistics Viewer"),
             "macos": "/Applications/IBM SPSS Statistics/SPSS Statistics.app/Contents/MacOS/stats",
             "linux": "/opt/IBM/SPSS/Statistics/29/bin/stats"},
    "r": {"windows": ("rstudio.exe", "{doc}.R - RStudio"),
          "macos": "/Applications/RStudio.app/Contents/MacOS/RStudio",
          "linux": "/usr/lib/R/bin/exec/R --no-echo --no-restore --file=model{n}.R"},
    "matlab": {"windows": ("MATLAB.exe", "MATLAB R2024a - academic use"),
               "macos": "/Applications/MATLAB_R2024a.app/bin/maca64/MATLAB -nosplash",
               "linux": "/usr/local/MATLAB/R2024a/bin/glnxa64/MATLAB -nosplash -nodesktop"},
    "solidworks": {"windows": ("SLDWORKS.exe", "SOLIDWORKS Premium 2024 - [{doc}.SLDPRT]")},
    "ansys": {"windows": ("AnsysWBU.exe", "{doc} - Workbench"),
              "linux": "/ansys_inc/v241/Framework/bin/Linux64/runwb2 -B"},
    "python": {"windows": ("python.exe", "N/A"),
               "macos": "/opt/homebrew/bin/python3 analysis/step{n}.py",
               "linux": "/usr/bin/python3 thesis/train.py --epochs {n}"},
    "vscode": {"windows": ("Code.exe", "{doc}.py - thesis - Visual Studio Code"),
               "macos": "/Applications/Visual Studio Code.app/Contents/MacOS/Code",
               "linux": "/usr/share/code/code", "children": (2, 5),
               "child_args": "--type=utility --utility-sub-type=node.mojom.NodeService"},
    "mathematica": {"windows": ("Mathematica.exe", "{doc}.nb - Wolfram Mathematica 14.0"),
                    "macos": "/Applications/Mathematica.app/Contents/MacOS/Mathematica",
                    "linux": "/usr/local/Wolfram/Mathematica/14.0/Executables/Mathematica"},
    "imagej": {"windows": ("ImageJ-win64.exe", "(Fiji Is Just) ImageJ"),
               "macos": "/Applications/Fiji.app/Contents/MacOS/ImageJ-macosx",
               "linux": "/opt/Fiji.app/ImageJ-linux64"},
    "photoshop": {"windows": ("Photoshop.exe", "{doc}.psd @ 66.7% (RGB/8) - Adobe Photoshop"),
                  "macos": "/Applications/Adobe Photoshop 2024/Adobe Photoshop 2024.app/Contents/MacOS/Adobe Photoshop 2024",
                  "linux": "/usr/bin/gimp-2.10"},
    "illustrator": {"windows": ("Illustrator.exe", "{doc}.ai @ 100% (CMYK/Preview)"),
                    "macos": "/Applications/Adobe Illustrator 2024/Adobe Illustrator.app/Contents/MacOS/Adobe Illustrator",
                    "linux": "/usr/bin/inkscape"},
    "premiere": {"windows": ("Adobe Premiere Pro.exe", "Adobe Premiere Pro 2024 - {doc}.prproj"),
                 "macos": "/Applications/Adobe Premiere Pro 2024/Adobe Premiere Pro 2024.app/Contents/MacOS/Adobe Premiere Pro 2024",
                 "linux": "/usr/bin/kdenlive"},
    "spotify": {"windows": ("Spotify.exe", "Spotify Premium"),
                "macos": "/Applications/Spotify.app/Contents/MacOS/Spotify",
                "linux": "/usr/share/spotify/spotify"},
    "tableau": {"windows": ("tableau.exe", "Tableau - {doc}"),
                "macos": "/Applications/Tableau Desktop 2024.1.app/Contents/MacOS/Tableau"},
    "stata": {"windows": ("StataSE-64.exe", "Stata/SE 18.0"),
              "macos": "/Applications/Stata/StataSE.app/Contents/MacOS/StataSE",
              "linux": "/usr/local/stata18/xstata-se"},
}  # fmt: skip

# Faculty → (OS weights, application → probability it is open in a busy hour).
PROFILES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "law": ({"windows": 0.75, "macos": 0.25},
            {"word": 0.9, "acrobat": 0.7, "chrome": 0.8, "teams": 0.6, "outlook": 0.6,
             "zotero": 0.2, "excel": 0.15}),
    "medicine": ({"windows": 0.6, "macos": 0.2, "linux": 0.2},
                 {"spss": 0.6, "r": 0.5, "excel": 0.7, "chrome": 0.6, "word": 0.4, "teams": 0.4,
                  "imagej": 0.2, "outlook": 0.3}),
    "engineering": ({"linux": 0.5, "windows": 0.45, "macos": 0.05},
                    {"matlab": 0.8, "solidworks": 0.4, "python": 0.7, "vscode": 0.6,
                     "chrome": 0.5, "firefox": 0.3, "ansys": 0.15, "teams": 0.2}),
    "arts": ({"macos": 0.6, "windows": 0.4},
             {"photoshop": 0.6, "illustrator": 0.4, "premiere": 0.3, "chrome": 0.5,
              "spotify": 0.3, "word": 0.4, "zoom": 0.1}),
    "science": ({"linux": 0.55, "windows": 0.25, "macos": 0.2},
                {"python": 0.7, "r": 0.5, "firefox": 0.5, "mathematica": 0.3, "vscode": 0.4,
                 "excel": 0.3, "imagej": 0.15}),
    "business": ({"windows": 0.8, "macos": 0.2},
                 {"excel": 0.9, "powerpoint": 0.6, "outlook": 0.7, "teams": 0.7, "chrome": 0.7,
                  "word": 0.5, "tableau": 0.3, "stata": 0.2}),
}  # fmt: skip
_GENERIC = ({"windows": 0.6, "macos": 0.25, "linux": 0.15},
            {"chrome": 0.7, "word": 0.5, "excel": 0.4, "teams": 0.4, "zoom": 0.1})

_FIRST = ["adam", "alex", "anna", "ben", "chen", "dana", "eva", "finn", "gita", "hana", "ivan", "jose", "kim", "lea", "mia", "nils", "omar", "pia", "raj", "sara", "tom", "una", "vera", "wei", "yara", "zoe"]  # fmt: skip
_LAST = ["smith", "jones", "garcia", "muller", "rossi", "kowal", "nguyen", "tanaka", "silva", "brown", "dubois", "novak", "larsen", "costa", "weber", "ahmed", "khan", "lopez"]  # fmt: skip
_DOCS = ["Thesis draft", "Essay 2", "Case notes", "Lab report", "Budget", "Lecture 7",
         "Survey results", "Contract review", "Poster", "Model", "Untitled"]  # fmt: skip
_HOST_PREFIX = {"law": "law", "medicine": "med", "engineering": "eng", "arts": "art",
                "science": "sci", "business": "bus"}  # fmt: skip
_OS_TAG = {"linux": "lx", "windows": "pc", "macos": "mac"}
_OS_VERSION = {"linux": "Ubuntu 24.04.1 LTS", "windows": "10.0.22631", "macos": "14.6.1"}
COMMANDS = {"linux": "ps aux", "macos": "ps aux", "windows": "tasklist /v"}


@dataclass(frozen=True)
class Host:
    name: str
    os: str
    faculty: str
    users: tuple[str, ...]


@dataclass
class Process:
    """One row to lay out: a user or system process."""

    owner: str  # "" = the logged-in user
    command: str  # Linux/macOS command line; Windows image name
    title: str = "N/A"
    rss_kb: int = 10_000
    cpu: float = 0.0
    system: bool = False
    session0: bool = False  # Windows services session


def activity(at: datetime) -> float:
    """How busy campus is at ``at`` (UTC), 0..1: working hours, evenings, nights, weekends."""
    h = at.hour + at.minute / 60
    day = math.exp(-((h - 13.0) ** 2) / (2 * 3.2**2))  # peaks early afternoon
    evening = 0.25 * math.exp(-((h - 20.0) ** 2) / (2 * 1.5**2))
    level = 0.04 + 0.9 * day + evening
    if at.weekday() >= 5:
        level *= 0.3
    return min(1.0, level)


def campus(hosts: int, faculties: tuple[str, ...], seed: int) -> list[Host]:
    """``hosts`` machines spread over ``faculties``, each with an OS and a few users."""
    rng = random.Random(f"campus/{seed}")
    users: dict[str, list[str]] = {}
    taken: set[str] = set()
    for faculty in faculties:
        pool = []
        for _ in range(max(4, 2 * hosts // max(1, len(faculties)))):
            while True:
                name = (rng.choice(_FIRST)[0] + rng.choice(_LAST))[:7] + str(rng.randrange(10))
                if name not in taken:
                    taken.add(name)
                    pool.append(name)
                    break
        users[faculty] = pool
    out = []
    counters: dict[tuple[str, str], int] = {}
    for i in range(hosts):
        faculty = faculties[i % len(faculties)]
        os_weights = PROFILES.get(faculty, _GENERIC)[0]
        os_name = rng.choices(list(os_weights), weights=list(os_weights.values()))[0]
        prefix = _HOST_PREFIX.get(faculty, faculty[:3])
        n = counters[(prefix, os_name)] = counters.get((prefix, os_name), 0) + 1
        host_users = tuple(rng.sample(users[faculty], k=min(len(users[faculty]), rng.randint(2, 5))))
        out.append(Host(f"{prefix}-{_OS_TAG[os_name]}-{n:03d}", os_name, faculty, host_users))
    return out


# ---------------------------------------------------------------------- processes


def _system_processes(os_name: str, rng: random.Random) -> list[Process]:
    P = Process
    if os_name == "linux":
        procs = [P("root", "/sbin/init splash", rss_kb=12_000, system=True),
                 P("root", "[kthreadd]", rss_kb=0, system=True),
                 P("root", "[rcu_preempt]", rss_kb=0, system=True)]
        procs += [P("root", f"[kworker/{i % 4}:{rng.randrange(3)}-events]", rss_kb=0, system=True)
                  for i in range(rng.randint(6, 14))]
        procs += [P("root", "/usr/lib/systemd/systemd-journald", rss_kb=30_000, system=True),
                  P("root", "/usr/lib/systemd/systemd-udevd", rss_kb=9_000, system=True),
                  P("systemd+", "/usr/lib/systemd/systemd-resolved", rss_kb=13_000, system=True),
                  P("message+", "@dbus-daemon --system --address=systemd: --nofork", rss_kb=6_000, system=True),
                  P("root", "/usr/sbin/NetworkManager --no-daemon", rss_kb=21_000, system=True),
                  P("root", "/usr/sbin/cron -f -P", rss_kb=2_800, system=True),
                  P("syslog", "/usr/sbin/rsyslogd -n -iNONE", rss_kb=5_000, system=True),
                  P("root", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", rss_kb=9_000, system=True),
                  P("polkitd", "/usr/lib/polkit-1/polkitd --no-debug", rss_kb=11_000, system=True),
                  P("gdm", "/usr/libexec/gdm-session-worker [pam/gdm-launch-environment]", rss_kb=10_000, system=True)]
        return procs
    if os_name == "macos":
        procs = [P("root", "/sbin/launchd", rss_kb=40_000, system=True),
                 P("root", "/usr/libexec/logd", rss_kb=20_000, system=True),
                 P("_windowserver", "/System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer -daemon", rss_kb=300_000, cpu=4.0, system=True),
                 P("root", "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Support/mds", rss_kb=60_000, system=True),
                 P("root", "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mds_stores", rss_kb=80_000, system=True),
                 P("_coreaudiod", "/usr/sbin/coreaudiod", rss_kb=15_000, system=True),
                 P("root", "/usr/sbin/cfprefsd daemon", rss_kb=6_000, system=True),
                 P("root", "/usr/sbin/distnoted daemon", rss_kb=4_000, system=True),
                 P("_locationd", "/usr/libexec/locationd", rss_kb=14_000, system=True)]
        procs += [P("root", f"/usr/libexec/{name}", rss_kb=rng.randrange(3_000, 30_000), system=True)
                  for name in rng.sample(["trustd", "securityd", "syspolicyd", "powerd", "configd",
                                          "notifyd", "diskarbitrationd", "opendirectoryd",
                                          "runningboardd", "UserEventAgent"], k=8)]
        return procs
    procs = [P("NT AUTHORITY\\SYSTEM", "System Idle Process", rss_kb=8, session0=True, system=True),
             P("N/A", "System", rss_kb=140, session0=True, system=True),
             P("N/A", "Registry", rss_kb=80_000, session0=True, system=True),
             P("N/A", "smss.exe", rss_kb=1_200, session0=True, system=True),
             P("N/A", "csrss.exe", rss_kb=5_500, session0=True, system=True),
             P("N/A", "wininit.exe", rss_kb=6_800, session0=True, system=True),
             P("N/A", "services.exe", rss_kb=10_000, session0=True, system=True),
             P("N/A", "lsass.exe", rss_kb=22_000, session0=True, system=True),
             P("NT AUTHORITY\\SYSTEM", "MsMpEng.exe", rss_kb=210_000, cpu=1.0, session0=True, system=True),
             P("NT AUTHORITY\\SYSTEM", "spoolsv.exe", rss_kb=14_000, session0=True, system=True),
             P("NT AUTHORITY\\SYSTEM", "SearchIndexer.exe", rss_kb=40_000, session0=True, system=True),
             P("N/A", "csrss.exe", rss_kb=6_000, system=True),
             P("N/A", "winlogon.exe", rss_kb=9_000, system=True),
             P("Window Manager\\DWM-1", "dwm.exe", rss_kb=90_000, cpu=2.0, system=True)]
    for _ in range(rng.randint(25, 40)):
        owner = rng.choice(["NT AUTHORITY\\SYSTEM", "NT AUTHORITY\\LOCAL SERVICE",
                            "NT AUTHORITY\\NETWORK SERVICE"])
        procs.append(P(owner, "svchost.exe", rss_kb=rng.randrange(4_000, 40_000), session0=True, system=True))
    procs += [P("", "sihost.exe", rss_kb=28_000, system=True),
              P("", "taskhostw.exe", rss_kb=16_000, system=True),
              P("", "ctfmon.exe", rss_kb=20_000, system=True),
              P("", "RuntimeBroker.exe", rss_kb=25_000, system=True),
              P("", "RuntimeBroker.exe", rss_kb=18_000, system=True)]
    return procs


def app_processes(app: str, os_name: str, rng: random.Random) -> list[Process]:
    """The processes one open application shows on ``os_name`` (empty if it does not exist there)."""
    spec = APPS[app]
    shape = spec.get(os_name)
    if shape is None:
        return []
    doc = rng.choice(_DOCS)
    heavy = app in ("matlab", "solidworks", "ansys", "photoshop", "premiere", "mathematica")
    rss = rng.randrange(600_000, 3_000_000) if heavy else rng.randrange(60_000, 600_000)
    cpu = round(rng.random() * (35 if heavy else 8), 1)
    if os_name == "windows":
        image, title = shape
        procs = [Process("", image, title.format(doc=doc, n=rng.randrange(99)), rss, cpu)]
        extra = spec.get("children")
        if extra:
            procs += [Process("", image, "N/A", rng.randrange(20_000, 250_000), round(rng.random() * 3, 1))
                      for _ in range(rng.randint(*extra))]
        return procs
    command = shape.format(doc=doc.replace(" ", "_"), n=rng.randrange(1, 99))
    procs = [Process("", command, rss_kb=rss, cpu=cpu)]
    extra = spec.get("children")
    if extra:
        exe = shape.split(" --", 1)[0] if os_name == "linux" else shape
        for _ in range(rng.randint(*extra)):
            args = spec["child_args"].format(n=rng.randrange(2, 400))
            procs.append(Process("", f"{exe} {args}", rss_kb=rng.randrange(20_000, 300_000),
                                 cpu=round(rng.random() * 3, 1)))
    return procs


def open_apps(host: Host, at: datetime, rng: random.Random) -> list[str]:
    """The applications open on ``host`` at ``at``: faculty habits, thinned out at quiet hours."""
    level = activity(at)
    chosen = []
    for app, p in PROFILES.get(host.faculty, _GENERIC)[1].items():
        if host.os in APPS[app] and rng.random() < p * (0.35 + 0.65 * level):
            chosen.append(app)
    return chosen


# ---------------------------------------------------------------------- layouts


def _clock(seconds: int, os_name: str) -> str:
    if os_name == "macos":
        return f"{seconds // 60}:{seconds % 60:02d}.{seconds * 7 % 100:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def ps_aux_linux(rows: list[Process], user: str, at: datetime, rng: random.Random) -> str:
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
        cpu_time = _clock(rng.randrange(0, 6000 if not p.system else 600), "linux")
        lines.append(f"{owner:<8} {pid:>7} {p.cpu:4.1f} {min(99.9, rss / 160_000):4.1f} {vsz:>6} "
                     f"{rss:>5} {tty:<8} {stat:<4} {start:>5} {cpu_time:>6} {p.command}")  # fmt: skip
        pid += rng.randint(1, 40)
    return "\n".join(lines) + "\n"


def ps_aux_macos(rows: list[Process], user: str, at: datetime, rng: random.Random) -> str:
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
        lines.append(f"{owner:<16} {pid:>6} {p.cpu:5.1f} {min(99.9, p.rss_kb / 160_000):4.1f} "
                     f"{vsz:>9} {p.rss_kb:>6}   ??  {rng.choice(['S', 'Ss', 'R', 'S+']):<4} "
                     f"{label:>7} {_clock(rng.randrange(0, 9000), 'macos'):>9} {p.command}")  # fmt: skip
        pid += rng.randint(1, 60)
    return "\n".join(lines) + "\n"


_TASKLIST_WIDTHS = (25, 8, 16, 11, 12, 15, 50, 12, 72)
_TASKLIST_RIGHT = frozenset({1, 3, 4, 7})


def tasklist_v(rows: list[Process], user: str, host: str, rng: random.Random) -> str:
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
        secs = rng.randrange(0, 20_000)
        cpu_time = f"{secs // 3600}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        lines.append(row([p.command, str(pid), session_name, session, f"{p.rss_kb:,} K", status,
                          owner, cpu_time, p.title]))  # fmt: skip
        pid += 4 * rng.randint(1, 60)
    return "\r\n".join(lines) + "\r\n"


# ---------------------------------------------------------------------- snapshots


def listing(host: Host, user: str, at: datetime, rng: random.Random) -> tuple[str, list[str]]:
    """One listing for ``host`` at ``at`` and the applications it shows open."""
    apps = open_apps(host, at, rng)
    rows = _system_processes(host.os, rng)  # desktop shells left out: they would top every chart
    for app in apps:
        rows += app_processes(app, host.os, rng)
    if host.os == "linux":
        return ps_aux_linux(rows, user, at, rng), apps
    if host.os == "macos":
        return ps_aux_macos(rows, user, at, rng), apps
    return tasklist_v(rows, user, host.name, rng), apps


def snapshot_times(days: int, now: datetime, host_index: int, seed: int) -> Iterator[datetime]:
    """When ``host`` took snapshots over the last ``days`` days: at most hourly, diurnal."""
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    rng = random.Random(f"times/{seed}/{host_index}")
    hour = start
    while hour < end:
        if rng.random() < activity(hour):
            yield hour + timedelta(seconds=rng.randrange(5, 300))
        hour += timedelta(hours=1)


def generate(
    hosts: int = 200, days: int = 14, faculties: tuple[str, ...] = DEFAULT_FACULTIES,
    seed: int = 0, now: datetime | None = None,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Snapshot bodies for ``POST /v1/snapshots``, in time order per host."""
    now = now or datetime.now(UTC)
    machines = campus(hosts, faculties, seed)
    for index, host in enumerate(machines):
        for at in snapshot_times(days, now, index, seed):
            rng = random.Random(f"snapshot/{seed}/{host.name}/{at.isoformat()}")
            # The same user sits at a machine for a few hours at a time.
            user = host.users[(at.timetuple().tm_yday * 3 + at.hour // 3) % len(host.users)]
            output, _ = listing(host, user, at, rng)
            yield {
                "snapshot_id": str(uuid.uuid5(_NAMESPACE, f"{seed}/{host.name}/{at.isoformat()}")),
                "host": host.name,
                "os": host.os,
                "os_version": _OS_VERSION[host.os],
                "user": user,
                "faculty": host.faculty,
                "collected_at": at.isoformat(),
                "command": COMMANDS[host.os],
                "output": output,
            }


# ---------------------------------------------------------------------- posting


@dataclass
class DemoReport:
    snapshots: int = 0
    posted: int = 0
    stored: int = 0
    failed: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


async def _post_all(
    url: str, key: str | None, bodies: list[dict[str, Any]], concurrency: int, wait: bool,
    progress: Any, timeout_s: float,
) -> DemoReport:  # fmt: skip
    import httpx

    report = DemoReport(snapshots=len(bodies))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, limits=limits,
                                 timeout=timeout_s) as client:  # fmt: skip
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        posting = progress.add_task("posting snapshots", total=len(bodies))

        async def post_worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                problem, ok = "", False
                for attempt in range(6):
                    try:
                        response = await client.post("/v1/snapshots", json=body)
                    except httpx.HTTPError as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    else:
                        if response.status_code == 202:
                            ok = True
                            break
                        problem = f"HTTP {response.status_code}: {response.text[:200]}"
                        if response.status_code not in (429, 500, 502, 503, 504):
                            break
                    await asyncio.sleep(0.2 * 2**attempt)
                if ok:
                    report.posted += 1
                elif len(report.errors) < 10:
                    report.errors.append(problem)
                progress.advance(posting)

        await asyncio.gather(*(post_worker() for _ in range(concurrency)))
        if not wait or report.posted == 0:
            return report

        # Wait until the worker has stored (or failed) every one, so the dashboard is complete.
        storing = progress.add_task("waiting for the worker", total=len(bodies))
        pending = [b["snapshot_id"] for b in bodies]
        deadline = time.monotonic() + max(120.0, len(bodies) / 20)
        while pending and time.monotonic() < deadline:
            still: list[str] = []
            sem = asyncio.Semaphore(concurrency)

            async def check(sid: str, still: list[str] = still, sem: asyncio.Semaphore = sem) -> None:
                async with sem:
                    try:
                        response = await client.get(f"/v1/snapshots/{sid}")
                    except httpx.HTTPError:
                        still.append(sid)
                        return
                if response.status_code in (401, 403):
                    raise PermissionError(response.text)
                state = response.json().get("status") if response.status_code == 200 else None
                if state == "stored":
                    report.stored += 1
                elif state == "failed":
                    report.failed += 1
                else:
                    still.append(sid)
                    return
                progress.advance(storing)

            # The worker goes in order: check the newest first, the rest only once it is done.
            try:
                await check(pending[-1])
                if not still:
                    await asyncio.gather(*(check(s) for s in pending[:-1]))
                else:
                    still = pending[:-1] + still
            except PermissionError as exc:
                # An ingest-only key: everything was accepted, just not waited for.
                report.errors.append(f"not waiting for storage: this key cannot read snapshot"
                                     f" states (needs the query role): {str(exc)[:120]}")  # fmt: skip
                return report
            pending = still
            if pending:
                await asyncio.sleep(0.5)
        report.unconfirmed = len(pending)
    return report


def run_demo(
    url: str = "http://localhost:8080", key: str | None = None, hosts: int = 200,
    days: int = 14, faculties: tuple[str, ...] = DEFAULT_FACULTIES, seed: int = 0,
    concurrency: int = 8, wait: bool = True, quiet: bool = False, timeout_s: float = 60.0,
) -> DemoReport:  # fmt: skip
    """Generate the demo campus and post it through the api; returns what happened."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)  # fmt: skip

    started = time.monotonic()
    console = Console(stderr=True, quiet=quiet)
    with console.status("generating listings…"):
        bodies = list(generate(hosts, days, faculties, seed))
    console.print(f"{len(bodies)} snapshots from {hosts} hosts over {days} day(s):"
                  f" {', '.join(faculties)}")  # fmt: skip
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:  # fmt: skip
        report = asyncio.run(_post_all(url, key, bodies, concurrency, wait, progress, timeout_s))
    report.seconds = time.monotonic() - started
    return report


def demo_command(
    url: Annotated[str, typer.Option(help="Dream api base URL.", envvar="DREAM_URL")] = (
        "http://localhost:8080"
    ),
    key: Annotated[
        str | None,
        typer.Option(help="API key with the ingest role (and query, to wait for storage).",
                     envvar="DREAM_API_KEY"),
    ] = None,  # fmt: skip
    hosts: Annotated[int, typer.Option(min=1, max=100_000, help="Machines on the campus.")] = 200,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history, up to now.")] = 14,
    faculties: Annotated[
        str, typer.Option(help="Comma-separated faculties.")
    ] = ",".join(DEFAULT_FACULTIES),
    seed: Annotated[int, typer.Option(help="Same seed (within the hour), same data.")] = 0,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Posts in flight.")] = 8,
    wait: Annotated[
        bool, typer.Option(help="Wait until the worker has stored every snapshot.")
    ] = True,
) -> None:
    """Generate realistic demo snapshots and ingest them through the api."""
    names = tuple(f.strip().lower() for f in faculties.split(",") if f.strip())
    if not names:
        print("error: --faculties names none", flush=True)
        raise typer.Exit(2)
    report = run_demo(url, key, hosts, days, names, seed, concurrency, wait)
    summary = (f"{report.posted}/{report.snapshots} posted, {report.stored} stored,"
               f" {report.failed} failed to parse, {report.unconfirmed} unconfirmed"
               f" in {report.seconds:.1f}s")  # fmt: skip
    print(summary)
    for problem in report.errors:
        print(f"  {problem}")
    if report.posted < report.snapshots or report.failed or report.unconfirmed:
        raise typer.Exit(1)
    print(f"open {url.rstrip('/')}/ for the dashboard")


__all__ = ["APPS", "DEFAULT_FACULTIES", "PROFILES", "Host", "activity", "campus", "demo_command",
           "generate", "listing", "run_demo"]  # fmt: skip
