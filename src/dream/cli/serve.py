"""``dream serve``, ``api``, ``worker`` and ``migrate``: the server's processes."""

from __future__ import annotations

import signal
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from dream.app import Dream
from dream.cli.output import err
from dream.cli.wiring import dream_for
from dream.errors import ConfigurationError
from dream.runtime import tune_for_service
from dream.observability.server import MetricsServer
from dream.worker.health import readiness


def _serve_http(dream: Dream, *, with_worker: bool) -> None:
    import uvicorn

    from dream.web.app import create_app
    from dream.worker.thread import WorkerThread

    try:  # the files the settings name (catalog, calendar): a bad one stops here, said plainly
        _ = (dream.catalog, dream.calendar)  # loaded once, kept for the api
    except ConfigurationError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    dream.open()
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
    tune_for_service()
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


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Embedded database and local state.")
    ] = None,
) -> None:
    """API and worker in one process (embedded PostgreSQL and direct pipeline by default)."""
    dream = dream_for("dream-serve", tracing=True, host=host, port=port, data_dir=data_dir)
    s = dream.settings
    if "auth" not in s.model_fields_set and s.database_url is None and s.kafka_bootstrap is None:
        # The newcomer's laptop default: loopback, embedded database, no keys to hand out yet.
        s.auth = "off"
        if s.host not in ("127.0.0.1", "localhost", "::1"):
            err.print("[yellow]warning:[/yellow] authentication is off and the api listens on"
                      f" {s.host}; set DREAM_AUTH=on and create keys with `dream keys create`")  # fmt: skip
    _serve_http(dream, with_worker=True)


def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The ingest api alone, producing to Kafka (needs DREAM_KAFKA_BOOTSTRAP)."""
    dream = dream_for("dream-api", tracing=True, host=host, port=port)
    try:
        dream.require_kafka()
    except ConfigurationError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _serve_http(dream, with_worker=False)


def worker() -> None:
    """The worker alone: consume from Kafka, parse, write to PostgreSQL."""
    dream = dream_for("dream-worker", tracing=True)
    try:
        dream.require_kafka()
    except ConfigurationError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    dream.open(analytics=False)
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
        tune_for_service()
        w.run()
    finally:
        w.source.close()
        if metrics is not None:
            metrics.stop()
        dream.close()


def migrate_command() -> None:
    """Apply pending database migrations."""
    with dream_for("dream-migrate", tracing=True).open(write=False, analytics=False) as dream:
        applied = dream.migrate()
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
