"""The one way a command asks a Dream api (ingest, query, hosts, catalog unknown): through
``dream.client.Client``, with every way that can fail as one ``error:`` line and an exit status.

Exit status: ``2`` a ``--url`` that is no http(s) URL, or a value the api refused as invalid
(its ``422``); ``1`` the api could not be reached, refused (a key, a ``5xx``), or the server at
the url did not answer as Dream's api does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import typer
from rich.markup import escape

from dream.cli.output import err, fail
from dream.endpoint import url_error

if TYPE_CHECKING:
    from dream.client import Client


def _line(text: object, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters (an error page's HTML is no message)."""
    line = " ".join(str(text).split())
    return escape(line if len(line) <= limit else line[: limit - 1] + "…")


@contextmanager
def api_at(url: str, key: str | None) -> Iterator[Client]:
    """The api at ``url`` (``key`` sent as a Bearer token); ends the command with an error line
    and its exit status (module docstring) when it cannot be asked."""
    from dream.client import Client, DreamAPIError, NotDreamAPIError

    if problem := url_error(url):
        raise fail(_line(problem), code=2)
    try:
        with Client(url, key=key or "") as client:
            yield client
    except httpx.HTTPError as exc:  # could not connect, timed out, the connection dropped
        raise fail(f"cannot reach the api at {_line(url)}: {_line(exc) or type(exc).__name__}",
                   code=1) from None  # fmt: skip
    except NotDreamAPIError as exc:
        raise fail(_line(exc), code=1) from None
    except DreamAPIError as exc:
        if exc.status == 422 and isinstance(exc.detail, list):  # the api's validation errors
            err.print(f"[red]invalid:[/red] {_line(exc.message, 2000)}")
            raise typer.Exit(2) from None
        raise fail(f"the api at {_line(url)} answered HTTP {exc.status}: {_line(exc.message)}",
                   code=1) from None  # fmt: skip
