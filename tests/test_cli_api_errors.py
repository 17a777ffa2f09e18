"""Every command that asks a Dream api (ingest, query, hosts, catalog unknown) says in one line
why it could not, and exits 2 for a --url that is no URL, 1 for an api it cannot reach or a
server that does not answer as Dream's api does; the client raises its own error for the last.

The servers are real sockets: a local HTTP server answering what each test scripts (a web
page's HTML, say), and a port nothing listens on."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import services
from dream.cli import app
from dream.client import Client, DreamAPIError, NotDreamAPIError
from helpers import Scripted, ScriptedPeer

PAGE = b"<!doctype html>\n<html>\n<body><h1>It works!</h1></body>\n</html>\n"
HTML = {"Content-Type": "text/html; charset=utf-8"}
NO_URLS = ["notaurl", "http://[::1", "ftp://dream.example.edu", "http://", "http://\x00x"]


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    path = tmp_path / "ps.txt"
    path.write_text("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n")
    return path


COMMANDS = {
    "ingest": ["ingest", "{listing}", "--host", "law-pc-17", "--os", "linux", "--user", "jdoe",
               "--faculty", "law"],
    "query": ["query", "top-apps"],
    "query-csv": ["query", "top-apps", "--csv"],
    "query-json": ["query", "usage", "--json"],
    "hosts": ["hosts"],
    "catalog-unknown": ["catalog", "unknown"],
}  # fmt: skip


def _run(command: str, url: str, listing: Path) -> tuple[int, str]:
    """The command's exit status and its stderr; a traceback (any exception but the exit the
    command chose) fails the test."""
    args = [a.replace("{listing}", str(listing)) for a in COMMANDS[command]]
    result = CliRunner().invoke(app, [*args, "--url", url], env={"DREAM_API_KEY": ""})
    assert isinstance(result.exception, SystemExit), (result.exception, result.output)
    assert result.stdout == "", result.stdout
    return result.exit_code, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("url", NO_URLS)
def test_a_url_that_is_no_url_is_exit_2_naming_it(command: str, url: str, listing: Path) -> None:
    code, stderr = _run(command, url, listing)
    assert code == 2
    assert stderr.startswith(f"error: --url {url!r} is no URL the api can be reached at: ")
    assert stderr.count("\n") == 1, stderr


@pytest.mark.parametrize("url", NO_URLS)
def test_the_demo_says_so_too_before_it_generates_anything(url: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--hosts", "1", "--days", "1", "--url", url])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert result.stdout.startswith(f"error: --url {url!r} is no URL the api can be reached at: ")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_api_nothing_answers_at_is_exit_1_naming_it(command: str, listing: Path) -> None:
    url = f"http://127.0.0.1:{services.free_port()}"
    code, stderr = _run(command, url, listing)
    assert code == 1
    assert stderr.startswith(f"error: cannot reach the api at {url}: ")
    assert "refused" in stderr and stderr.count("\n") == 1, stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_web_page_at_the_url_is_exit_1_saying_it_is_no_dream_api(
    command: str, listing: Path
) -> None:
    with ScriptedPeer([(200, HTML, PAGE)]) as peer:
        code, stderr = _run(command, peer.url, listing)
    assert code == 1
    assert stderr == (f"error: the server at {peer.url} did not answer as Dream's api does: HTTP"
                      f" 200 text/html; charset=utf-8, not {'text/csv' if 'csv' in command else 'JSON'}\n")  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_an_error_page_is_one_line_with_its_status(command: str, listing: Path) -> None:
    with ScriptedPeer([(502, HTML, PAGE)]) as peer:  # a proxy's page: the api behind is down
        code, stderr = _run(command, peer.url, listing)
    assert code == 1
    assert stderr.startswith(f"error: the api at {peer.url} answered HTTP 502: <!doctype html> <html>")
    assert stderr.count("\n") == 1, stderr


def test_ingest_answered_json_but_no_snapshot_id_is_no_dream_api(listing: Path) -> None:
    with ScriptedPeer([(202, {}, {"ok": True})]) as peer:
        code, stderr = _run("ingest", peer.url, listing)
    assert code == 1
    assert f"the server at {peer.url} did not answer as Dream's api does" in stderr
    assert "not a snapshot_id" in stderr


def test_the_client_raises_its_own_error_for_an_answer_that_is_not_json() -> None:
    script: list[Scripted | None] = [(200, HTML, PAGE), (200, HTML, PAGE), (404, {}, [])]
    with ScriptedPeer(script) as peer, Client(peer.url, key="") as client:
        with pytest.raises(NotDreamAPIError) as info:
            client.hosts()
        assert isinstance(info.value, DreamAPIError) and info.value.status == 200
        assert str(info.value) == (f"the server at {peer.url} did not answer as Dream's api does:"
                                   " HTTP 200 text/html; charset=utf-8, not JSON")  # fmt: skip
        with pytest.raises(NotDreamAPIError, match="not text/csv"):
            client.fetch("/v1/analytics/top-apps", accept="text/csv")
        with pytest.raises(DreamAPIError) as refused:  # an error answer that is JSON, no object
            client.hosts()
        assert (refused.value.status, refused.value.detail) == (404, "[]")
