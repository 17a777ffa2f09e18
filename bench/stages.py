"""The worker's steps, a listing at a time, in one process: where its CPU goes.

The e2e benchmark gives the worker's CPU whole; this splits what it does to each listing of the
e2e "hosts" profile (successive ``ps aux`` listings of a few hosts, a minute apart, their users
pseudonymized as the api hands them over) into the steps of ``worker/processing.py`` and the
writer's fold, each timed alone over the same listings (best of ``REPEAT``, process CPU). The
baseline, measured in the same run, is what the plain ``COPY`` of the e2e benchmark costs its
client: the listing's rows rendered as ``COPY`` text (``storage.writer.process_text``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from dream.catalog import builtin
from dream.demo.listings import ps_aux_series
from dream.parsing import parse
from dream.parsing.users import snapshot_user
from dream.security.pii import Scrubber
from dream.snapshots import Snapshot
from dream.storage.rollups import RollupBatch
from dream.storage.sessions import SessionBatch
from dream.storage.writer import process_text

HOSTS = 10
LISTINGS = 20  # per host, a minute apart
REPEAT = 3


def _listings(processes: int) -> list[Snapshot]:
    start = datetime.now(UTC) - timedelta(hours=2)
    times = [start + k * timedelta(minutes=1) for k in range(LISTINGS)]
    series = [ps_aux_series(processes, times, seed=h, user=f"user{h}") for h in range(HOSTS)]
    return [
        Snapshot(host=f"lab-{h:03d}", os="linux", user=f"user{h}", faculty="law",
                 collected_at=at, received_at=at, interval_s=60, command="ps aux",
                 output=series[h][k], snapshot_id=uuid.uuid4())  # fmt: skip
        for k, at in enumerate(times)
        for h in range(HOSTS)
    ]


def _cpu_per_listing(step: Callable[[], object], listings: int) -> float:
    """Microseconds of process CPU a listing, the best of ``REPEAT`` runs of ``step``."""
    best = float("inf")
    for _ in range(REPEAT):
        t0 = time.process_time()
        step()
        best = min(best, time.process_time() - t0)
    return best / listings * 1e6


def report(console: Console, processes: int = 300) -> None:
    catalog = builtin()
    scrubber = Scrubber("pseudonymize", b"bench-stages-key".ljust(32, b"-"))
    snapshots = [scrubber.for_transport(s) for s in _listings(processes)]
    n = len(snapshots)

    def parsed(with_catalog: bool = True) -> list:
        return [parse(s.output or "", os="linux", command=s.command,
                      catalog=catalog if with_catalog else None).processes
                for s in snapshots]  # fmt: skip

    records = parsed()
    fresh = [parsed() for _ in range(REPEAT)]  # scrubbing rewrites records: one set a run

    def scrub() -> None:
        for s, rows in zip(snapshots, fresh.pop(), strict=True):
            scrubber.scrub(s, rows, [])

    def fold() -> None:
        batch = SessionBatch(300.0)
        for s, rows in zip(snapshots, records, strict=True):
            batch.add(s, rows)

    def counters() -> None:
        batch = RollupBatch()
        for s, rows in zip(snapshots, records, strict=True):
            batch.add(s, rows)

    steps = {
        "parse (the C row loop and its frame)": lambda: parsed(with_catalog=False),
        "name products (catalog, memoised)": lambda: parsed() and None,
        "the snapshot's user": lambda: [snapshot_user(s.user, "linux", rows)
                                        for s, rows in zip(snapshots, records, strict=True)],
        "scrub (pseudonymize, names as words)": scrub,
        "per-sample counters (rollups)": counters,
        "session fold": fold,
    }
    baseline = _cpu_per_listing(lambda: [[process_text(p) for p in rows] for rows in records], n)
    figures = {name: _cpu_per_listing(step, n) for name, step in steps.items()}
    figures["name products (catalog, memoised)"] -= figures["parse (the C row loop and its frame)"]
    table = Table(title=f"The worker's steps, CPU a listing of {processes} processes"
                        f" ({HOSTS} hosts × {LISTINGS} listings, one process)")  # fmt: skip
    for col in ("step", "µs a listing", "÷ rows as COPY text"):
        table.add_column(col)
    for name, us in figures.items():
        table.add_row(name, f"{us:,.0f}", f"{us / baseline:.1f}")
    total = sum(figures.values())
    table.add_row("[bold]all of the above", f"[bold]{total:,.0f}", f"[bold]{total / baseline:.1f}")
    table.add_row("baseline: the rows as COPY text", f"{baseline:,.0f}", "1.0")
    console.print(table)
