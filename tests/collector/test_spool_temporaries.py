"""The spool's temporary files: a write that fails removes its own, and one left by a writer
killed between write and rename is removed at the start of the next run (it would otherwise
take disk space forever, unseen by --spool-max-bytes)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dream.collector import Collector, Sender, Spool
from helpers import Scripted, ScriptedPeer, snapshot_body

BODY = {"snapshot_id": "00000000-0000-0000-0000-000000000001",
        "collected_at": "2026-11-27T10:00:00+00:00", "output": "x" * 10_000}  # fmt: skip


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def disk_full(_fd: int) -> None:  # the data is in the file; syncing it finds no room
        raise OSError(errno.ENOSPC, "No space left on device")

    spool = Spool(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", disk_full)
        with pytest.raises(OSError, match="No space left"):
            spool.put(BODY)
    assert list(tmp_path.iterdir()) == []


CRASHING_WRITER = """
import os, sys, threading
from pathlib import Path
from dream.spool import Spool

def killed_before_the_rename(*_args):
    print("written", flush=True)
    threading.Event().wait()

os.replace = killed_before_the_rename
Spool(Path(sys.argv[1])).put({"snapshot_id": "00000000-0000-0000-0000-000000000002",
                              "collected_at": "2026-11-27T10:01:00+00:00", "output": "y" * 10000})
"""


@pytest.mark.skipif(os.name != "posix", reason="a dead writer is told by its pid on POSIX")
def test_the_next_run_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    writer = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(spool.directory)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "written\n"
    finally:
        writer.kill()  # SIGKILL: no cleanup of any kind runs
        writer.wait()
    (left,) = spool.directory.glob(f".*.{writer.pid}.tmp")
    assert left.stat().st_size > 10_000
    # A write under way in a live process (this one), and durable.write_file's temporary: both
    # young, both kept; an hour-old one of the latter is a crash's.
    live = spool.directory / f".20261127T100200.000000Z-x.json.{os.getpid()}.tmp"
    live.write_text("{")
    young, old = spool.directory / ".tmp-young", spool.directory / ".tmp-old"
    young.write_text("1")
    old.write_text("1")
    os.utime(old, (time.time() - 7200, time.time() - 7200))

    script: list[Scripted | None] = [(202, {}, {"snapshot_id": "s"})]
    with ScriptedPeer(script) as peer:
        report = Collector(Sender(peer.url, retries=0), spool, user="u", faculty="f", host="h",
                           os_name="linux", listing=lambda _os: ("ps", "PID\n1\n"),
                           log=lambda _: None).run_once()  # fmt: skip
    assert report.sent == ["s"]
    assert not left.exists() and not old.exists()
    assert live.exists() and young.exists()


def test_a_temporary_of_a_pid_that_runs_is_kept_until_it_is_an_hour_old(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(snapshot_body("PID\n"))
    mine = tmp_path / f".20261127T100200.000000Z-x.json.{os.getpid()}.tmp"
    mine.write_text("{")
    assert spool.clean_temporaries() == 0 and mine.exists()
    os.utime(mine, (time.time() - 7200, time.time() - 7200))  # its pid reused since the crash
    assert spool.clean_temporaries() == 1 and not mine.exists()
    assert len(spool.pending()) == 1
