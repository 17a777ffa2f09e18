"""``dream catalog``: check an operator's catalog file, and ask which product a process is.

Both run on a collector-only install: the catalog is data in the package plus the standard
library, so a department can validate its ``DREAM_CATALOG_FILE`` wherever it writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dream.catalog import Catalog, CatalogError
from dream.cli.output import err, fail, out

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
