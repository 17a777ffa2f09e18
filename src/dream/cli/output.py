"""What every command prints with: the error console, ISO 8601 options, the install hint."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import typer
from rich.console import Console

err = Console(stderr=True)
out = Console()
for _console in (out, err):
    if not _console.is_terminal and not os.environ.get("COLUMNS", "").strip():
        # Piped into a file, a log or grep: a table's rows and an error's line stay whole rather
        # than folded into 80 columns (an empty COLUMNS, as some shells export, names no width).
        _console.width = 200
# The one line a collector-only install is told when it runs a server command.
SERVER_INSTALL = "pip install 'dream-usage[server]'"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` and return the exit to raise (``raise fail(...)``)."""
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 option as an aware time (UTC if it names no zone); exit 2 if it is not one."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
