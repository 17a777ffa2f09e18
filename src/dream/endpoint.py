"""Where a command finds the Dream api: one ``--url`` and one ``--key`` for every command that
talks to it (collect, demo, ingest, query) and for ``dream.client``, with the same default and
the same environment variables, so a lab machine or a notebook sets them once."""

from __future__ import annotations

from typing import Any

import typer

DEFAULT_URL = "http://localhost:8080"
URL_ENV = "DREAM_URL"
KEY_ENV = "DREAM_API_KEY"


def url_error(url: str) -> str | None:
    """Why ``url`` is no URL an api can be reached at, as the line a command prints, or None."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        problem = str(exc)
    else:
        problem = ("it does not start with http:// or https://" if parsed.scheme not in
                   ("http", "https") else "it names no host" if not parsed.host else "")  # fmt: skip
    return f"--url {url!r} is no URL the api can be reached at: {problem}" if problem else None


def url_option() -> Any:
    """``--url`` (``DREAM_URL``): the api's base URL."""
    return typer.Option("--url", help="Dream api base URL.", envvar=URL_ENV)


def key_option(role: str) -> Any:
    """``--key`` (``DREAM_API_KEY``), sent as a Bearer token; ``role`` says which key it takes."""
    return typer.Option("--key", help=f"API key with the {role} (sent as a Bearer token).",
                        envvar=KEY_ENV)  # fmt: skip
