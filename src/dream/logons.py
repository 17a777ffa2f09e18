"""Who is logged on to this machine: the interactive users ``dream collect`` sends.

The collector runs as root, SYSTEM or a service account, so its own account (``getpass``) says
nothing about who uses the machine. The rules are dream-agent's (docs/agent.md, "Who is the
user"): Linux reads logind (``loginctl``) and utmp (``who``), macOS the console's owner then
``who``, Windows ``query user``. People are ordered active before disconnected, at the machine
before remote, then as listed; nobody logged on is ``(nobody)``. Standard library only.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import NamedTuple

NOBODY_LOGGED_ON = "(nobody)"
_FIRST_PERSON_UID = 1000  # login.defs UID_MIN: below are system accounts and greeters
_SERVICE = frozenset({"root", "system", "local service", "network service", "_mbsetupuser",
                      "loginwindow", "gdm", "lightdm", "sddm", "nobody"})  # fmt: skip
_ACTIVE = ("activ", "aktiv", "actif")  # `query user`'s STATE, localized


class Logon(NamedTuple):
    user: str
    local: bool
    active: bool = True


def is_service_account(name: str) -> bool:
    """root, SYSTEM, a machine account (``PC$``), a display manager, Windows' DWM-n/UMFD-n."""
    lower = name.strip().lower().rsplit("\\", 1)[-1]
    return (not lower or lower in _SERVICE or lower.endswith("$")
            or lower.startswith(("dwm-", "umfd-")))  # fmt: skip


def _uid(name: str) -> int | None:
    try:
        import pwd  # not on Windows, which has no `who`

        return pwd.getpwnam(name).pw_uid
    except (ImportError, KeyError):  # a directory-only account: a person
        return None


def parse_loginctl(output: str) -> list[Logon]:
    """``loginctl list-sessions --no-legend``: SESSION UID USER [SEAT] [TTY] [CLASS]..."""
    logons = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 3 or not fields[1].isdigit() or int(fields[1]) < _FIRST_PERSON_UID:
            continue
        rest = fields[3:]
        if "manager" in rest or "manager-early" in rest or is_service_account(fields[2]):
            continue
        logons.append(Logon(fields[2], any(f.startswith(("seat", "tty")) for f in rest)))
    return logons


def parse_who(output: str, uid: Callable[[str], int | None] = _uid) -> list[Logon]:
    """``who`` (utmp): NAME LINE TIME [(HOST)]; local on a console, a tty or an X display."""
    logons = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 2 or is_service_account(fields[0]):
            continue
        known = uid(fields[0])
        if known is not None and known < _FIRST_PERSON_UID:
            continue
        last = fields[-1]
        host = last[1:-1] if last.startswith("(") and last.endswith(")") else ""
        tty = fields[1]
        local = host.startswith(":") or (
            not host and (tty.startswith(("tty", ":")) or tty == "console")
        )
        logons.append(Logon(fields[0], local))
    return logons


def parse_query_user(output: str) -> list[Logon]:
    """Windows' ``query user``: the name ends where the (localized) header's second column
    starts; a disconnected session has no session name, so its id is the first number."""
    lines = output.replace("\r\n", "\n").split("\n")
    if len(lines) < 2:
        return []
    second = re.search(r"\S+\s+(\S)", lines[0])
    cut = second.start(1) - 1 if second else 0  # in a line without its marker column
    logons = []
    for line in lines[1:]:
        body = line[1:]  # '>' marks the current session
        if not body.strip():
            continue
        end = cut if 0 < cut <= len(body) else len(body.split()[0])
        name, rest = body[:end].strip(), body[end:].split()
        if not name or is_service_account(name):
            continue
        first_number = next((i for i, f in enumerate(rest) if f.isdigit()), None)
        session = rest[0] if first_number else ""
        state = (
            rest[first_number + 1]
            if first_number is not None and first_number + 1 < len(rest)
            else ""
        )
        logons.append(Logon(name, session.lower() == "console", state.lower().startswith(_ACTIVE)))
    return logons


def ordered(logons: list[Logon]) -> list[str]:
    """The people, without repeats: active, then at the machine, then as listed."""
    ranked = sorted(enumerate(logons), key=lambda e: (not e[1].active, not e[1].local, e[0]))
    return list(dict.fromkeys(logon.user for _, logon in ranked))


def _run(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def interactive_users(os_name: str, run: Callable[..., str] = _run) -> list[str]:
    """The people logged on to this machine now, first the one a snapshot is sent for."""
    if os_name == "windows":
        return ordered(parse_query_user(run("query", "user")))
    if os_name == "macos":
        owner = run("stat", "-f", "%Su", "/dev/console").strip()
        console = [] if is_service_account(owner) else [Logon(owner, True)]
        return ordered(console + parse_who(run("who")))
    return ordered(parse_loginctl(run("loginctl", "list-sessions", "--no-legend"))
                   + parse_who(run("who")))  # fmt: skip


def snapshot_user(os_name: str, run: Callable[..., str] = _run) -> str:
    """The user a snapshot is sent for: the first interactive user, or ``(nobody)``."""
    users = interactive_users(os_name, run)
    return users[0] if users else NOBODY_LOGGED_ON
