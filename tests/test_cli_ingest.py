"""`dream ingest` finds the api as every other command does: --url / DREAM_URL, and sends the
key of --key / DREAM_API_KEY as a Bearer token (an api with authentication on refuses it else).

The api end is a bare HTTP server that records what arrives: this tests the command's side."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dream.cli import app
from helpers import ps_aux_with_unreadable_lines

SNAPSHOT_ID = "00000000-0000-0000-0000-0000000000aa"


@pytest.fixture
def api() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = json.dumps({"snapshot_id": SNAPSHOT_ID, "status": "accepted"}).encode()
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _ingest(listing: Path, *extra: str, env: dict[str, str]) -> str:
    result = CliRunner().invoke(app, ["ingest", str(listing), "--host", "law-pc-17", "--os", "linux",
                                      "--user", "jdoe", "--faculty", "law", *extra], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def test_ingest_sends_its_key_to_the_url_given(api, tmp_path: Path) -> None:
    url, received = api
    listing = tmp_path / "ps.txt"
    listing.write_text("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n")
    assert SNAPSHOT_ID in _ingest(listing, "--url", url, "--key", "dream_k1", env={})
    assert SNAPSHOT_ID in _ingest(listing, env={"DREAM_URL": url, "DREAM_API_KEY": "dream_k2"})
    _ingest(listing, "--url", url, env={"DREAM_API_KEY": ""})
    assert [r["path"] for r in received] == ["/v1/snapshots"] * 3
    assert [r.get("authorization") for r in received] == ["Bearer dream_k1", "Bearer dream_k2",
                                                          None]  # fmt: skip


def test_parse_says_on_stderr_which_lines_it_skipped(tmp_path: Path) -> None:
    listing = tmp_path / "ps.txt"
    listing.write_text(ps_aux_with_unreadable_lines(good=3, bad=1))
    result = CliRunner().invoke(app, ["parse", str(listing)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["pid"] for line in result.stdout.splitlines()] == [1000, 1001, 1002]
    assert "line 5: skipped malformed row" in result.stderr
    assert "1 line(s) skipped, 3 read" in result.stderr

    summary = CliRunner().invoke(app, ["parse", str(listing), "--summary"])
    assert [row["line"] for row in json.loads(summary.stdout)["skipped"]] == [5]
