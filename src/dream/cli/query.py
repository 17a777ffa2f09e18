"""``dream query NAME``: each question of the registry asked of a Dream api (through
``dream.client.Client``) as a rich table, or ``--json`` / ``--csv``. Runs on a collector-only
install: it needs the client, not the server."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, get_args

import typer
from pydantic.fields import FieldInfo
from dream.cli.output import err, out
from dream.cli.remote import api_at
from rich.table import Table

from dream.analytics.filters import METRIC_FIELDS
from dream.analytics.questions import QUESTIONS, Question
from dream.analytics.questions.hosts import FLEET_FIELDS
from dream.endpoint import DEFAULT_URL, key_option, url_option

query_app = typer.Typer(
    no_args_is_help=True,
    help="Ask a Dream api research questions (rich table, or --json / --csv).",
)
_credentials: dict[str, str] = {}


# --key works before the question (`dream query --key K top-apps`) and after it, as --url does.
Key = Annotated[str | None, key_option("query role")]


@query_app.callback()
def _key_option(key: Key = None) -> None:
    """Ask a Dream api research questions (rich table, or --json / --csv)."""
    if key:
        _credentials["key"] = key


def _option(annotation: Any, default: Any, *decls: str, **kwargs: Any) -> inspect.Parameter:
    name = decls[0] if decls and not decls[0].startswith("-") else None
    flags = decls[1:] if name else decls
    return inspect.Parameter(
        name or flags[0].lstrip("-").replace("-", "_"), inspect.Parameter.KEYWORD_ONLY,
        default=default, annotation=Annotated[annotation, typer.Option(*flags, **kwargs)],
    )  # fmt: skip


# The filters every question takes, then the question's own options, then these.
FILTER_OPTIONS = (
    _option(list[str] | None, None, "--faculty", help="Only this faculty (repeat: any of them)."),
    _option(list[str] | None, None, "--os", help="linux | windows | macos (repeat: any of them)."),
    _option(str | None, None, "--user", help="Only this user."),
    _option(str | None, None, "--host", help="Only this host."),
    _option(str | None, None, "--app", help="Only this application."),
    _option(str | None, None, "from_", "--from", help="ISO 8601, inclusive."),
    _option(str | None, None, "--to", help="ISO 8601, exclusive."),
    _option(bool, False, "--include-system", help="Count operating-system processes too."),
    _option(str | None, None, "--product", help="Only this product (id or name)."),
    _option(str | None, None, "--category", help="Only this category's products."),
    _option(str | None, None, "--term", help="An academic term (2026-autumn): its days."),
)
COMMON_OPTIONS = (
    inspect.Parameter("url", inspect.Parameter.KEYWORD_ONLY, default=DEFAULT_URL,
                      annotation=Annotated[str, url_option()]),
    _option(bool, False, "as_json", "--json", help="Print the api's JSON answer."),
    _option(bool, False, "as_csv", "--csv", help="Print CSV."),
    inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Key),
)  # fmt: skip


def _own_option(name: str, field: FieldInfo) -> inspect.Parameter:
    """A question's parameter as an option: text, a number or a flag; the api validates it
    (one place), and its choices are listed in the help."""
    kind = int if field.annotation is int else bool if field.annotation is bool else str
    choices = [c for c in get_args(field.annotation) if isinstance(c, str)]
    if not choices:  # Literal[...] | None
        choices = [c for a in get_args(field.annotation) for c in get_args(a) if isinstance(c, str)]
    help = (field.description or "") + (f" ({' | '.join(choices)})" if choices else "")
    required = field.is_required()
    return _option(kind if required or field.default is not None else kind | None,
                   ... if required else field.default, "--" + name.replace("_", "-"),
                   help=help)  # fmt: skip


def _caption(body: dict[str, Any]) -> str:
    active = {k: v for k, v in body.get("filters", {}).items() if v not in (None, False)}
    return ", ".join(f"{k}={' or '.join(v) if isinstance(v, list) else v}"
                     for k, v in active.items()) or "no filters"  # fmt: skip


def _table(title: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Table:
    """The rows as a table: the keys (left), then the metrics (right); key columns that are
    empty in every row (usage's ``group`` without ``--group-by``) are left out."""
    shown = [c for c in columns if c in METRIC_FIELDS or any(r.get(c) is not None for r in rows)]
    table = Table(title=title)
    # Keys stay whole when together they fit in half a terminal (the metrics wrap instead).
    width = {c: max([len(c)] + [len(str(r.get(c) or "")) for r in rows]) for c in shown}
    keys_fit = sum(w for c, w in width.items() if c not in METRIC_FIELDS) <= 40
    for col in shown:
        if col in METRIC_FIELDS:
            table.add_column(col, justify="right")
        else:
            table.add_column(col, min_width=width[col] if keys_fit else None)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in shown))
    return table


def _ask(question: Question[Any], values: dict[str, Any]) -> None:
    """Ask the api; print its JSON, its CSV or a table; exit 2 on an invalid value, else 1."""
    url, as_json, as_csv = values.pop("url"), values.pop("as_json"), values.pop("as_csv")
    key = values.pop("key") or _credentials.get("key")  # after the question wins over before
    if as_json and as_csv:
        err.print("[red]error:[/red] choose one of --json and --csv")
        raise typer.Exit(2)
    own = {name: values.pop(name) for name in question.fields}
    filters = {k: v for k, v in values.items() if v not in (None, [])}  # [] : no --faculty
    with api_at(url, key) as client:
        params = client.params_for(question.name, filters, **own)
        if as_csv:
            sys.stdout.write(client.fetch(question.path, params, accept="text/csv").text)
            return
        body = client.get(question.path, params)
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    p = question.params.model_validate({k: v for k, v in own.items() if v is not None})
    title = f"{question.table_title(p)} ({_caption(body)})"
    out.print(_table(title, question.columns(p), question.rows(body)))
    if body.get("suppressed"):  # the k-anonymity floor of a `query` key (docs/security.md)
        err.print(f"{body['suppressed']} row(s) withheld: each counted fewer than"
                  f" {body.get('min_group_users')} distinct users")  # fmt: skip


def _command(question: Question[Any]) -> Callable[..., None]:
    def command(**values: Any) -> None:
        _ask(question, values)

    own = [_own_option(name, field) for name, field in question.fields.items()]
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*FILTER_OPTIONS, *own, *COMMON_OPTIONS], return_annotation=None
    )
    command.__doc__ = question.description or question.summary
    return command


for _question in QUESTIONS:
    query_app.command(_question.name, help=_question.summary)(_command(_question))

# `dream hosts`: fleet health at the top level, where operators look (`dream hosts --status
# silent`); its table shows the health, not the counts (`dream query hosts` shows both).
hosts_command = _command(replace(next(q for q in QUESTIONS if q.name == "hosts"),
                                 columns=lambda p: ("host", *FLEET_FIELDS)))  # fmt: skip
