"""Forest listings (``ps auxf``, ``ps axjf``, ``ps -ef --forest``, ``ps -ejH``): the tree art
procps draws before a child's command is not part of the command, nor its app."""

from __future__ import annotations

import pytest

from dream.parsing import parse
from dream.parsing.apps import strip_forest

# procps-ng 3.3 `ps auxf`, shaped as printed on Ubuntu 22.04 (see data/README.md).
AUXF = """\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           2  0.0  0.0      0     0 ?        S    Nov28   0:00 [kthreadd]
root           3  0.0  0.0      0     0 ?        I<   Nov28   0:00  \\_ [rcu_gp]
root           1  0.0  0.1 167744 11520 ?        Ss   Nov28   0:04 /sbin/init splash
root         812  0.0  0.0  15436  9088 ?        Ss   Nov28   0:00 sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups
root        4100  0.0  0.1  17172 10880 ?        Ss   09:12   0:00  \\_ sshd: ana [priv]
ana         4188  0.0  0.0  17304  7880 ?        S    09:12   0:01  |   \\_ sshd: ana@pts/0
ana         4189  0.0  0.0  11260  5332 pts/0    Ss   09:12   0:00  |       \\_ -bash
ana         5120 98.5 12.1 9231444 1968220 pts/0 Sl+  09:15  41:02  |           \\_ /usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB -nodesktop
root        4301  0.0  0.1  17172 10880 ?        Ss   09:40   0:00  \\_ sshd: ben [priv]
ben         4390  0.0  0.0  17304  7880 ?        S    09:40   0:00      \\_ sshd: ben@notty
"""

# `ps -ef --forest`.
EF_FOREST = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 Nov28 ?        00:00:04 /sbin/init splash
root         812       1  0 Nov28 ?        00:00:00 sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups
root        4100     812  0 09:12 ?        00:00:00  \\_ sshd: ana [priv]
ana         4188    4100  0 09:12 ?        00:00:01  |   \\_ sshd: ana@pts/0
ana         4189    4188  0 09:12 pts/0    00:00:00  |       \\_ -bash
ana         5120    4189 98 09:15 pts/0    00:41:02  |           \\_ python3 train.py --epochs 40
"""

# `ps axjf`.
AXJF = """\
   PPID     PID    PGID     SID TTY        TPGID STAT   UID   TIME COMMAND
      0       2       0       0 ?             -1 S        0   0:00 [kthreadd]
      2       3       0       0 ?             -1 I<       0   0:00  \\_ [rcu_gp]
      1     812     812     812 ?             -1 Ss       0   0:00 sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups
    812    4100    4100    4100 ?             -1 Ss       0   0:00  \\_ sshd: ana [priv]
   4188    4189    4189    4189 pts/0       5120 Ss    1000   0:00  |       \\_ -bash
   4189    5120    5120    4189 pts/0       5120 Sl+   1000  41:02  |           \\_ /usr/bin/python3 train.py
"""

# `ps -ejH`: comm indented by depth, no art.
EJH = """\
    PID    PGID     SID TTY          TIME CMD
      2       0       0 ?        00:00:00 kthreadd
      3       0       0 ?        00:00:00   rcu_gp
    812     812     812 ?        00:00:00 sshd
   4100    4100    4100 ?        00:00:00   sshd
   4188    4100    4100 ?        00:00:01     sshd
   4189    4189    4189 pts/0    00:00:00       bash
   5120    5120    4189 pts/0    00:41:02         MATLAB
"""


def test_ps_auxf(loops: str) -> None:
    result = parse(AUXF)
    assert (result.format, result.skipped) == ("ps-aux", [])
    by_pid = {p.pid: p for p in result.processes}
    assert (by_pid[3].command, by_pid[3].app, by_pid[3].is_system) == ("[rcu_gp]", "rcu_gp", True)
    assert (by_pid[4100].command, by_pid[4100].app) == ("sshd: ana [priv]", "sshd")
    assert (by_pid[4189].command, by_pid[4189].app) == ("-bash", "bash")
    matlab = by_pid[5120]
    assert matlab.command == "/usr/local/MATLAB/R2023b/bin/glnxa64/MATLAB -nodesktop"
    assert (matlab.name, matlab.app, matlab.rss_kb) == ("MATLAB", "matlab", 1968220)
    assert (by_pid[4390].user, by_pid[4390].app) == ("ben", "sshd")
    assert not {"_", "|", "\\_"} & {p.app for p in result.processes}


def test_ps_ef_forest(loops: str) -> None:
    result = parse(EF_FOREST)
    assert result.format == "ps-ef"
    apps = {p.pid: (p.ppid, p.app) for p in result.processes}
    assert apps == {1: (0, "init"), 812: (1, "sshd"), 4100: (812, "sshd"), 4188: (4100, "sshd"),
                    4189: (4188, "bash"), 5120: (4189, "python3")}
    assert result.processes[-1].command == "python3 train.py --epochs 40"


def test_ps_axjf() -> None:
    result = parse(AXJF)
    assert result.skipped == []
    apps = {p.pid: (p.ppid, p.app, p.command) for p in result.processes}
    assert apps[3] == (2, "rcu_gp", "[rcu_gp]")
    assert apps[4189] == (4188, "bash", "-bash")
    assert apps[5120] == (4189, "python3", "/usr/bin/python3 train.py")


def test_ps_ejh() -> None:
    result = parse(EJH)
    assert [(p.pid, p.name, p.app) for p in result.processes][-3:] == [
        (4188, "sshd", "sshd"), (4189, "bash", "bash"), (5120, "MATLAB", "matlab")]


@pytest.mark.parametrize(("text", "command"), [
    (" \\_ sshd: ana [priv]", "sshd: ana [priv]"),
    ("|   \\_ -bash", "-bash"),
    ("|       |   \\_ /bin/sh -c x", "/bin/sh -c x"),
    ("/usr/bin/a|b", "/usr/bin/a|b"),
    ("\\_", "\\_"),  # nothing after the art: left as printed
    ("\\\\server\\share\\tool.exe", "\\\\server\\share\\tool.exe"),
])
def test_strip_forest(text: str, command: str) -> None:
    assert strip_forest(text) == command
