"""``dream status``, ``replay``, ``prune-raw`` and ``healthcheck``: operating a running pipeline."""

from __future__ import annotations

import json
import signal
from functools import partial
from typing import Annotated

import httpx
import psycopg
import typer
from rich.console import Console
from rich.table import Table

from dream.app import Dream
from dream.cli.output import err, fail, parse_time
from dream.cli.wiring import dream_for
from dream.errors import DreamError
from dream.settings import Settings


def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
) -> None:
    """The pipeline's health: consumer lag, last stored snapshot, pending and failed counts."""
    from dream.observability.status import pipeline_status
    from dream.storage.database import snapshot_counts

    dream = dream_for("dream-status", tracing=True, log_level="warning")
    s = dream.settings
    if s.database_url is None and not (s.embedded_pgdata / "PG_VERSION").exists():
        # Starting the embedded default here would create an empty database and report on it.
        raise fail("no database to report on: DREAM_DATABASE_URL is unset and there is no"
                   f" embedded database under {s.embedded_pgdata} (DREAM_DATA_DIR)")  # fmt: skip
    try:
        lag = None
        if s.transport == "kafka":
            from dream.transport.kafka.admin import consumer_lag

            lag = partial(consumer_lag, s)
        database_url = dream.open(write=False, analytics=False).database_url
        report = pipeline_status(s, partial(snapshot_counts, database_url), lag)
    finally:
        dream.close()
    if json_output:
        print(json.dumps(report, default=str))
    else:
        table = Table("measure", "value", title="Dream pipeline")
        for key in ("transport", "database", "last_stored_at", "stored", "pending", "failed",
                    "total_lag"):  # fmt: skip
            table.add_row(key.replace("_", " "), str(report.get(key, "")))
        for lane, lag in sorted(report.get("lag", {}).items()):
            table.add_row(f"  lag {lane}", str(lag))
        Console().print(table)
    if not report["healthy"]:  # exit 1 either way: scripts and probes read the status
        raise typer.Exit(1)


def replay(
    from_offset: Annotated[
        int | None, typer.Option("--from-offset", help="Re-read every partition from here.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Re-read what the broker received from this ISO 8601 time on."),
    ] = None,
    partition: Annotated[
        list[int] | None, typer.Option(help="Only this partition (repeatable).")
    ] = None,
) -> None:
    """Re-read the snapshot topic into the database; already stored snapshots stay untouched."""
    from dream.transport.kafka.replay import ReplaySource

    if (from_offset is None) == (since is None):
        raise fail("give exactly one of --from-offset and --since")
    since_at = parse_time(since, "--since")
    dream = dream_for("dream-replay", tracing=True)
    try:
        dream.require_kafka()
        dream.open(analytics=False).migrate()
        source = ReplaySource(
            dream.settings, from_offset=from_offset, since=since_at, partitions=partition or None
        )
    except DreamError as exc:
        dream.close()
        raise fail(str(exc)) from None
    w = dream.worker(source)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    signal.signal(signal.SIGINT, lambda *_: w.stop())
    err.print(f"replaying {source.plan.messages} message(s) of {source.plan.topic}")
    try:
        w.run(until=lambda: source.exhausted or source.stalled(30.0))
    finally:
        source.close()
        dream.close()
    t = w.totals
    print(json.dumps({"messages": source.read, "written": t.snapshots,
                      "already_stored": t.skipped, "undecodable": source.undecodable,
                      "complete": source.exhausted}))  # fmt: skip
    if not source.exhausted:
        raise typer.Exit(1)


def prune_raw(
    days: Annotated[
        int | None,
        typer.Option(
            min=0, help="Keep this many days of per-sample rows (default:"
            " DREAM_RAW_ROWS_RETENTION_DAYS)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be dropped.")] = False,
) -> None:
    """Drop per-sample process partitions (whole months) past the retention; sessions and
    rollups stay. Also deletes audit entries past DREAM_AUDIT_RETENTION_DAYS."""
    from dream.security.audit import prune_audit
    from dream.storage.database import in_utc
    from dream.storage.retention import prune_raw as prune

    settings = Settings()
    days = days if days is not None else settings.raw_rows_retention_days
    dream = Dream(settings).open(write=False, analytics=False)
    try:
        dream.migrate()
        with psycopg.connect(in_utc(dream.database_url), autocommit=True) as conn:
            result = prune(conn, days, dry_run=dry_run)
            audit = 0 if dry_run else prune_audit(conn, settings.audit_retention_days)
    finally:
        dream.close()
    verb = "would drop" if dry_run else "dropped"
    err.print(
        f"cutoff {result.cutoff.isoformat()}: {verb} {len(result.dropped)} partition(s)"
        f" {', '.join(result.dropped) or ''}; kept {len(result.kept)}; {audit} audit entries"
        f" older than {settings.audit_retention_days} days deleted"
    )


def healthcheck(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 3.0,
) -> None:
    """Exit 0 if the api (DREAM_PORT) or the worker's metrics port answers /healthz here."""
    settings = Settings()
    for port in (settings.port, settings.metrics_port):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=timeout).status_code == 200:
                return
        except httpx.HTTPError:
            continue
    err.print("unhealthy: nothing answered /healthz")
    raise typer.Exit(1)
