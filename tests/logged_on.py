"""A person logged on to this machine, for real: a throwaway account (useradd) with a process of
its own and a USER_PROCESS record in /run/utmp naming it (the file `who` reads where logind does
not run), removed afterwards. The collectors must send that account, not root."""

from __future__ import annotations

import os
import pwd
import secrets
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import IN_CI

UTMP = Path("/run/utmp")


def utmp_record(user: str, pid: int, line: str, host: str) -> bytes:
    """A glibc x86-64/aarch64 ``struct utmp`` (384 bytes) of type USER_PROCESS (7)."""
    return struct.pack("<hxxi32s4s32s256shhiii16s20s", 7, pid, line.encode(), line[-4:].encode(),
                       user.encode(), host.encode(), 0, 0, 0, int(time.time()), 0, b"", b"")  # fmt: skip


@contextmanager
def logged_on_user() -> Iterator[str]:
    """A throwaway account logged on at the display: its own process, a utmp record naming it."""
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("user detection is tested as root (useradd, /run/utmp)")
        pytest.skip("needs root: creates an account and writes /run/utmp")
    name = f"dl{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)  # fmt: skip
    previous = UTMP.read_bytes() if UTMP.exists() else None
    session = subprocess.Popen(["sleep", "600"], user=pwd.getpwnam(name).pw_uid)
    try:
        with open(UTMP, "ab") as utmp:
            utmp.write(utmp_record(name, session.pid, "tty7", ":0"))
        yield name
    finally:
        session.kill()
        session.wait()
        if previous is None:
            UTMP.unlink(missing_ok=True)
        else:
            UTMP.write_bytes(previous)
        subprocess.run(["userdel", name], check=False, capture_output=True)
