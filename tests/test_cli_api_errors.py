"""`dream.client.Client` at a URL where some other server answers: its own error
(NotDreamAPIError, a DreamAPIError) saying so, never a JSONDecodeError. The server is a real
socket: a local HTTP server answering what the test scripts (a web page's HTML)."""

from __future__ import annotations

import pytest

from dream.client import Client, DreamAPIError, NotDreamAPIError
from helpers import Scripted, ScriptedPeer

PAGE = b"<!doctype html>\n<html>\n<body><h1>It works!</h1></body>\n</html>\n"
HTML = {"Content-Type": "text/html; charset=utf-8"}


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
