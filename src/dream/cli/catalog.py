"""``dream catalog``: check an operator's catalog file, ask which product a process is, and
list the most-used executables the catalog does not know (to add them).

All run on a collector-only install: the catalog is data in the package plus the standard
library, so a department can validate its ``DREAM_CATALOG_FILE`` wherever it writes it, and
``unknown`` asks the api (``dream.client``), which names products with the catalog it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from dream.catalog import Catalog, CatalogError
from dream.cli.output import err, fail, out
from dream.cli.remote import api_at
from dream.endpoint import DEFAULT_URL, key_option, url_option

if TYPE_CHECKING:
    from dream.client import Client

catalog_app = typer.Typer(no_args_is_help=True,
                          help="The product catalog: check a catalog file, match a process.")  # fmt: skip


@catalog_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A catalog file (TOML).")],
) -> None:
    """Validate FILE as it would load (merged over the built-in catalog): fields, categories,
    regexes, names two products claim, and every product's examples. Exit 1 on any problem."""
    try:
        catalog = Catalog.load(file)
    except CatalogError as exc:
        _report(exc.problems)
    problems = catalog.check()
    if problems:
        _report(problems)
    replaced = sorted(set(catalog.local) & set(Catalog.load().products))
    if replaced:
        out.print(f"replaces the built-in product(s): {', '.join(replaced)}", highlight=False,
                  soft_wrap=True, markup=False)  # fmt: skip
    out.print(f"{escape(str(file))}: {len(catalog.local)} products, {len(catalog.products)} with the"
              f" built-in ones, every example matches its own product; catalog version"
              f" {catalog.version}", highlight=False, soft_wrap=True)  # fmt: skip


def _report(problems: list[str]) -> None:
    for problem in problems:
        err.print(problem, markup=False, highlight=False, soft_wrap=True)
    raise fail(f"{len(problems)} problem(s) in the catalog", code=1)


@catalog_app.command("match")
def match(
    command: Annotated[str, typer.Argument(help="A command line or image name, as listed.")],
    os: Annotated[str | None, typer.Option(help="windows | macos | linux.")] = None,
    name: Annotated[str | None, typer.Option(help="The process's name, if listed apart.")] = None,
    file: Annotated[Path | None, typer.Option("--catalog", envvar="DREAM_CATALOG_FILE",
                                              help="A local catalog merged in.")] = None,  # fmt: skip
) -> None:
    """Print the product COMMAND belongs to as JSON (``null``: the catalog does not know it)."""
    try:
        catalog = Catalog.load(file)
    except CatalogError as exc:
        _report(exc.problems)
    found = catalog.match(name, command, os)
    print(json.dumps(None if found is None else {
        "product": found.product, "name": found.name, "vendor": found.vendor,
        "category": found.category, "version": found.version, "catalog": catalog.version}))  # fmt: skip


def unknown_apps(client: Client, limit: int, window: dict[str, str]) -> list[dict[str, Any]]:
    """The ``limit`` apps most used (distinct users) that are no product of the api's catalog:
    executables under their own name, with their users, hosts and hours of use."""
    body = client.get("/v1/analytics/breakdown",
                      {**window, "by": "app", "metric": "users", "limit": 100_000})  # fmt: skip
    rows = [{"app": i["app"], "users": i["users"], "hosts": i["hosts"], "hours": i["hours"]}
            for i in body["items"] if i.get("product") is None]  # fmt: skip
    return rows[:limit]


@catalog_app.command("unknown")
def unknown(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    since: Annotated[str | None, typer.Option("--from", help="ISO 8601, inclusive.")] = None,
    until: Annotated[str | None, typer.Option("--to", help="ISO 8601, exclusive.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, not a table.")] = False,
    url: Annotated[str, url_option()] = DEFAULT_URL,
    key: Annotated[str | None, key_option("query role")] = None,
) -> None:
    """The most-used executables with no product in the catalog the api runs (by distinct
    users), with their users, hosts and hours: the ones to add to DREAM_CATALOG_FILE."""
    from rich.table import Table

    window = {k: v for k, v in (("from", since), ("to", until)) if v is not None}
    with api_at(url, key) as client:
        rows = unknown_apps(client, limit, window)
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table("app", "users", "hosts", "hours", title="Executables with no product")
    for row in rows:
        table.add_row(row["app"], str(row["users"]), str(row["hosts"]), f"{row['hours']:.1f}")
    out.print(table)
