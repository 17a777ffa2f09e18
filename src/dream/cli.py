"""The ``dream`` command: a thin layer over the app object."""

from __future__ import annotations

import json
import signal
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dream.app import Dream
from dream.cli_query import prune_raw, query_app
from dream.cli_raw import register as register_raw_commands
from dream.cli_keys import keys_app
from dream.errors import ConfigurationError, DreamError
from dream.logs import configure_logging
from dream.observability.server import MetricsServer
from dream.worker.health import readiness
from dream.observability.tracing import configure_tracing
from dream.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Dream: process listings in, research answers out.")
err = Console(stderr=True)


def _dream(service: str, **overrides: object) -> Dream:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    configure_logging(settings.log_format, settings.log_level, service=service)
    configure_tracing(service)
    return Dream(settings)


def _serve_http(dream: Dream, *, with_worker: bool) -> None:
    import uvicorn

    from dream.web.app import create_app
    from dream.worker.thread import WorkerThread

    dream.migrate()
    dream.bootstrap()
    publisher = dream.publisher()
    worker = dream.worker() if with_worker else None
    api = create_app(dream, publisher=publisher, progress=worker.progress if worker else None)
    s = dream.settings
    err.print(
        f"Dream on http://{s.host}:{s.port} — transport {s.transport}, "
        f"database {'embedded' if s.database_url is None else 'configured'}, "
        f"authentication {s.auth}"
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was there before it. Make that handler a clean exit, so the `finally` below and the
    # embedded database's exit hook still run.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    try:
        # The worker runs beside the api, not inside it: stopped once the api has stopped.
        # SIGTERM: uvicorn stops accepting, lets requests in progress finish (each waits at
        # most for the broker's acknowledgement), then the lifespan flushes the producer.
        with WorkerThread(worker) if worker is not None else nullcontext():
            uvicorn.run(
                api, host=s.host, port=s.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=max(1, round(s.shutdown_timeout_s)),
            )  # fmt: skip
    finally:
        dream.close()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Embedded database and local state.")
    ] = None,
) -> None:
    """API and worker in one process (embedded PostgreSQL and direct pipeline by default)."""
    dream = _dream("dream-serve", host=host, port=port, data_dir=data_dir)
    s = dream.settings
    if "auth" not in s.model_fields_set and s.database_url is None and s.kafka_bootstrap is None:
        # The newcomer's laptop default: loopback, embedded database, no keys to hand out yet.
        s.auth = "off"
        if s.host not in ("127.0.0.1", "localhost", "::1"):
            err.print("[yellow]warning:[/yellow] authentication is off and the api listens on"
                      f" {s.host}; set DREAM_AUTH=on and create keys with `dream keys create`")  # fmt: skip
    _serve_http(dream, with_worker=True)


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The ingest api alone, producing to Kafka (needs DREAM_KAFKA_BOOTSTRAP)."""
    dream = _dream("dream-api", host=host, port=port)
    try:
        dream.require_kafka()
    except ConfigurationError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _serve_http(dream, with_worker=False)


@app.command()
def worker() -> None:
    """The worker alone: consume from Kafka, parse, write to PostgreSQL."""
    dream = _dream("dream-worker")
    try:
        dream.require_kafka()
    except ConfigurationError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    dream.migrate()
    w = dream.worker()
    metrics = None

    def stop(signum: int, _frame: object) -> None:
        w.stop()

    # Everything after the consumer exists runs under the finally: a consumer left open at exit
    # is destroyed by the interpreter's last GC, which can hang librdkafka (a process that never
    # exits, spinning) instead of failing.
    try:
        if dream.settings.metrics_port:
            # /metrics for Prometheus, /healthz for the liveness probe (unhealthy once stopped),
            # /readyz for readiness (not ready while the worker cannot make progress).
            try:
                metrics = MetricsServer(dream.settings.metrics_port,
                                        healthy=lambda: not w.stopping.is_set(),
                                        ready=lambda: readiness(w.progress, dream.db.ping),
                                        ).start()  # fmt: skip
            except OSError as exc:
                err.print(f"[red]error:[/red] cannot serve metrics on port"
                          f" {dream.settings.metrics_port} (DREAM_METRICS_PORT): {exc.strerror}")
                raise typer.Exit(2) from None
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        w.run()
    finally:
        w.source.close()
        if metrics is not None:
            metrics.stop()
        dream.close()


@app.command("migrate")
def migrate_command() -> None:
    """Apply pending database migrations."""
    dream = _dream("dream-migrate")
    applied = dream.migrate()
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@app.command()
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
        err.print("[red]error:[/red] give exactly one of --from-offset and --since")
        raise typer.Exit(2)
    since_at = None
    if since is not None:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            err.print(f"[red]error:[/red] --since {since!r} is not an ISO 8601 time")
            raise typer.Exit(2) from None
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
    dream = _dream("dream-replay")
    try:
        dream.require_kafka()
        dream.migrate()
        source = ReplaySource(
            dream.settings, from_offset=from_offset, since=since_at, partitions=partition or None
        )
    except DreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        dream.close()
        raise typer.Exit(2) from None
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
    print(
        json.dumps(
            {
                "messages": source.read,
                "written": t.snapshots,
                "already_stored": t.skipped,
                "undecodable": source.undecodable,
                "complete": source.exhausted,
            }
        )
    )
    if not source.exhausted:
        raise typer.Exit(1)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A saved listing.")],
    os: Annotated[str | None, typer.Option(help="linux | windows | macos (a hint).")] = None,
    format: Annotated[str | None, typer.Option(help="Force a format.")] = None,
    command: Annotated[str | None, typer.Option(help="The command that printed it.")] = None,
    summary: Annotated[bool, typer.Option(help="Print format, OS, count, warnings.")] = False,
) -> None:
    """Parse a saved listing and print one JSON object per process (NDJSON)."""
    from dream.parsing import parse as parse_listing

    try:
        result = parse_listing(file.read_bytes(), os=os, command=command, format=format)
    except DreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if summary:
        print(
            json.dumps(
                {
                    "format": result.format,
                    "os": result.os,
                    "processes": len(result.processes),
                    "warnings": result.warnings,
                }
            )
        )
        return
    out = sys.stdout
    for proc in result.processes:
        out.write(json.dumps(proc.to_dict(), ensure_ascii=False))
        out.write("\n")


@app.command()
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
    url: Annotated[str, typer.Option(help="Dream api base URL.")] = "http://localhost:8080",
) -> None:
    """Send a saved listing to a Dream api (as a file upload)."""
    import httpx

    fields = {
        "host": host,
        "os": os,
        "user": user,
        "faculty": faculty,
        "collected_at": collected_at or datetime.now(UTC).isoformat(),
    }
    if command:
        fields["command"] = command
    with file.open("rb") as fh:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/snapshots",
            data=fields,
            files={"output": (file.name, fh, "application/octet-stream")},
            timeout=60,
        )
    if response.status_code != 202:
        err.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    print(response.json()["snapshot_id"])


@app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
) -> None:
    """The pipeline's health: consumer lag, last stored snapshot, pending and failed counts."""
    from dream.observability.status import pipeline_status

    dream = _dream("dream-status", log_level="warning")
    s = dream.settings
    if s.database_url is None and not (s.embedded_pgdata / "PG_VERSION").exists():
        # Starting the embedded default here would create an empty database and report on it.
        err.print(f"[red]error:[/red] no database to report on: DREAM_DATABASE_URL is unset and"
                  f" there is no embedded database under {s.embedded_pgdata} (DREAM_DATA_DIR)")  # fmt: skip
        raise typer.Exit(2)
    try:
        lag = None
        if s.transport == "kafka":
            from dream.transport.kafka.admin import consumer_lag

            lag = partial(consumer_lag, s)
        report = pipeline_status(s, dream.database_url, lag)
    finally:
        dream.close()
    if json_output:
        print(json.dumps(report, default=str))
        return
    from rich.console import Console as RichConsole
    from rich.table import Table

    table = Table("measure", "value", title="Dream pipeline")
    for key in ("transport", "database", "last_stored_at", "stored", "pending", "failed",
                "total_lag"):  # fmt: skip
        table.add_row(key.replace("_", " "), str(report.get(key, "")))
    for lane, lag in sorted(report.get("lag", {}).items()):
        table.add_row(f"  lag {lane}", str(lag))
    RichConsole().print(table)
    if not report["healthy"]:
        raise typer.Exit(1)


@app.command()
def healthcheck(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 3.0,
) -> None:
    """Exit 0 if the api (DREAM_PORT) or the worker's metrics port answers /healthz here."""
    import httpx

    settings = Settings()
    for port in (settings.port, settings.metrics_port):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=timeout).status_code == 200:
                return
        except httpx.HTTPError:
            continue
    err.print("unhealthy: nothing answered /healthz")
    raise typer.Exit(1)


app.add_typer(query_app, name="query")
app.add_typer(keys_app, name="keys")
app.command("prune-raw")(prune_raw)
register_raw_commands(app)  # dream reprocess, dream gc (dream/cli_raw.py)
from dream.collector import collect_command  # noqa: E402  (issue 8: collector and demo)
from dream.demo.command import demo_command  # noqa: E402

app.command("collect")(collect_command)
app.command("demo")(demo_command)


def main() -> None:  # pragma: no cover - console script entry
    app()


