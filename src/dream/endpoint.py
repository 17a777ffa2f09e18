"""Where a command finds the Dream api: one ``--url`` and one ``--key`` for every command that
talks to it (collect, demo, ingest, query) and for ``dream.client``, with the same default and
the same environment variables, so a lab machine or a notebook sets them once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import typer

DEFAULT_URL = "http://localhost:8080"
URL_ENV = "DREAM_URL"
KEY_ENV = "DREAM_API_KEY"


def url_error(url: str) -> str | None:
    """Why ``url`` is no URL an api can be reached at, as the line a command prints, or None:
    the one check of every command given a ``--url`` (``dream collect``'s each URL too)."""
    import httpx

    try:
        parsed = httpx.URL(url)
        _ = urlsplit(url).port  # out of range (httpx takes 99999): ValueError
    except (httpx.InvalidURL, ValueError) as exc:
        problem = f"it is not a URL ({exc})"
    else:
        problem = ("an http:// or https:// URL with a host is needed, such as"
                   " https://dream.example.edu" if parsed.scheme not in ("http", "https")
                   or not parsed.host else "")  # fmt: skip
    return f"--url {url!r} is no URL the api can be reached at: {problem}" if problem else None


def url_option() -> Any:
    """``--url`` (``DREAM_URL``): the api's base URL."""
    return typer.Option("--url", help="Dream api base URL.", envvar=URL_ENV)


def key_option(role: str) -> Any:
    """``--key`` (``DREAM_API_KEY``), sent as a Bearer token; ``role`` says which key it takes."""
    return typer.Option("--key", help=f"API key with the {role} (sent as a Bearer token).",
                        envvar=KEY_ENV)  # fmt: skip
