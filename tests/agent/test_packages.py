"""The agent's packages, built by `make agent-packages` and read back with each format's own
tools: the deb (`dpkg -c`), the rpm (`rpm -qp`) and the MSI (`msiinfo`, `msiextract`) hold the
binary that was built, the service definitions and the install-property scriptlets."""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import IN_CI

ROOT = Path(__file__).resolve().parent.parent.parent
TOOLS = ("go", "dpkg-deb", "rpmbuild", "rpm", "wixl", "msiinfo", "msiextract")


def tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"missing {missing}: `make packaging-tools` installs them (make test does)")
        pytest.skip(f"missing {missing}: run `make packaging-tools` (apt: rpm msitools wixl)")


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tools()
    out = tmp_path_factory.mktemp("packages")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    done = subprocess.run(
        ["make", "--no-print-directory", "agent-packages", f"AGENT_OUT={out}",
         f"AGENT_TARGETS=linux/{arch} windows/amd64", "AGENT_VERSION=v2.1.0-rc2"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out, arch


def test_the_deb_holds_the_binary_and_the_timer(built: tuple[Path, str]) -> None:
    out, arch = built
    listed = run("dpkg-deb", "-c", str(out / f"dream-agent_2.1.0+rc2_{arch}.deb"))
    for path in ("./usr/bin/dream-agent", "./lib/systemd/system/dream-agent.service",
                 "./lib/systemd/system/dream-agent.timer"):  # fmt: skip
        assert path in listed, listed


def test_the_rpm_holds_the_same_files_and_install_properties(built: tuple[Path, str]) -> None:
    out, arch = built
    rpm_arch = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    package = str(out / f"dream-agent-2.1.0+rc2-1.{rpm_arch}.rpm")
    assert run("rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{ARCH} %{LICENSE}", package) == (
        f"dream-agent 2.1.0+rc2 {rpm_arch} MIT"
    )
    assert run("rpm", "-qpl", package).split() == [
        "/usr/bin/dream-agent", "/usr/lib/systemd/system/dream-agent.service",
        "/usr/lib/systemd/system/dream-agent.timer",
    ]  # fmt: skip
    # --dump: path size mtime sha256 mode ...: the binary is the one built, executable.
    dumped = {
        line.split()[0]: line.split() for line in run("rpm", "-qp", "--dump", package).splitlines()
    }
    binary = dumped["/usr/bin/dream-agent"]
    assert binary[3] == sha256(out / f"dream-agent-linux-{arch}") and binary[4] == "0100755"
    scripts = run("rpm", "-qp", "--scripts", package)
    assert "set -- configure" in scripts and "umask 077" in scripts and "DREAM_FACULTY" in scripts
    assert "systemctl disable --now dream-agent.timer" in scripts
    assert "{{" not in run("rpm", "-qp", "--dump", package)  # no template left unfilled


def test_the_msi_installs_the_windows_build_and_the_task(
    built: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = built
    msi = out / "dream-agent-2.1.0+rc2-x64.msi"
    summary = run("msiinfo", "suminfo", str(msi))
    assert "Template: x64;1033" in summary and "Subject: Dream agent" in summary
    properties = dict(
        line.split("\t", 1)
        for line in run("msiinfo", "export", str(msi), "Property").splitlines()[3:]
    )
    assert properties["ProductVersion"] == "2.1.0" and properties["ProductName"] == "Dream agent"
    assert "DREAM_API_KEY" in properties["MsiHiddenProperties"]  # the key stays out of the log
    actions = run("msiinfo", "export", str(msi), "CustomAction")
    assert (
        'install --api "[DREAM_URL]" --key "[DREAM_API_KEY]" --faculty "[DREAM_FACULTY]"' in actions
    )
    assert '/Delete /TN "Dream agent" /F' in actions
    sequence = run("msiinfo", "export", str(msi), "InstallExecuteSequence")
    assert "NOT REMOVE AND DREAM_URL AND DREAM_FACULTY" in sequence and 'REMOVE="ALL"' in sequence
    directories = run("msiinfo", "export", str(msi), "Directory")
    assert "ProgramFiles64Folder" in directories and "\tDream" in directories
    run("msiextract", "-C", str(tmp_path), str(msi))
    (exe,) = tmp_path.rglob("dream-agent.exe")
    assert sha256(exe) == sha256(out / "dream-agent-windows-amd64.exe")
