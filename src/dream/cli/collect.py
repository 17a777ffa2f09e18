"""``dream collect``: the command that runs the collector (``dream.collector``) once or as a
daemon, and what its exit status says."""

from __future__ import annotations

import json
import math
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated
import typer

from dream.collector import Collector, CollectorError, current_os, parse_interval
from dream.endpoint import DEFAULT_URL, key_option, url_error, url_option
from dream.facts import ExecutableFacts
from dream.sender import Sender
from dream.spool import DEFAULT_GRACE_S, DEFAULT_MAX_BYTES, Spool, default_spool_dir

def api_urls(given: list[str]) -> list[str]:
    """The apis' base URLs from ``--url`` (each may list several, comma-separated, as
    ``DREAM_URL`` does for the agent), each checked as every command checks its ``--url``."""
    urls = list(dict.fromkeys(part.strip() for item in given for part in item.split(",")
                              if part.strip()))  # fmt: skip
    if not urls:
        raise ValueError("--url: no URL given")
    for url in urls:
        if problem := url_error(url):
            raise ValueError(problem)
    return urls


def collect_command(
    faculty: Annotated[str, typer.Option(help="Faculty the machine belongs to.")],
    url: Annotated[list[str] | None, url_option()] = None,  # several: other sites' apis
    key: Annotated[str | None, key_option("ingest role")] = None,
    user: Annotated[
        str | None,
        typer.Option(help="User of the machine (default: whoever is logged on at each snapshot,"
                     " `(nobody)` when no one is; never the collector's own account)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Host name (default: this machine's).")] = None,
    interval: Annotated[
        str,
        typer.Option(help="Time between snapshots: 30s, 5m, 1h (sent with each; with --once,"
                     " give the schedule's period)."),
    ] = "5m",
    once: Annotated[bool, typer.Option("--once", help="One snapshot, then exit (cron).")] = False,
    spool_dir: Annotated[
        Path | None,
        typer.Option(help="Where snapshots wait while the api is unreachable.",
                     envvar="DREAM_SPOOL_DIR"),
    ] = None,  # fmt: skip
    spool_max_bytes: Annotated[int, typer.Option(
        help="Spool size bound: beyond it the oldest unsent snapshots are deleted (counted, and"
             " reported to the api as spool_evicted); 0: unbounded.",
        envvar="DREAM_SPOOL_MAX_BYTES")] = DEFAULT_MAX_BYTES,
    retries: Annotated[int, typer.Option(help="Retries per post before spooling.")] = 3,
    timeout: Annotated[float, typer.Option(
        help="Seconds one post may take in all: connecting, sending, the whole answer.")] = 30.0,
    executables: Annotated[bool, typer.Option(
        help="Send the executables' facts: path, size, sha256, signer of each file the processes"
             " run (docs/agent.md).")] = True,
    grace: Annotated[str, typer.Option(
        help="How long an acknowledged snapshot stays spooled, re-sent when another --url takes"
             " over (a failover: the old site may not have mirrored it); 0: none.")
    ] = f"{DEFAULT_GRACE_S / 60:g}m",
) -> None:
    """Collect this machine's process listing and send it to a Dream api (spooling if down)."""
    try:
        seconds = parse_interval(interval)
        grace_s = 0.0 if grace.strip() == "0" else parse_interval(grace)
        os_name = current_os()
        urls = api_urls(url or [DEFAULT_URL])
        if retries < 0:
            raise ValueError(f"--retries {retries}: 0 or more (0: one try, no retry)")
        if not 0 < timeout < math.inf:
            raise ValueError(f"--timeout {timeout:g}: a number of seconds above 0")
    except (ValueError, CollectorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    stop = threading.Event()  # set by SIGTERM/SIGINT in daemon mode: ends a retry's wait too
    sender = Sender(url=urls[0], fallback_urls=tuple(urls[1:]), key=key, retries=retries,
                    timeout_s=timeout, stop=stop)  # fmt: skip
    spool = Spool(spool_dir or default_spool_dir(), grace_s=grace_s, max_bytes=spool_max_bytes)
    collector = Collector(
        sender=sender,
        spool=spool,
        user=user,
        faculty=faculty,
        host=host or socket.gethostname(),
        os_name=os_name,
        interval_s=min(max(seconds, 1.0), 86400.0),  # the api's accepted range
        facts=ExecutableFacts(spool.directory / "executables.cache") if executables else None,
    )
    try:
        if once:
            report = collector.run_once()  # a listing that failed is in it: the spool still went
            print(json.dumps({"snapshot_id": report.collected, "user": report.user,
                              "sent": report.sent,
                              "rejected": report.rejected, "spooled": report.pending,
                              "evicted": report.evicted, "evicted_total": report.evicted_total,
                              "error": report.error, "lost": report.lost,
                              "exit": report.exit_status()}))  # fmt: skip
            # 0: sent. 3: spooled, not lost (sent by a later run), but the api was not reached.
            # 4: spooled too, but for a reason to fix here (key, URL, DNS, TLS); 5: refused by
            # the api, kept in rejected/; 6: lost. A timer that counts 3 as success fails on
            # the others.
            raise typer.Exit(report.exit_status())
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        collector.run_forever(seconds, stop)
    finally:
        sender.close()
