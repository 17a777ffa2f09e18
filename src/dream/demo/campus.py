"""The demo campus: machines, their OS and users per faculty, the applications each faculty
opens (and how each shows up as processes on each OS), and how busy campus is by the hour."""

from __future__ import annotations

import hashlib
import math
import random
import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

# The campus itself is data: campus.toml (applications, faculty profiles, system processes,
# names).
_CAMPUS: dict[str, Any] = tomllib.loads(
    resources.files("dream.demo").joinpath("campus.toml").read_text(encoding="utf-8")
)
# Per application and OS, how it shows up (see campus.toml).
APPS: dict[str, dict[str, Any]] = _CAMPUS["applications"]
# Faculty → (OS weights, application → probability it is open in a busy hour).
PROFILES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    faculty: (profile["os"], profile["apps"]) for faculty, profile in _CAMPUS["profiles"].items()
}
DEFAULT_FACULTIES = tuple(PROFILES)
_GENERIC = (_CAMPUS["default_profile"]["os"], _CAMPUS["default_profile"]["apps"])
_FIRST: list[str] = _CAMPUS["first_names"]
_LAST: list[str] = _CAMPUS["last_names"]
_DOCS: list[str] = _CAMPUS["documents"]
_HOST_PREFIX: dict[str, str] = _CAMPUS["host_prefixes"]
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


def _always(group: str) -> list[Process]:
    """A fixed group of campus.toml's system processes, as fresh rows."""
    return [Process(**row, system=True) for row in _CAMPUS["system_processes"][group]]


def system_processes(os_name: str, rng: random.Random) -> list[Process]:
    """What ``os_name`` runs besides applications: campus.toml's fixed ones and some varying."""
    if os_name == "linux":
        kernel_workers = [Process("root", f"[kworker/{i % 4}:{rng.randrange(3)}-events]", rss_kb=0,
                                  system=True) for i in range(rng.randint(6, 14))]  # fmt: skip
        return _always("linux_boot") + kernel_workers + _always("linux_services")
    if os_name == "macos":
        daemons = rng.sample(_CAMPUS["system_processes"]["macos_daemons"], k=8)
        return _always("macos") + [
            Process("root", f"/usr/libexec/{name}", rss_kb=rng.randrange(3_000, 30_000), system=True)
            for name in daemons
        ]
    accounts = _CAMPUS["system_processes"]["windows_service_accounts"]
    svchosts = [Process(rng.choice(accounts), "svchost.exe", rss_kb=rng.randrange(4_000, 40_000),
                        session0=True, system=True) for _ in range(rng.randint(25, 40))]  # fmt: skip
    return _always("windows_services") + svchosts + _always("windows_session")


def app_processes(app: str, os_name: str, rng: random.Random) -> list[Process]:
    """The processes one open application shows on ``os_name`` (empty if it does not exist there)."""
    spec = APPS[app]
    shape = spec.get(os_name)
    if shape is None:
        return []
    doc = rng.choice(_DOCS)
    heavy = spec.get("heavy", False)
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


# ---------------------------------------------------------------------- executables' facts

# One file the OS itself runs on every machine (system: its vendor's signature or package).
_SYSTEM_FILE = {
    "linux": ("/usr/lib/systemd/systemd-journald", "dpkg:systemd"),
    "macos": ("/usr/libexec/logd", "Software Signing"),
    "windows": ("C:\\Windows\\System32\\svchost.exe", "Microsoft Windows"),
}


def executables(os_name: str, apps: list[str]) -> list[dict[str, Any]]:
    """The executables' facts an agent sends with a listing of ``apps`` open (docs/agent.md):
    the OS's file and each application's, their sizes and hashes fixed by the path."""
    files = [_SYSTEM_FILE[os_name]]
    for app in apps:
        shape = APPS[app][os_name]
        if os_name == "windows":
            files.append((f"C:\\Program Files\\{app}\\{shape[0]}", f"{app} publisher"))
        elif os_name == "macos":
            files.append((shape.split(" -", 1)[0], f"Developer ID Application: {app}"))
        else:
            files.append((shape.split(" ", 1)[0], f"dpkg:{app}"))
    return [{"path": path, "size_bytes": random.Random(path).randrange(200_000, 400_000_000),
             "sha256": hashlib.sha256(path.encode()).hexdigest(), "signer": signer}
            for path, signer in files]  # fmt: skip
