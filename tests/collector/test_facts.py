"""`dream collect`'s executables' facts (dream/facts.py), read as dream-agent reads them: each
OS's outputs on the agent's recorded ones (agent/internal/agent/testdata), the files, hashes and
package owners for real on this machine."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from dream.facts import (
    ExecutableFacts, executable_paths, parse_authenticode, parse_codesign, parse_dpkg_s,
    parse_rpm_qf, run_command, signers,
)  # fmt: skip

pytestmark = pytest.mark.unit
RECORDED = Path(__file__).resolve().parents[2] / "agent/internal/agent/testdata"
POWERSHELL_PATHS = (
    "powershell", "-NoProfile", "-NonInteractive", "-Command",
    "Get-CimInstance Win32_Process | ForEach-Object { $_.ExecutablePath }",
)  # fmt: skip


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def replay(outputs: dict[tuple[str, ...], str]):
    def run(argv: Sequence[str]) -> str:
        return outputs.get(tuple(argv), "")

    return run


def test_each_os_names_the_files_its_processes_run() -> None:
    run = replay({("ps", "-axo", "comm="): recorded("macos/ps-comm.txt"),
                  POWERSHELL_PATHS: recorded("windows/executable-paths.txt")})  # fmt: skip
    mac = executable_paths("macos", run)
    assert len(mac) == 4 and mac[0] == "/Applications/Safari.app/Contents/MacOS/Safari"
    assert "(kernel_task)" not in mac  # distinct, sorted, a kernel task's name left out
    assert executable_paths("windows", run) == [r"C:\Windows\System32\svchost.exe",
                                                r"C:\Windows\explorer.exe"]  # fmt: skip


def test_signers_on_recorded_outputs() -> None:
    assert parse_codesign(recorded("macos/codesign-apple.txt")) == "Software Signing"
    assert parse_codesign(recorded("macos/codesign-developer-id.txt")) == (
        "Developer ID Application: Hectic Radio Ltd (CC9Q9BH5NT)"
    )
    assert parse_codesign(recorded("macos/codesign-adhoc.txt")) == "adhoc"
    assert parse_codesign(recorded("macos/codesign-unsigned.txt")) is None
    # NotSigned and HashMismatch name nobody
    assert parse_authenticode(recorded("windows/authenticode.txt")) == {
        r"C:\Windows\explorer.exe": "Microsoft Windows",
        r"C:\Program Files\Google\Chrome\Application\chrome.exe": "Google LLC",
    }
    owners = parse_dpkg_s(recorded("linux/dpkg-S.txt"))
    assert owners == {"/bin/bash": "bash", "/usr/bin/who": "coreutils", "/bin/ls": "coreutils"}
    assert parse_rpm_qf("bash\nfile /opt/x is not owned by any package\n",
                        ["/usr/bin/bash", "/opt/x"]) == {"/usr/bin/bash": "bash"}  # fmt: skip
    # Merged /usr: dpkg knows /bin/bash, the process runs /usr/bin/bash.
    asked = ("dpkg", "-S", "/usr/bin/bash", "/opt/x", "/bin/bash")  # and the other name
    run = replay({("dpkg-query", "--version"): "Debian dpkg-query 1.21", asked: "bash: /bin/bash\n"})
    assert signers("linux", run, ["/usr/bin/bash", "/opt/x"]) == {"/usr/bin/bash": "dpkg:bash"}


def test_facts_are_the_files_and_hashed_once_per_version(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_bytes(b"abc")
    asked: list[str] = []

    def run(argv: Sequence[str]) -> str:
        if argv[0] == "ps":
            return f"{tool}\n"
        asked.append(argv[-1])
        return "Authority=Developer ID Application: X (ABC)\n"

    facts = ExecutableFacts(tmp_path / "spool" / "executables.cache", run)
    want = {"path": str(tool), "size_bytes": 3, "sha256": hashlib.sha256(b"abc").hexdigest(),
            "signer": "Developer ID Application: X (ABC)"}  # fmt: skip
    assert facts.collect("macos") == [want]
    assert facts.collect("macos") == [want] and asked == [str(tool)]  # unchanged: not asked again
    assert (facts.cache_path.stat().st_mode & 0o777) == 0o600  # it names the machine's files
    tool.write_bytes(b"abcd")
    os.utime(tool, ns=(tool.stat().st_atime_ns, tool.stat().st_mtime_ns + 10**9))
    (again,) = facts.collect("macos")
    assert again["size_bytes"] == 4 and again["sha256"] == hashlib.sha256(b"abcd").hexdigest()
    assert asked == [str(tool)] * 2  # a new version of the file: read and asked again


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/exe")
def test_linux_facts_are_the_real_files_of_the_running_processes(tmp_path: Path) -> None:
    found = {f["path"]: f for f in ExecutableFacts(tmp_path / "cache").collect("linux")}
    python = os.path.realpath(sys.executable)  # this process's /proc/self/exe
    assert found[python]["size_bytes"] == os.stat(python).st_size
    with open(python, "rb") as file:
        assert found[python]["sha256"] == hashlib.file_digest(file, "sha256").hexdigest()
    bash = os.path.realpath(shutil.which("bash") or "/bin/bash")
    if shutil.which("dpkg"):  # the package owning it, merged /usr or not
        assert signers("linux", run_command, [bash]) == {bash: "dpkg:bash"}


def test_windows_signers_of_many_files_fit_its_command_lines() -> None:
    """A first run may check hundreds of files: each PowerShell command stays under Windows'
    32,767 characters, and every file is still asked about."""
    paths = [rf"C:\Program Files\Vendor {i:03}\{'x' * 80}\app.exe" for i in range(600)]
    commands: list[str] = []

    def run(argv: Sequence[str]) -> str:
        commands.append(" ".join(argv))
        asked = [p for p in paths if f"'{p}'" in argv[-1]]
        return "".join(f"{p}\tValid\tCN=Vendor, O=Vendor\n" for p in asked)

    found = signers("windows", run, paths)
    assert len(commands) > 1 and max(map(len, commands)) < 32_767
    assert found == dict.fromkeys(paths, "Vendor")
