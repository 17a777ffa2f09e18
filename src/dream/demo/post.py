"""Posting the demo's snapshots through the api (retrying what may pass), then waiting until
the worker has stored them, so the dashboard is complete when the command returns."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from dream.demo.campus import DEFAULT_FACULTIES
from dream.demo.history import generate


@dataclass
class DemoReport:
    snapshots: int = 0
    posted: int = 0
    stored: int = 0
    failed: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


async def _post_all(
    url: str, key: str | None, bodies: list[dict[str, Any]], concurrency: int, wait: bool,
    progress: Any, timeout_s: float,
) -> DemoReport:  # fmt: skip
    import httpx

    report = DemoReport(snapshots=len(bodies))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, limits=limits,
                                 timeout=timeout_s) as client:  # fmt: skip
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        posting = progress.add_task("posting snapshots", total=len(bodies))

        async def post_worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                problem, ok = "", False
                for attempt in range(6):
                    try:
                        response = await client.post("/v1/snapshots", json=body)
                    except httpx.HTTPError as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    else:
                        if response.status_code == 202:
                            ok = True
                            break
                        problem = f"HTTP {response.status_code}: {response.text[:200]}"
                        if response.status_code not in (429, 500, 502, 503, 504):
                            break
                    await asyncio.sleep(0.2 * 2**attempt)
                if ok:
                    report.posted += 1
                elif len(report.errors) < 10:
                    report.errors.append(problem)
                progress.advance(posting)

        await asyncio.gather(*(post_worker() for _ in range(concurrency)))
        if not wait or report.posted == 0:
            return report

        # Wait until the worker has stored (or failed) every one, so the dashboard is complete.
        storing = progress.add_task("waiting for the worker", total=len(bodies))
        pending = [b["snapshot_id"] for b in bodies]
        deadline = time.monotonic() + max(120.0, len(bodies) / 20)
        while pending and time.monotonic() < deadline:
            still: list[str] = []
            sem = asyncio.Semaphore(concurrency)

            async def check(sid: str, still: list[str] = still, sem: asyncio.Semaphore = sem) -> None:
                async with sem:
                    try:
                        response = await client.get(f"/v1/snapshots/{sid}")
                    except httpx.HTTPError:
                        still.append(sid)
                        return
                if response.status_code in (401, 403):
                    raise PermissionError(response.text)
                state = response.json().get("status") if response.status_code == 200 else None
                if state == "stored":
                    report.stored += 1
                elif state == "failed":
                    report.failed += 1
                else:
                    still.append(sid)
                    return
                progress.advance(storing)

            # The worker goes in order: check the newest first, the rest only once it is done.
            try:
                await check(pending[-1])
                if not still:
                    await asyncio.gather(*(check(s) for s in pending[:-1]))
                else:
                    still = pending[:-1] + still
            except PermissionError as exc:
                # An ingest-only key: everything was accepted, just not waited for.
                report.errors.append(f"not waiting for storage: this key cannot read snapshot"
                                     f" states (needs the query role): {str(exc)[:120]}")  # fmt: skip
                return report
            pending = still
            if pending:
                await asyncio.sleep(0.5)
        report.unconfirmed = len(pending)
    return report


def run_demo(
    url: str = "http://localhost:8080", key: str | None = None, hosts: int = 200,
    days: int = 14, faculties: tuple[str, ...] = DEFAULT_FACULTIES, seed: int = 0,
    concurrency: int = 8, wait: bool = True, quiet: bool = False, timeout_s: float = 60.0,
) -> DemoReport:  # fmt: skip
    """Generate the demo campus and post it through the api; returns what happened."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)  # fmt: skip

    started = time.monotonic()
    console = Console(stderr=True, quiet=quiet)
    with console.status("generating listings…"):
        bodies = list(generate(hosts, days, faculties, seed))
    console.print(f"{len(bodies)} snapshots from {hosts} hosts over {days} day(s):"
                  f" {', '.join(faculties)}")  # fmt: skip
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:  # fmt: skip
        report = asyncio.run(_post_all(url, key, bodies, concurrency, wait, progress, timeout_s))
    report.seconds = time.monotonic() - started
    return report
