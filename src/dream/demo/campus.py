"""The demo campus: machines, their OS and users per faculty, the applications each faculty
opens (and how each shows up as processes on each OS), and how busy campus is by the hour."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_FACULTIES = ("law", "medicine", "engineering", "arts", "science", "business")

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
OS_VERSION = {"linux": "Ubuntu 24.04.1 LTS", "windows": "10.0.22631", "macos": "14.6.1"}
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


def system_processes(os_name: str, rng: random.Random) -> list[Process]:
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
