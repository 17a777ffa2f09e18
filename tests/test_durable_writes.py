"""What is acknowledged survives a power cut, names included: the filesystem blob store (whose
put the api's 202 waits for), the collector's spool and the local pseudonym key sync each file
before renaming (or linking) it into place, then the directory it is in, and the parent of
each directory they create.

Read from the system calls themselves (strace), since a power cut cannot be staged here."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from served import dream_env

_CALL = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")


def traced(code: str, tmp_path: Path) -> list[tuple[str, str, int]]:
    """(call, arguments, result) of the file system calls ``code`` makes, in order."""
    strace = shutil.which("strace")
    if strace is None:
        if os.environ.get("CI") == "true":
            pytest.fail("strace is not installed (`make test` installs it)")
        pytest.skip("strace is not installed")
    out = tmp_path / "trace.txt"
    done = subprocess.run(
        [strace, "-f", "-o", str(out), "-e",
         "trace=openat,fsync,rename,renameat,renameat2,link,linkat,mkdir,mkdirat",
         sys.executable, "-c", code],
        env=dream_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"this machine does not let strace trace: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    calls = []
    for line in out.read_text().splitlines():
        if m := _CALL.match(line):
            calls.append((m.group(1), m.group(2), int(m.group(3))))
    return calls


def _synced(calls: list[tuple[str, str, int]], after: int, directory: Path) -> bool:
    """Whether ``directory`` is opened and that descriptor synced after call ``after``."""
    fds = set()
    for name, args, result in calls[after + 1:]:
        if name == "openat" and f'"{directory}"' in args and "O_DIRECTORY" in args:
            fds.add(result)
        elif name == "fsync" and int(args) in fds:
            return True
    return False


def assert_durable(calls: list[tuple[str, str, int]], final: Path, into: str = "rename") -> None:
    """``final`` was written to a temporary file, synced, then renamed (or linked: ``into``)
    to its name, and its directory synced after; so was each directory made."""
    renamed = next((i for i, (name, args, _) in enumerate(calls)
                    if name.startswith(into) and f'"{final}"' in args), None)  # fmt: skip
    assert renamed is not None, f"{final} was not made by {into}"
    temporary = re.search(r'"([^"]+)"', calls[renamed][1]).group(1)  # type: ignore[union-attr]
    opened = max(i for i, (name, args, _) in enumerate(calls[:renamed])
                 if name == "openat" and f'"{temporary}"' in args)  # fmt: skip
    assert ("fsync", str(calls[opened][2]), 0) in [(n, a, r) for n, a, r in calls[opened:renamed]]
    assert _synced(calls, renamed, final.parent), f"{final.parent} not synced after the rename"
    for i, (name, args, result) in enumerate(calls):
        if name.startswith("mkdir") and result == 0:
            made = Path(re.search(r'"([^"]+)"', args).group(1))  # type: ignore[union-attr]
            assert _synced(calls, i, made.parent), f"{made.parent} not synced after mkdir {made}"


def test_a_blob_the_api_stored_is_named_durably(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    calls = traced(
        "import sys; from pathlib import Path; from dream.blobs.store import FilesystemBlobStore\n"
        f"print(FilesystemBlobStore(Path({str(root)!r})).put(b'PID TTY TIME CMD\\n' * 50).url)",
        tmp_path,
    )
    (final,) = [p for p in root.rglob("*.zst")]
    assert any(name.startswith("mkdir") for name, _, _ in calls)  # sha256/ and sha256/ab/ made
    assert_durable(calls, final)


def test_a_spooled_snapshot_is_named_durably(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    calls = traced(
        "from pathlib import Path; from dream.spool import Spool\n"
        f"Spool(Path({str(spool)!r})).put({{'snapshot_id': '00000000-0000-0000-0000-000000000001',"
        " 'collected_at': '2026-12-06T10:00:00+00:00'})",
        tmp_path,
    )
    (final,) = list(spool.glob("*.json"))
    assert_durable(calls, final)


def test_the_local_pseudonym_key_is_private_durable_and_never_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    calls = traced("from pathlib import Path; from dream.app import _local_pii_key\n"
                   f"_local_pii_key(Path({str(data)!r}))", tmp_path)  # fmt: skip
    key = data / "pii.key"
    assert_durable(calls, key, into="link")  # a link fails where a rename would replace a key
    assert not any(n.startswith("rename") and f'"{key}"' in a for n, a, _ in calls)
    created = [a for n, a, _ in calls if n == "openat" and "O_CREAT" in a and str(data) in a]
    assert created and all("O_EXCL" in a and a.endswith("0600") for a in created)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) == 64
    assert [p.name for p in data.iterdir()] == ["pii.key"]  # no temporary file left
