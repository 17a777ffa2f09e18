"""`dream collect` sends the people logged on, as dream-agent does: its rules read on the
agent's recorded outputs (agent/internal/agent/testdata), then for real on this machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dream.logons import (
    NOBODY_LOGGED_ON, interactive_users, is_service_account, ordered, parse_loginctl, parse_who,
    snapshot_user,
)  # fmt: skip
from logged_on import logged_on_user
from served import dream_env

RECORDED = Path(__file__).resolve().parents[2] / "agent/internal/agent/testdata"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def replay(outputs: dict[str, str]):
    """Commands answered from recorded files; any other command prints nothing (absent)."""
    return lambda *argv: recorded(outputs[" ".join(argv)]) if " ".join(argv) in outputs else ""


def test_linux_logind_and_utmp_leave_out_root_and_greeters() -> None:
    assert ordered(parse_loginctl(recorded("linux/loginctl-elogind.txt"))) == ["larry"]
    sessions = parse_loginctl(recorded("linux/loginctl-gdm-ssh.txt"))
    assert len(sessions) == 3 and sessions[0].local and not sessions[1].local
    assert ordered(sessions) == ["myuser"]
    uids = {"jdoe": 1001, "alice": 1002}
    # alice is at the display (:0), jdoe came in over ssh: the one at the machine comes first.
    assert ordered(parse_who(recorded("linux/who.txt"), uids.get)) == ["alice", "jdoe"]
    assert ordered(parse_who(recorded("linux/who.txt"), {"jdoe": 0, "alice": 1002}.get)) == [
        "alice"
    ]
    directory_user = "root     tty1  2026-12-05 08:00\nldapuser pts/0 2026-12-05 09:00 (10.1.1.1)\n"
    assert ordered(parse_who(directory_user, lambda _: None)) == ["ldapuser"]


def test_macos_console_owner_first_never_the_login_window() -> None:
    run = replay(
        {"stat -f %Su /dev/console": "macos/console-owner-user.txt", "who": "macos/who.txt"}
    )
    assert interactive_users("macos", run)[:1] == ["jdoe"]
    run = replay({"stat -f %Su /dev/console": "macos/console-owner-loginwindow.txt"})
    assert snapshot_user("macos", run) == NOBODY_LOGGED_ON


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ("query-user-console.txt", ["phoebe"]),
        ("query-user-rdp.txt", ["juurena", "lewen"]),
        ("query-user-disconnected-first.txt", ["jdoe", "asmith"]),  # active first
        ("query-user-de.txt", ["max mustermann"]),  # localized headers, a name with a space
        ("query-user-none.txt", []),
    ],
)
def test_windows_query_user(recording: str, expected: list[str]) -> None:
    assert interactive_users("windows", replay({"query user": f"windows/{recording}"})) == expected


def test_service_accounts_are_never_users() -> None:
    for name in ("root", "SYSTEM", "NT AUTHORITY\\SYSTEM", "LAB-PC-17$", "DWM-1", "UMFD-0",
                 "LOCAL SERVICE", "_mbsetupuser", "gdm", ""):  # fmt: skip
        assert is_service_account(name), name
    for name in ("jdoe", "max mustermann", "LAB\\jdoe"):
        assert not is_service_account(name), name


@pytest.mark.skipif(sys.platform != "linux", reason="reads this Linux machine's utmp")
def test_collect_as_root_sends_the_logged_on_user_not_root(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with logged_on_user() as person:
        done = subprocess.run(
            [sys.executable, "-m", "dream", "collect", "--once", "--url", "http://127.0.0.1:9",
             "--faculty", "engineering", "--spool-dir", str(spool), "--retries", "0"],
            env=dream_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 3, done.stderr  # the api is down: spooled
    assert json.loads(done.stdout)["user"] == person
    (spooled,) = spool.glob("*.json")
    assert json.loads(spooled.read_text())["user"] == person
