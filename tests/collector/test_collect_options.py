"""`dream collect`'s options are checked before anything is taken: a URL that cannot be an
api's, negative retries, a timeout that is not above 0 are bad options (exit 2, one clear
line), not retries that end in exit 3 or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import services
from dream.collector import Sender
from dream.sender import Misconfigured
from helpers import Scripted, ScriptedPeer
from served import dream_env


def collect(spool: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dream", "collect", "--once", "--faculty", "law", "--user", "u",
         "--spool-dir", str(spool), "--no-executables", "--retries", "0", *args],
        env={**dream_env(), **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


BAD = [
    (["--url", "notaurl"], "http:// or https://"),
    (["--url", "ftp://x"], "http:// or https://"),
    (["--url", "http://[::1"], "is not a URL"),
    (["--url", "http://a:99999"], "is not a URL"),
    (["--url", "http://"], "with a host"),
    (["--url", "http://127.0.0.1:9", "--retries", "-1"], "--retries -1"),
    (["--url", "http://127.0.0.1:9", "--timeout", "0"], "--timeout 0"),
    (["--url", "http://127.0.0.1:9", "--timeout", "-1"], "--timeout -1"),
    (["--url", "http://127.0.0.1:9", "--timeout", "nan"], "--timeout nan"),
]


@pytest.mark.parametrize(("args", "said"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_option_is_exit_2_with_a_clear_line(tmp_path: Path, args: list[str],
                                                  said: str) -> None:  # fmt: skip
    done = collect(tmp_path / "spool", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "spool").exists()  # nothing taken


def test_dream_url_may_list_several_apis_comma_separated(tmp_path: Path) -> None:
    """The agent's documented form: the first is down, the second takes the snapshot."""
    script: list[Scripted | None] = [(202, {}, {"snapshot_id": "from-b"})]
    with ScriptedPeer(script) as b:
        dead = f"http://127.0.0.1:{services.free_port()}"
        done = collect(tmp_path / "spool", DREAM_URL=f"{dead},{b.url}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["sent"] == ["from-b"] and len(b.received) == 1


@pytest.mark.parametrize("url", ["ftp://x", "notaurl", "http://[::1"])
def test_a_url_httpx_cannot_use_is_a_configuration_to_fix(url: str) -> None:
    """Were one to get past the command's check (the Sender used as a library): exit 4's
    error, not retries nor a traceback."""
    sleeps: list[float] = []
    with pytest.raises(Misconfigured):
        Sender(url, retries=2, sleep=sleeps.append).post(b"{}")
    assert sleeps == []
