"""``os`` of generic ps layouts (``ps -o ...``, ``ps -l``, ``ps auxh``) when the processes
plainly belong to Linux or macOS, and ``None`` when nothing (or both) says which."""

from __future__ import annotations

import pytest

from dream.parsing import parse

LINUX_O = (
    "    PID    PPID USER     TT       COMMAND\n"
    "      1       0 root     ?        /sbin/init splash\n"
    "      2       0 root     ?        [kthreadd]\n"
    "   4189    4188 ana      pts/0    -bash\n"
)
MACOS_O = (
    "  PID  PPID USER             TT  COMMAND\n"
    "    1     0 root             ??  /sbin/launchd\n"
    "  312     1 _windowserver    ??  /System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer -daemon\n"
    " 4471     1 ana              ??  /Applications/MATLAB_R2023b.app/bin/maci64/MATLAB\n"
    " 5120  5119 ana              s000  -zsh\n"
)
LINUX_AUXH = (
    "root           2  0.0  0.0      0     0 ?        S    Nov28   0:00 [kthreadd]\n"
    "ana         4189  0.0  0.0  11260  5332 pts/0    Ss   09:12   0:00 -bash\n"
)
UNKNOWN = (
    "  PID COMMAND\n"
    "  100 python3 train.py\n"
    "  101 java -jar app.jar\n"
)


@pytest.mark.parametrize(("text", "os"), [
    (LINUX_O, "linux"), (MACOS_O, "macos"), (LINUX_AUXH, "linux"), (UNKNOWN, None),
    (LINUX_O + "   4471       1 ana      ??       /Applications/MATLAB_R2023b.app/bin/MATLAB\n", None),
])
def test_os_from_the_processes(text: str, os: str | None) -> None:
    result = parse(text, command="ps auxh" if text is LINUX_AUXH else None)
    assert result.os == os


def test_a_hint_wins() -> None:
    assert parse(MACOS_O, os="linux").os == "linux"
