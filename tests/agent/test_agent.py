"""dream-agent, the Go collector (agent/): built here with `go build`, run on this Linux machine
as root against a real `dream serve`.

The interactive user is made for real: a throwaway account (useradd) with a process of its own
and a USER_PROCESS record in /run/utmp naming it (the file `who` reads where logind does not
run), removed afterwards. The agent must send that account as the snapshot's user, not root.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import services
from helpers import IN_CI, wait_for
from logged_on import logged_on_user
from served import dream_env, serve_command

ROOT = Path(__file__).resolve().parent.parent.parent
AGENT = ROOT / "agent"
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="runs the Linux build on Linux")


def go() -> str:
    """The Go toolchain; absent: a skip on a developer machine, a failure in CI."""
    found = shutil.which("go")
    if found is None:
        if IN_CI:
            pytest.fail("`go` is not installed: CI builds and tests the agent")
        pytest.skip("`go` is not installed (https://go.dev/dl/): the agent cannot be built")
    return found


@pytest.fixture(scope="session")
def agent_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agent") / "dream-agent"
    done = subprocess.run(
        [go(), "build", "-trimpath", "-ldflags", "-X dream/agent/internal/agent.Version=test",
         "-o", str(out), "./cmd/dream-agent"],
        cwd=AGENT, env={**os.environ, "CGO_ENABLED": "0"}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def run_agent(binary: Path, spool: Path, *apis: str, key: str | None = None,
              extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:  # fmt: skip
    argv = [str(binary), "run", "--faculty", "engineering", "--host", "agent-test",
            "--spool-dir", str(spool), "--config", str(spool.parent / "absent.conf"),
            "--retries", "1", "--backoff", "0.05", "--timeout", "5", "--interval", "2m", *extra]  # fmt: skip
    for api in apis:
        argv += ["--api", api]
    if key is not None:
        argv += ["--key", key]
    done = subprocess.run(argv, env=dream_env(), capture_output=True, text=True, timeout=300)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def state_of(url: str, snapshot_id: str) -> dict[str, Any] | None:
    state = httpx.get(f"{url}/v1/snapshots/{snapshot_id}", timeout=5).json()
    return state if state.get("status") not in (None, "pending") else None


# ---------------------------------------------------------------------- tests


def test_go_unit_tests_pass() -> None:
    """The OS-specific parsing (who, loginctl, query user, console owner, codesign,
    Authenticode, dpkg), the spool, the sender and the installers, on recorded outputs."""
    done = subprocess.run([go(), "test", "./..."], cwd=AGENT, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_windows_and_macos_builds_compile(tmp_path: Path) -> None:
    for goos, goarch in (("windows", "amd64"), ("windows", "arm64"), ("darwin", "amd64"),
                         ("darwin", "arm64"), ("linux", "arm64")):  # fmt: skip
        out = tmp_path / f"dream-agent-{goos}-{goarch}"
        done = subprocess.run(
            [go(), "build", "-trimpath", "-o", str(out), "./cmd/dream-agent"], cwd=AGENT,
            env={**os.environ, "CGO_ENABLED": "0", "GOOS": goos, "GOARCH": goarch},
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, (goos, goarch, done.stderr)
        magic = out.read_bytes()[:4]
        assert magic[:2] == b"MZ" if goos == "windows" else magic in (
            b"\xcf\xfa\xed\xfe", b"\x7fELF"), (goos, magic)  # fmt: skip


@LINUX
def test_the_debian_package_holds_the_agent_and_its_timer(tmp_path: Path) -> None:
    go()
    if shutil.which("dpkg-deb") is None:
        if IN_CI:
            pytest.fail("dpkg-deb is missing: CI builds the agent's Debian package")
        pytest.skip("dpkg-deb is not installed")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    done = subprocess.run(["make", "--no-print-directory", "agent-deb", f"AGENT_TARGETS=linux/{arch}",
                           f"AGENT_OUT={tmp_path}", "AGENT_VERSION=v2.0.0-rc1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    deb = tmp_path / f"dream-agent_2.0.0+rc1_{arch}.deb"
    info = subprocess.run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert info.split() == ["Package:", "dream-agent", "Version:", "2.0.0+rc1", "Architecture:",
                            arch]  # fmt: skip
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "control")], check=True)
    root = tmp_path / "root"
    service = (root / "lib/systemd/system/dream-agent.service").read_text()
    timer = (root / "lib/systemd/system/dream-agent.timer").read_text()
    assert "ExecStart=/usr/bin/dream-agent run --config /etc/dream/agent.conf" in service
    assert "OnUnitActiveSec=300s" in timer
    # Only 3 (spooled, sent later) is a success: 4, 5 (refused) and 6 (lost) fail the unit.
    success = [line for line in service.splitlines() if line.startswith("SuccessExitStatus=")]
    assert success == ["SuccessExitStatus=3"], success
    assert "{{" not in service + timer
    version = subprocess.run([str(root / "usr/bin/dream-agent"), "version"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert version.startswith(f"dream-agent/v2.0.0-rc1 (linux/{arch})")

    # Install properties: the postinst writes the configuration (0600), here in a private mount
    # namespace whose /etc is a tmpfs (the machine's /etc is not touched), and the agent reads it.
    script = ("mount -t tmpfs tmpfs /etc && sh \"$0\" configure"
              " && cat /etc/dream/agent.conf && stat -c %a /etc/dream/agent.conf")
    env = {**dream_env(), "DREAM_URL": "http://127.0.0.1:9", "DREAM_API_KEY": "k1",
           "DREAM_FACULTY": "law"}  # fmt: skip
    configured = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script, str(tmp_path / "control/postinst")],
                                env=env, capture_output=True, text=True)  # fmt: skip
    if configured.returncode != 0 and not IN_CI:
        pytest.skip(f"no private mount namespace here: {configured.stderr.strip()}")
    assert configured.returncode == 0, configured.stderr
    *conf, mode = configured.stdout.strip().splitlines()
    assert mode == "600" and "url = http://127.0.0.1:9" in conf and "faculty = law" in conf
    (tmp_path / "agent.conf").write_text("\n".join(conf) + "\n")
    run = subprocess.run([str(root / "usr/bin/dream-agent"), "run", "--config",
                          str(tmp_path / "agent.conf"), "--spool-dir", str(tmp_path / "spool"),
                          "--retries", "0", "--executables", "false"],
                         env=dream_env(), capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 3, run.stderr  # configured (not 2), the api down


@LINUX
def test_the_snapshot_names_the_session_user_and_the_real_files(agent_binary: Path,
                                                                tmp_path: Path) -> None:  # fmt: skip
    with logged_on_user() as person, serve_plain(tmp_path) as served:
        status, report = run_agent(agent_binary, tmp_path / "spool", served.url)
        assert status == 0, report
        assert report["user"] == person and report["users"] == [person]
        state = wait_for(lambda: state_of(served.url, report["snapshot_id"]), what="the snapshot")
        assert state["status"] == "stored" and state["format"] == "ps-custom", state
        assert state["warnings"] == [] and state["process_count"] > 5
        assert state["user"] == person  # not root, the account the agent runs as
        # Its executables' facts are stored and asked: the agent's own file, at its real size.
        files = httpx.get(f"{served.url}/v1/analytics/executables", timeout=30,
                          params={"host": "agent-test", "include_system": "true",
                                  "limit": 10_000}).json()["items"]  # fmt: skip
        mine = [f for f in files if f["path"] == str(agent_binary)]
        assert [f["size_bytes"] for f in mine] == [os.stat(agent_binary).st_size]
        assert mine[0]["users"] == 1 and mine[0]["app"] == "dream-agent"
    # Nobody logged on: the documented placeholder, still not root.
    status, report = run_agent(agent_binary, tmp_path / "spool2", "http://127.0.0.1:9")
    assert status == 3 and report["user"] == "(nobody)" and report["users"] == []


@LINUX
def test_executables_are_the_files_processes_run(agent_binary: Path, tmp_path: Path) -> None:
    """Each fact is the real file: its size is os.stat's and its hash the file's."""
    spool = tmp_path / "spool"
    status, report = run_agent(agent_binary, spool, "http://127.0.0.1:9")
    assert status == 3 and report["executables"] > 0
    body = json.loads(next(spool.glob("*.json")).read_text())
    facts = {fact["path"]: fact for fact in body["executables"]}
    assert str(agent_binary) in facts  # the agent itself ran while it listed
    for path, fact in facts.items():
        if Path(path).exists():
            assert fact["size_bytes"] == os.stat(path).st_size, path
    bash = facts.get(os.path.realpath(shutil.which("bash") or "/bin/bash"))
    if bash is not None and shutil.which("dpkg"):
        assert bash["signer"] == "dpkg:bash"  # the package owning it (merged /usr or not)


@LINUX
def test_spools_while_the_api_is_down_and_drains_in_order(agent_binary: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    port = services.free_port()
    spool = tmp_path / "spool"
    ids = []
    for _ in range(2):  # nothing listens: exit 3, the snapshots wait, private, oldest first
        status, report = run_agent(agent_binary, spool, f"http://127.0.0.1:{port}")
        assert status == 3 and report["spooled"] == len(ids) + 1, report
        ids.append(report["snapshot_id"])
    files = sorted(spool.glob("*.json"))
    assert [json.loads(f.read_text())["snapshot_id"] for f in files] == ids
    assert (spool.stat().st_mode & 0o777) == 0o700
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in files)

    dead = f"http://127.0.0.1:{services.free_port()}"  # the first api stays dead: moved past
    with serve_plain(tmp_path, port=port) as served:
        status, report = run_agent(agent_binary, spool, dead, served.url)
        assert status == 0, report
        assert report["sent"] == [*ids, report["snapshot_id"]]  # the spool first, in order
        assert list(spool.glob("*.json")) == []
        for sid in report["sent"]:
            state = wait_for(lambda sid=sid: state_of(served.url, sid), what=f"snapshot {sid}")
            assert state["status"] == "stored", state


@LINUX
def test_a_full_spool_evicts_the_oldest_and_says_so(agent_binary: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    limit = ("--spool-max-bytes", "1024", "--executables", "false")  # less than one listing
    first_status, first = run_agent(agent_binary, spool, "http://127.0.0.1:9", extra=limit)
    status, second = run_agent(agent_binary, spool, "http://127.0.0.1:9", extra=limit)
    assert first_status == status == 3
    assert second["evicted"] == 1 and second["evicted_total"] == 1 and second["spooled"] == 1
    assert [f.name.split("Z-")[1] for f in spool.glob("*.json")] == [f"{second['snapshot_id']}.json"]


@LINUX
def test_a_snapshot_neither_sent_nor_spooled_is_lost_and_says_so(agent_binary: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    spool = tmp_path / "spool"
    spool.write_text("a file where the spool should be\n")
    status, report = run_agent(agent_binary, spool, "http://127.0.0.1:9",
                               extra=("--executables", "false"))  # fmt: skip
    assert status == 6, report  # not 3: nothing waits for a later run
    assert "lost" in report["error"] and report["sent"] == [] and report["spooled"] == 0, report


@LINUX
def test_a_refused_key_is_a_configuration_error_not_downtime(agent_binary: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    good = f"dream_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:43]}"
    wrong = f"dream_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)[:43]}"
    spool = tmp_path / "spool"
    with serve_plain(tmp_path, DREAM_AUTH="on", DREAM_BOOTSTRAP_ADMIN_KEY=good) as served:
        status, report = run_agent(agent_binary, spool, served.url, key=wrong)
        assert status == 4, report  # not 3: a timer must not count this as success
        assert "401" in report["error"] and report["spooled"] == 1
        status, report = run_agent(agent_binary, spool, served.url, key=good)
        assert status == 0 and len(report["sent"]) == 2, report  # nothing was lost
    status, report = run_agent(agent_binary, spool, "http://dream-agent-test.invalid", key=good)
    assert status == 4 and "no such host" in report["error"], report


def test_a_bad_configuration_exits_2(agent_binary: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(agent_binary), "run", "--config", str(tmp_path / "none")],
                          env=dream_env(), capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "faculty" in done.stderr and "url" in done.stderr
    version = subprocess.run([str(agent_binary), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("dream-agent/test ")


@contextmanager
def serve_plain(tmp_path: Path, port: int | None = None, **env: str) -> Iterator[Any]:
    """`dream serve` storing user names as sent (DREAM_PII_MODE=off), so the test reads them."""
    port = port or services.free_port()
    data = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
    argv: list[str | Path] = [sys.executable, "-m", "dream", "serve", "--port", str(port),
                              "--data-dir", str(data)]  # fmt: skip
    environment = {**dream_env(), "DREAM_PII_MODE": "off", **env}
    with serve_command(argv, port, env=environment, log=tmp_path / f"serve-{port}.log") as served:
        yield served


