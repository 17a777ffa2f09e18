"""Soak: a constant load for a bounded time, then sent vs stored, and the RSS of api and worker.

A real `dream api` and `dream worker` (as in e2e.py) take ``rate`` snapshots a second for
``seconds``. The load generator behaves like a well-mannered collector: each snapshot carries
its own ``snapshot_id`` and a 503 is retried with the same id after ``Retry-After``. At the end
every snapshot answered 202 must be in the database exactly once, and the resident memory of
both processes, sampled every second, should be flat after the warm-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from datetime import UTC, datetime, timedelta

import psutil
import psycopg

from dream.demo.listings import ps_aux_output
from bench.e2e import BENCH_KEY, _drop_database, _fresh_database, services, wait_until_ready


@dataclass
class Memory:
    """RSS samples of one process: (seconds since start, bytes)."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def _mb(self, part: list[tuple[float, int]]) -> float:
        return statistics.median(s for _, s in part) / 2**20

    def summary(self, warmup_s: float) -> dict[str, float | bool]:
        steady = [s for s in self.samples if s[0] >= warmup_s] or self.samples
        fifth = max(1, len(steady) // 5)
        first, last = self._mb(steady[:fifth]), self._mb(steady[-fifth:])
        growth = last - first
        ts = [t for t, _ in steady]
        mbs = [s / 2**20 for _, s in steady]
        slope = statistics.linear_regression(ts, mbs).slope * 60 if len(steady) > 2 else 0.0
        return {
            "start_mb": first,
            "end_mb": last,
            "max_mb": max(mbs),
            "growth_mb": growth,
            "slope_mb_per_min": slope,
            # Allocator noise and caches settle within a few MB; a leak grows with time.
            "flat": growth < max(16.0, 0.10 * first),
        }


@dataclass
class SoakResult:
    seconds: float
    rate: float
    processes: int
    sent: int  # distinct snapshots the api answered 202
    retried: int  # 503s retried with the same snapshot_id
    failed: int  # gave up on (neither 202 nor retryable in time)
    stored: int
    stored_duplicates: int
    drain_s: float  # after the load stopped, until everything was stored
    achieved_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    api: Memory
    worker: Memory
    exit_codes: list[int]
    warmup_s: float

    @property
    def equal(self) -> bool:
        return self.sent == self.stored and self.stored_duplicates == 0 and self.failed == 0


def _sample(procs: dict[str, psutil.Process], into: dict[str, Memory], stop: threading.Event,
            t0: float) -> None:  # fmt: skip
    while not stop.is_set():
        for name, proc in procs.items():
            with contextlib.suppress(psutil.Error):
                into[name].samples.append((time.monotonic() - t0, proc.memory_info().rss))
        stop.wait(1.0)


async def _load(base: str, seconds: float, rate: float, processes: int, concurrency: int,
                latencies: list[float]) -> tuple[set[str], int, int]:  # fmt: skip
    """Paced POSTs: snapshot i leaves at t0 + i/rate (or as soon as a connection is free)."""
    import aiohttp

    start = datetime.now(UTC) - timedelta(hours=1)
    outputs = [ps_aux_output(processes, seed=i) for i in range(16)]
    accepted: set[str] = set()
    counts = {"retried": 0, "failed": 0}
    headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
    total = int(seconds * rate)
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def send(i: int, t_send: float) -> None:
            delay = t_send - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            snapshot_id = str(uuid.uuid4())
            body = json.dumps(
                {
                    "host": f"lab-{i % 300:03d}",
                    "os": "linux",
                    "user": f"user{i % 700}",
                    "faculty": ("law", "medicine", "engineering", "arts")[i % 4],
                    "collected_at": (start + timedelta(milliseconds=i)).isoformat(),
                    "command": "ps aux",
                    "output": outputs[i % len(outputs)],
                    "snapshot_id": snapshot_id,
                }  # fmt: skip
            ).encode()
            for _attempt in range(20):
                async with gate:
                    t = time.monotonic()
                    try:
                        async with session.post("/v1/snapshots", data=body, headers=headers) as r:
                            status, retry_after = r.status, r.headers.get("Retry-After", "1")
                            await r.read()
                    except aiohttp.ClientError:
                        status, retry_after = 0, "1"
                    latencies.append(time.monotonic() - t)
                if status == 202:
                    accepted.add(snapshot_id)
                    return
                if status not in (0, 503):
                    break
                counts["retried"] += 1
                await asyncio.sleep(float(retry_after))
            counts["failed"] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(send(i, t0 + i / rate) for i in range(total)))
    return accepted, counts["retried"], counts["failed"]


def _stored(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        n = conn.execute("SELECT count(*) FROM snapshots WHERE status <> 'pending'").fetchone()[0]
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT snapshot_id, pid FROM processes"
            " GROUP BY 1, 2 HAVING count(*) > 1) d"
        ).fetchone()[0]
    return int(n), int(dup)


def run(seconds: float = 60, rate: float = 50, processes: int = 100, concurrency: int = 32,
        warmup_s: float = 10.0) -> SoakResult:  # fmt: skip
    state = services.up()
    server_url = state["postgres"]["url"]
    url = _fresh_database(server_url, "dream_soak")
    suffix = uuid.uuid4().hex[:8]
    port = services.free_port()
    env = {
        **os.environ,
        "DREAM_DATABASE_URL": url,
        "DREAM_KAFKA_BOOTSTRAP": state["kafka"]["bootstrap"],
        "DREAM_KAFKA_TOPIC": f"soak-{suffix}",
        "DREAM_KAFKA_DLQ_TOPIC": f"soak-{suffix}.dlq",
        "DREAM_KAFKA_GROUP": f"soak-{suffix}",
        "DREAM_LOG_LEVEL": "warning",
        "DREAM_AUTH": "on",  # as in production: every request carries an ingest-capable key
        "DREAM_BOOTSTRAP_ADMIN_KEY": BENCH_KEY,
        "DREAM_PORT": str(port),
        "DREAM_METRICS_PORT": "0",
    }
    procs = {
        "api": subprocess.Popen([sys.executable, "-m", "dream", "api"], env=env),
        "worker": subprocess.Popen([sys.executable, "-m", "dream", "worker"], env=env),
    }
    base = f"http://127.0.0.1:{port}"
    memory = {name: Memory() for name in procs}
    stop = threading.Event()
    latencies: list[float] = []
    exit_codes: list[int] = []
    try:
        wait_until_ready(base)
        t0 = time.monotonic()
        sampler = threading.Thread(
            target=_sample,
            args=({n: psutil.Process(p.pid) for n, p in procs.items()}, memory, stop, t0),
            daemon=True,
        )
        sampler.start()
        accepted, retried, failed = asyncio.run(
            _load(base, seconds, rate, processes, concurrency, latencies)
        )
        load_s = time.monotonic() - t0
        t_drain = time.monotonic()
        deadline = time.monotonic() + 180
        while _stored(url)[0] < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.2)
        drain_s = time.monotonic() - t_drain
        time.sleep(1.0)  # anything more (a doubled write) would show up now
        stored, duplicates = _stored(url)
    finally:
        stop.set()
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            exit_codes.append(p.wait(timeout=60))
    _drop_database(server_url, url)
    latencies.sort()
    return SoakResult(
        seconds=seconds,
        rate=rate,
        processes=processes,
        sent=len(accepted),
        retried=retried,
        failed=failed,
        stored=stored,
        stored_duplicates=duplicates,
        drain_s=drain_s,
        achieved_rate=len(accepted) / load_s,
        latency_p50_ms=latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        latency_p99_ms=latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        api=memory["api"],
        worker=memory["worker"],
        exit_codes=exit_codes,
        warmup_s=min(warmup_s, seconds / 4),
    )


def report(console: Any, args: Any) -> SoakResult:
    """Run the soak as bench/run.py asked (``--soak-seconds``, ``--soak-rate``) and print it."""
    from rich.table import Table

    seconds = 300.0 if args.soak_long else args.soak_seconds
    r = run(seconds, args.soak_rate, args.soak_processes, args.concurrency)
    table = Table(title=f"Soak: {r.rate:g} snapshots/s × {r.seconds:g} s, api + worker + Kafka")
    for col in ("measure", "value"):
        table.add_column(col)
    table.add_row("snapshots × processes", f"{r.sent} × {r.processes}")
    table.add_row("accepted (202) / stored", f"{r.sent} / {r.stored}")
    table.add_row("[bold]sent = stored, none doubled", f"[bold]{'yes' if r.equal else 'NO'}")
    table.add_row("503s retried / given up", f"{r.retried} / {r.failed}")
    table.add_row("achieved rate", f"{r.achieved_rate:.1f} snapshots/s")
    table.add_row("POST latency p50 / p99", f"{r.latency_p50_ms:.0f} / {r.latency_p99_ms:.0f} ms")
    table.add_row("stored within after the load", f"{r.drain_s:.1f} s")
    for name, memory in (("api", r.api), ("worker", r.worker)):
        m = memory.summary(r.warmup_s)
        table.add_row(
            f"{name} RSS first → last fifth (max)",
            f"{m['start_mb']:.0f} → {m['end_mb']:.0f} MB ({m['max_mb']:.0f})"
            f", {m['slope_mb_per_min']:+.1f} MB/min: {'flat' if m['flat'] else 'GROWING'}",
        )
    table.add_row("exit codes on SIGTERM", ", ".join(map(str, r.exit_codes)))
    console.print(table)
    return r
