"""``dream reprocess``, ``dream gc`` and ``dream pack-raw``: raw outputs after the fact (see
dream/blobs/)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dream.cli.output import err, parse_time
from dream.cli.wiring import running


def reprocess(
    since: Annotated[
        str | None, typer.Option(help="Only snapshots collected at or after this ISO 8601 time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only snapshots collected before this ISO 8601 time.")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="Only snapshots the parser had detected as this format.")
    ] = None,
    failed_only: Annotated[
        bool, typer.Option("--failed-only", help="Only snapshots whose parsing failed.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Snapshots per transaction.")] = 100,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore an unfinished earlier run with these filters.")
    ] = False,
) -> None:
    """Re-parse stored raw outputs with the current parser; each snapshot's rows are replaced
    atomically, rollups kept consistent. Resumable (same filters) and idempotent."""
    from dream.reprocess import Filters, Reprocessor

    filters = Filters(parse_time(since, "--since"), parse_time(until, "--until"), format, failed_only)
    with running("dream-reprocess", " (run the same command again to resume)") as dream:
        if not dream.settings.store_raw:
            err.print("[red]error:[/red] DREAM_STORE_RAW=false: no raw outputs are kept, so there"
                      " is nothing to re-parse from")  # fmt: skip
            raise typer.Exit(2)
        dream.migrate()
        worker = Reprocessor(dream.db, dream.raw_outputs, scrubber=dream.scrubber,
                             batch_size=batch_size, catalog=dream.catalog,
                             default_cadence_s=dream.settings.default_cadence_s,
                             raw_rows_retention_days=dream.settings.raw_rows_retention_days)  # fmt: skip
        total = worker.remaining(filters, restart=restart)
        with Progress(
            TextColumn("reprocess"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err, transient=False,
        ) as bar:  # fmt: skip
            task = bar.add_task("reprocess", total=total)
            result = worker.run(filters, restart=restart,
                                progress=lambda n: bar.advance(task, n))  # fmt: skip
    print(json.dumps(result.as_dict()))


def gc(
    days: Annotated[
        int | None, typer.Option(min=1, help="Retention in days (default DREAM_RAW_RETENTION_DAYS).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, delete nothing.")] = False,
) -> None:
    """Remove raw outputs older than the retention from the blob store (parsed rows stay)."""
    from dream.blobs.gc import collect_garbage

    with running("dream-gc") as dream:
        retention = days or dream.settings.raw_retention_days
        if retention is None:
            err.print("[red]error:[/red] give --days or set DREAM_RAW_RETENTION_DAYS")
            raise typer.Exit(2)
        dream.migrate()
        result = collect_garbage(dream.db, dream.raw_outputs, retention, dry_run=dry_run)
    print(json.dumps(result.as_dict()))


def pack_raw(
    older_than: Annotated[
        float, typer.Option(min=1, help="Pack outputs collected more than this many hours ago.")
    ] = 24,
    grace: Annotated[
        float, typer.Option(min=1, help="Delete packed single objects once this many hours old.")
    ] = 24,
) -> None:
    """Pack each host's raw outputs of one hour into one object (successive listings of a
    machine are nearly identical: a fraction of the space), then delete the single objects."""
    from datetime import timedelta

    from dream.blobs.packs import pack_raw_outputs

    with running("dream-pack-raw") as dream:
        dream.migrate()
        with Progress(TextColumn("pack-raw"), BarColumn(), MofNCompleteColumn(), console=err,
                      transient=False) as bar:  # fmt: skip
            task = bar.add_task("pack-raw", total=None)
            result = pack_raw_outputs(
                dream.db, dream.raw_outputs, older_than=timedelta(hours=older_than),
                grace=timedelta(hours=grace), progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
    print(json.dumps(result.as_dict()))
