"""``dream demo``: the command line of the demo (options, summary, exit status)."""

from __future__ import annotations

from typing import Annotated

import typer

from dream.demo.campus import DEFAULT_FACULTIES
from dream.demo.post import run_demo
from dream.endpoint import DEFAULT_URL, key_option, url_error, url_option


def demo_command(
    url: Annotated[str, url_option()] = DEFAULT_URL,
    key: Annotated[str | None, key_option("ingest role (and query, to wait for storage)")] = None,
    hosts: Annotated[int, typer.Option(min=1, max=100_000, help="Machines on the campus.")] = 200,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history, up to now.")] = 14,
    faculties: Annotated[
        str, typer.Option(help="Comma-separated faculties.")
    ] = ",".join(DEFAULT_FACULTIES),
    seed: Annotated[int, typer.Option(help="Same seed (within the hour), same data.")] = 0,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Posts in flight.")] = 8,
    wait: Annotated[
        bool, typer.Option(help="Wait until the worker has stored every snapshot.")
    ] = True,
) -> None:
    """Generate realistic demo snapshots and ingest them through the api."""
    names = tuple(f.strip().lower() for f in faculties.split(",") if f.strip())
    if not names:
        print("error: --faculties names none", flush=True)
        raise typer.Exit(2)
    if problem := url_error(url):
        print(f"error: {problem}", flush=True)
        raise typer.Exit(2)
    report = run_demo(url, key, hosts, days, names, seed, concurrency, wait)
    summary = (f"{report.posted}/{report.snapshots} posted, {report.stored} stored,"
               f" {report.failed} failed to parse, {report.unconfirmed} unconfirmed"
               f" in {report.seconds:.1f}s")  # fmt: skip
    print(summary)
    for problem in report.errors:
        print(f"  {problem}")
    if report.posted < report.snapshots or report.failed or report.unconfirmed:
        raise typer.Exit(1)
    print(f"open {url.rstrip('/')}/ for the dashboard")
