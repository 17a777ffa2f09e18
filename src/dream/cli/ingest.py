"""``dream parse`` and ``dream ingest``: a saved listing parsed here, or sent to an api. Both run
on a collector-only install."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from dream.cli.output import err
from dream.cli.remote import api_at
from dream.endpoint import DEFAULT_URL, key_option, url_option
from dream.errors import DreamError


def parse(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A saved listing.")],
    os: Annotated[str | None, typer.Option(help="linux | windows | macos (a hint).")] = None,
    format: Annotated[str | None, typer.Option(help="Force a format.")] = None,
    command: Annotated[str | None, typer.Option(help="The command that printed it.")] = None,
    summary: Annotated[
        bool, typer.Option(help="Print format, OS, count, warnings, skipped lines.")
    ] = False,
) -> None:
    """Parse a saved listing and print one JSON object per process (NDJSON)."""
    from dream.parsing import parse as parse_listing

    try:
        result = parse_listing(file.read_bytes(), os=os, command=command, format=format)
    except DreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for row in result.skipped:  # never in silence, and never mixed into the NDJSON on stdout
        err.print(f"line {row.line}: skipped {row.reason}", markup=False, highlight=False,
                  soft_wrap=True)  # fmt: skip
    if result.skipped:
        err.print(f"{len(result.skipped)} line(s) skipped, {len(result.processes)} read",
                  markup=False, highlight=False)  # fmt: skip
    if summary:
        print(
            json.dumps(
                {
                    "format": result.format,
                    "os": result.os,
                    "processes": len(result.processes),
                    "warnings": result.warnings,
                    "skipped": [row._asdict() for row in result.skipped],
                }
            )
        )
        return
    out = sys.stdout
    for proc in result.processes:
        out.write(json.dumps(proc.to_dict(), ensure_ascii=False))
        out.write("\n")


def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A saved listing.")],
    host: Annotated[str, typer.Option(help="Machine the listing comes from.")],
    os: Annotated[str, typer.Option(help="linux | windows | macos")],
    user: Annotated[str, typer.Option(help="User logged in on the machine.")],
    faculty: Annotated[str, typer.Option(help="Faculty the user belongs to.")],
    collected_at: Annotated[
        str | None, typer.Option(help="ISO 8601 time of collection (default: now).")
    ] = None,
    command: Annotated[str | None, typer.Option(help="The command that printed it.")] = None,
    url: Annotated[str, url_option()] = DEFAULT_URL,
    key: Annotated[str | None, key_option("ingest role")] = None,
) -> None:
    """Send a saved listing to a Dream api (as a file upload) and print the snapshot's id.
    Exit 1 if the api could not be reached or refused it, 2 on a bad --url or a field it found
    invalid."""
    fields = {
        "host": host,
        "os": os,
        "user": user,
        "faculty": faculty,
        "collected_at": collected_at or datetime.now(UTC).isoformat(),
    }
    if command:
        fields["command"] = command
    with file.open("rb") as fh, api_at(url, key) as api:
        snapshot_id = api.post_snapshot(fh, file.name, fields)
    print(snapshot_id)
