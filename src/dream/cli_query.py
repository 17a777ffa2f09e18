"""``dream query ...``: research questions asked of a Dream api, and ``dream prune-raw``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

query_app = typer.Typer(
    no_args_is_help=True,
    help="Ask a Dream api research questions (rich table, or --json / --csv).",
)
out = Console()
err = Console(stderr=True)
_credentials: dict[str, str] = {}


# --key works before the question (`dream query --key K top-apps`) and after it, as --url does.
Key = Annotated[
    str | None,
    typer.Option("--key", envvar="DREAM_API_KEY", help="An API key with the query role."),
]


@query_app.callback()
def _key_option(key: Key = None) -> None:
    """Ask a Dream api research questions (rich table, or --json / --csv)."""
    if key:
        _credentials["Authorization"] = f"Bearer {key}"

Url = Annotated[str, typer.Option(help="Dream api base URL.", envvar="DREAM_URL")]
Faculty = Annotated[str | None, typer.Option(help="Only this faculty.")]
Os = Annotated[str | None, typer.Option("--os", help="linux | windows | macos")]
User = Annotated[str | None, typer.Option(help="Only this user.")]
Host = Annotated[str | None, typer.Option(help="Only this host.")]
App = Annotated[str | None, typer.Option(help="Only this application.")]
From = Annotated[str | None, typer.Option("--from", help="ISO 8601, inclusive.")]
To = Annotated[str | None, typer.Option("--to", help="ISO 8601, exclusive.")]
IncludeSystem = Annotated[
    bool, typer.Option("--include-system", help="Count operating-system processes too.")
]
Json = Annotated[bool, typer.Option("--json", help="Print the api's JSON answer.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
Metric = Annotated[str, typer.Option(help="users | hosts | snapshots | processes | cpu | memory")]

_METRIC_COLUMNS = ("users", "hosts", "snapshots", "processes", "avg_cpu_percent", "avg_rss_kb")


def _filters(**values: Any) -> dict[str, Any]:
    params = {("from" if k == "from_" else k): v for k, v in values.items() if v is not None}
    if params.get("include_system") is False:
        del params["include_system"]
    return params


def _get(url: str, path: str, params: dict[str, Any], *, as_csv: bool) -> Any:
    import httpx

    headers = {"Accept": "text/csv" if as_csv else "application/json", **_credentials}
    try:
        response = httpx.get(f"{url.rstrip('/')}{path}", params=params, headers=headers,
                             timeout=120)  # fmt: skip
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] cannot reach {url}: {exc}")
        raise typer.Exit(1) from None
    if response.status_code == 422:
        try:
            problems = response.json()["detail"]
            text = "; ".join(f"{p['loc'][-1]}: {p['msg']}" for p in problems)
        except (ValueError, KeyError, TypeError):
            text = response.text
        err.print(f"[red]invalid:[/red] {text}")
        raise typer.Exit(2)
    if response.status_code != 200:
        err.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    return response.text if as_csv else response.json()


def _emit(
    url: str, path: str, params: dict[str, Any], as_json: bool, as_csv: bool,
    table: Any, key: str | None,
) -> None:  # fmt: skip
    if key:  # given after the question: it wins over one given before
        _credentials["Authorization"] = f"Bearer {key}"
    if as_json and as_csv:
        err.print("[red]error:[/red] choose one of --json and --csv")
        raise typer.Exit(2)
    if as_csv:
        sys.stdout.write(_get(url, path, params, as_csv=True))
        return
    body = _get(url, path, params, as_csv=False)
    if as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return
    out.print(table(body))


def _table(title: str, first: list[str], rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for col in (*first, *_METRIC_COLUMNS):
        table.add_column(col, justify="left" if col in first else "right")
    for row in rows:
        table.add_row(
            *("" if row.get(c) is None else str(row.get(c)) for c in (*first, *_METRIC_COLUMNS))
        )
    return table


def _caption(body: dict[str, Any]) -> str:
    active = {k: v for k, v in body.get("filters", {}).items() if v not in (None, False)}
    return ", ".join(f"{k}={v}" for k, v in active.items()) or "no filters"


@query_app.command("top-apps")
def top_apps(
    faculty: Faculty = None, os: Os = None, user: User = None, host: Host = None,
    app: App = None, from_: From = None, to: To = None, include_system: IncludeSystem = False,
    limit: Annotated[int, typer.Option(help="How many applications.")] = 10,
    metric: Metric = "users",
    url: Url = "http://localhost:8080", as_json: Json = False, as_csv: Csv = False,
    key: Key = None,
) -> None:  # fmt: skip
    """The most used applications (by distinct users unless --metric says otherwise)."""
    params = _filters(faculty=faculty, os=os, user=user, host=host, app=app, from_=from_, to=to,
                      include_system=include_system, limit=limit, metric=metric)  # fmt: skip
    _emit(url, "/v1/analytics/top-apps", params, as_json, as_csv,
          lambda b: _table(f"Top applications by {metric} ({_caption(b)})", ["app"], b["items"]),
          key)  # fmt: skip


@query_app.command()
def usage(
    faculty: Faculty = None, os: Os = None, user: User = None, host: Host = None,
    app: App = None, from_: From = None, to: To = None, include_system: IncludeSystem = False,
    bucket: Annotated[str, typer.Option(help="hour | day | week | month")] = "day",
    group_by: Annotated[
        str | None, typer.Option(help="faculty | os | user | host | app")
    ] = None,
    url: Url = "http://localhost:8080", as_json: Json = False, as_csv: Csv = False,
    key: Key = None,
) -> None:  # fmt: skip
    """A time series per group (e.g. --app matlab --bucket week --group-by faculty)."""
    params = _filters(faculty=faculty, os=os, user=user, host=host, app=app, from_=from_, to=to,
                      include_system=include_system, bucket=bucket, group_by=group_by)  # fmt: skip

    def table(body: dict[str, Any]) -> Table:
        rows = [{"group": s["group"], **p} for s in body["series"] for p in s["points"]]
        first = ["group", "bucket"] if group_by else ["bucket"]
        return _table(f"Usage per {bucket} ({_caption(body)})", first, rows)

    _emit(url, "/v1/analytics/usage", params, as_json, as_csv, table, key)


@query_app.command()
def breakdown(
    by: Annotated[str, typer.Option(help="faculty | os | user | host | app")],
    faculty: Faculty = None, os: Os = None, user: User = None, host: Host = None,
    app: App = None, from_: From = None, to: To = None, include_system: IncludeSystem = False,
    metric: Metric = "users",
    limit: Annotated[int, typer.Option(help="At most this many values.")] = 1000,
    url: Url = "http://localhost:8080", as_json: Json = False, as_csv: Csv = False,
    key: Key = None,
) -> None:  # fmt: skip
    """Counts per faculty, OS, user, host or app."""
    params = _filters(faculty=faculty, os=os, user=user, host=host, app=app, from_=from_, to=to,
                      include_system=include_system, by=by, metric=metric, limit=limit)  # fmt: skip
    _emit(url, "/v1/analytics/breakdown", params, as_json, as_csv,
          lambda b: _table(f"By {by} ({_caption(b)})", [by], b["items"]), key)  # fmt: skip


def prune_raw(
    days: Annotated[
        int | None,
        typer.Option(help="Keep this many days of raw rows (default: DREAM_RAW_RETENTION_DAYS)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be dropped.")] = False,
) -> None:
    """Drop raw process partitions (whole months) older than the retention; rollups stay."""
    import psycopg

    from dream.storage.retention import prune_raw as prune
    from dream.app import Dream
    from dream.settings import Settings

    settings = Settings()
    days = days if days is not None else settings.raw_retention_days
    if days is None or days < 1:
        err.print("[red]error:[/red] give --days N or set DREAM_RAW_RETENTION_DAYS (N ≥ 1)")
        raise typer.Exit(2)
    dream = Dream(settings)
    try:
        dream.migrate()
        with psycopg.connect(dream.database_url, autocommit=True) as conn:
            result = prune(conn, days, dry_run=dry_run)
    finally:
        dream.close()
    verb = "would drop" if dry_run else "dropped"
    err.print(
        f"cutoff {result.cutoff.isoformat()}: {verb} {len(result.dropped)} partition(s)"
        f" {', '.join(result.dropped) or ''}; kept {len(result.kept)}"
    )
