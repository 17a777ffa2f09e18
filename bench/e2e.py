"""End-to-end throughput: HTTP → api → Kafka → worker → PostgreSQL, against a plain COPY.

Both figures come from the same run on the same machine, into the same table, so their ratio
says how much of PostgreSQL's own ingest rate the pipeline delivers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from dream.demo.listings import ps_aux_output, ps_aux_series
from dream.parsing import parse
from dream.snapshots import Snapshot
from dream.storage.migrate import migrate
from dream.storage.partitions import PartitionManager
from dream.storage.queries import copy_text
from dream.storage.writer import COPY_PROCESSES, process_row

ROOT = Path(__file__).resolve().parent.parent
BENCH_KEY = "dream_be0c4be0c4be_" + "K" * 43
sys.path.insert(0, str(ROOT / "scripts"))
import services  # noqa: E402


@dataclass
class E2EResult:
    snapshots: int
    rows: int
    accept_s: float
    total_s: float
    copy_rows_per_s: float
    copy_write_row_rows_per_s: float
    # CPU seconds of the PostgreSQL backend that ran the plain COPY of the pre-rendered text:
    # what the database alone spends to take every sample row (against cpu_s["postgres"]).
    copy_postgres_cpu_s: float
    # CPU seconds each part spent over the whole run (the machine's load does not change them
    # much, unlike the rates): "api", "worker", "postgres" (the backends of the bench's database)
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.total_s


def _fresh_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server_url, dbname=name)
    migrate(url)
    return url


def _drop_database(server_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PROFILES = ("hosts", "churn", "paced")
SERIES_HOSTS = 50  # "hosts": each posts snapshots / 50 successive listings of its own
PACED_HOSTS = 200  # "paced": more hosts, so a batch holds about one listing of each
PACED_RATE = 100.0  # "paced": snapshots a second (30,000 hosts at a 5-minute cadence)
SERIES_INTERVAL = timedelta(seconds=60)


def _bodies(n: int, processes: int, profile: str = "hosts") -> list[bytes]:
    """``n`` snapshot bodies of ``processes`` rows each.

    "hosts" (what a campus sends): each of ``SERIES_HOSTS`` hosts posts successive listings of
    its own machine, 60 s apart, declaring ``interval_s``: stable PIDs, growing TIME, so most
    observations extend an open session. Posted in collection order, host after host.
    "churn" (the sessions' worst case): every snapshot a new user and one of 16 recycled
    outputs, so nearly every observation opens a session.
    "paced" (production's batch shape): as "hosts" with ``PACED_HOSTS`` hosts, posted at
    ``PACED_RATE`` a second (``run``), so each batch holds about one listing per host and every
    running session gets a new version per listing, as at a 5-minute cadence.
    """
    start = datetime.now(UTC) - timedelta(hours=2)
    faculties = ("law", "medicine", "engineering", "arts")
    if profile == "churn":
        outputs = [ps_aux_output(processes, seed=i) for i in range(16)]
        return [
            json.dumps(
                {
                    "host": f"lab-{i % 200:03d}", "os": "linux", "user": f"user{i % 500}",
                    "faculty": faculties[i % 4],
                    "collected_at": (start + timedelta(seconds=i)).isoformat(),
                    "command": "ps aux", "output": outputs[i % len(outputs)],
                    "snapshot_id": str(uuid.uuid4()),
                }  # fmt: skip
            ).encode()
            for i in range(n)
        ]
    hosts = min(PACED_HOSTS if profile == "paced" else SERIES_HOSTS, n)
    steps = -(-n // hosts)
    times = [start + k * SERIES_INTERVAL for k in range(steps)]
    series = [ps_aux_series(processes, times, seed=h, user=f"user{h}") for h in range(hosts)]
    return [
        json.dumps(
            {
                "host": f"lab-{h:03d}", "os": "linux", "user": f"user{h}",
                "faculty": faculties[h % 4], "collected_at": times[k].isoformat(),
                "interval_s": SERIES_INTERVAL.total_seconds(), "command": "ps aux",
                "output": series[h][k], "snapshot_id": str(uuid.uuid4()),
            }  # fmt: skip
        ).encode()
        for k in range(steps)
        for h in range(hosts)
    ][:n]


async def _post_all(base: str, bodies: list[bytes], concurrency: int,
                    rate: float | None = None) -> None:  # fmt: skip
    """POST every body with ``concurrency`` connections; at most ``rate`` a second if given
    (body i not before i / rate seconds from the start).

    aiohttp rather than httpx here: the load generator shares the machine with what it
    measures, and httpx spent about 4.6 ms of CPU per 45 KB POST against aiohttp's 0.3 ms.
    """
    import aiohttp

    todo = list(reversed(bodies))
    headers = {"content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    start = time.monotonic()
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def sender() -> None:
            while todo:
                due = start + (len(bodies) - len(todo)) / rate if rate is not None else None
                body = todo.pop()
                if due is not None:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                async with session.post("/v1/snapshots", data=body, headers=headers) as r:
                    if r.status != 202:
                        raise RuntimeError(f"{r.status}: {await r.text()}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def wait_until_ready(base: str, timeout_s: float = 60.0) -> None:
    """Poll the api's /readyz until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("api did not become ready")
        time.sleep(0.2)


def _stored(conn: psycopg.Connection) -> tuple[int, int]:
    """Snapshots final and their rows, polled on one connection: a new one each time would
    start a server process per poll (~3 ms), on the cores the pipeline is measured on."""
    n, rows = conn.execute(
        "SELECT count(*), coalesce(sum(process_count), 0) FROM snapshots"
        " WHERE status <> 'pending'"
    ).fetchone()
    return int(n), int(rows)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends(poll: psycopg.Connection) -> list[int]:
    """The server processes connected to the bench's database (the worker's, the api's) but
    ``poll``'s own."""
    rows = poll.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    ).fetchall()
    return [int(r[0]) for r in rows]


def _cpu_by_part(procs: list[subprocess.Popen], poll: psycopg.Connection,
                 broker_pid: int | None) -> dict[str, dict[int, float]]:  # fmt: skip
    """CPU seconds so far per process of each part: the api, the worker, their backends, the
    broker (when this machine runs it) and the load generator (this process, its posts and
    its polls for what is stored, and the server process answering those)."""
    parts = {"api": [procs[0].pid], "worker": [p.pid for p in procs[1:]],
             "postgres": _backends(poll), "broker": [broker_pid] if broker_pid else []}  # fmt: skip
    cpu = {part: {pid: _cpu_seconds(pid) for pid in pids} for part, pids in parts.items()}
    cpu["load"] = {os.getpid(): sum(os.times()[:2]),
                   poll.info.backend_pid: _cpu_seconds(poll.info.backend_pid)}  # fmt: skip
    return cpu


def _check_alive(procs: list[subprocess.Popen]) -> None:
    """Fail instead of waiting forever for snapshots a dead api or worker will never store."""
    for p in procs:
        if p.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, p.args))} exited with {p.returncode}")


COPY_RUNS = 3


def _copy_baseline(url: str, bodies: list[bytes]) -> tuple[float, float, float]:
    """Rows/s of a plain COPY of the same rows: pre-rendered text (the median of COPY_RUNS),
    and row by row (psycopg); and the CPU seconds the database's backend spent on the first."""
    rows: list[tuple] = []
    for body in bodies:
        data = json.loads(body)
        snap = Snapshot(**data, received_at=datetime.now(UTC))
        for proc in parse(snap.output, os=snap.os).processes:
            rows.append(process_row(snap, proc))
    with psycopg.connect(url, autocommit=True) as conn:
        PartitionManager().ensure(conn, [datetime.now(UTC) - timedelta(hours=2)])
        # 1. Pre-rendered COPY text: PostgreSQL's own ingest rate, no client work timed. The
        # median of COPY_RUNS: one COPY's rate varied 1.8x between runs minutes apart.
        text = _render_copy_text(rows)
        backend = conn.info.backend_pid
        rates, cpus = [], []
        for _ in range(COPY_RUNS):
            cpu0, t0 = _cpu_seconds(backend), time.perf_counter()
            with conn.transaction(), conn.cursor().copy(COPY_PROCESSES) as copy:
                copy.write(text)
            rates.append(len(rows) / (time.perf_counter() - t0))
            cpus.append(_cpu_seconds(backend) - cpu0)
            conn.execute("TRUNCATE processes")
        raw_rate, copy_cpu = statistics.median(rates), statistics.median(cpus)
        # 2. Row by row through psycopg, as the worker does.
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(COPY_PROCESSES) as copy:
            for row in rows:
                copy.write_row(row)
        write_row_rate = len(rows) / (time.perf_counter() - t0)
        conn.execute("TRUNCATE processes")
    return raw_rate, write_row_rate, copy_cpu


def _profiler(variable: str) -> list[str]:
    """The interpreter's arguments that run a part under cProfile when ``variable`` names a file."""
    to = os.environ.get(variable)
    return ["-m", "cProfile", "-o", to] if to else []


def _render_copy_text(rows: list[tuple]) -> bytes:
    return "".join("\t".join(copy_text(v) for v in row) + "\n" for row in rows).encode()


def run(
    snapshots: int,
    processes: int,
    concurrency: int,
    telemetry: str = "on",
    copy_baseline: bool = True,
    profile: str = "hosts",
    raw_rows_retention_days: int | None = None,
    workers: int = 1,
) -> E2EResult:
    """One run of ``profile`` (see ``_bodies``); ``raw_rows_retention_days`` the worker's
    DREAM_RAW_ROWS_RETENTION_DAYS (None: the deployment's default; 0: no per-sample rows);
    ``workers`` worker processes in one consumer group (the topic has DREAM_KAFKA_PARTITIONS);
    0 measures the front alone (load generator, api, broker): ``rows`` are the rows accepted,
    ``total_s`` the time to accept them, the ceiling any worker's end-to-end rate is under."""
    state = services.up()
    server_url = state["postgres"]["url"]
    bootstrap = state["kafka"]["bootstrap"]
    url = _fresh_database(server_url, "dream_bench")
    copy_url = _fresh_database(server_url, "dream_bench_copy")
    suffix = uuid.uuid4().hex[:8]
    port = services.free_port()
    # A data directory (blob store, local key) of the run's own: the blob store is content
    # addressed, and the same listings posted again (a run within the same minute as the last
    # draws the same ones) found their objects written and skipped the write, which made the api
    # look twice as cheap in most runs (docs/capacity.md, "The worker's budget").
    data_dir = Path(tempfile.mkdtemp(prefix="dream-bench-"))
    env = {
        **os.environ,
        "DREAM_DATA_DIR": str(data_dir),
        "DREAM_DATABASE_URL": url,
        "DREAM_KAFKA_BOOTSTRAP": bootstrap,
        "DREAM_KAFKA_TOPIC": f"bench-{suffix}",
        "DREAM_KAFKA_DLQ_TOPIC": f"bench-{suffix}.dlq",
        "DREAM_KAFKA_GROUP": f"bench-{suffix}",
        "DREAM_LOG_LEVEL": "warning",
        "DREAM_AUTH": "on",  # as in production: every request carries an ingest-capable key
        "DREAM_BOOTSTRAP_ADMIN_KEY": BENCH_KEY,
        "DREAM_TELEMETRY": telemetry,
        "DREAM_PORT": str(port),
    }
    if raw_rows_retention_days is not None:
        env["DREAM_RAW_ROWS_RETENTION_DAYS"] = str(raw_rows_retention_days)
    bodies = _bodies(snapshots, processes, profile)
    # DREAM_BENCH_WORKER_PROFILE=path: the worker runs under cProfile, its stats written there
    # when it stops (the figures are then the profiler's, not the pipeline's). cProfile sees
    # the main thread only: the writer's and the blob fetches' threads need a sampling
    # profiler attached to the worker (py-spy record --pid; docs/capacity.md).
    # DREAM_BENCH_API_PROFILE likewise for the api.
    procs = [
        subprocess.Popen([sys.executable, *_profiler("DREAM_BENCH_API_PROFILE"), "-m", "dream",
                          "api"], env=env),
        *(subprocess.Popen([sys.executable, *_profiler("DREAM_BENCH_WORKER_PROFILE"), "-m",
                            "dream", "worker"], env={**env, "DREAM_METRICS_PORT": "0"})
          for _ in range(workers)),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    poll = psycopg.connect(url, autocommit=True)
    try:
        wait_until_ready(base)
        # Warm-up: one snapshot through the whole path (topic metadata, worker assignment).
        asyncio.run(_post_all(base, _bodies(1, processes, "churn"), 1))
        while workers and _stored(poll)[0] < 1:
            _check_alive(procs)
            time.sleep(0.1)
        if workers > 1:  # the later workers' joins rebalance the group: before, not during
            time.sleep(10)
        done_before, rows_before = _stored(poll)

        broker_pid = state["kafka"].get("pid")
        cpu_before = _cpu_by_part(procs, poll, broker_pid)
        t0 = time.perf_counter()
        asyncio.run(_post_all(base, bodies, concurrency,
                              PACED_RATE if profile == "paced" else None))
        accept_s = time.perf_counter() - t0
        if not workers:  # the front alone: what it accepted
            n, rows = done_before + snapshots, rows_before + snapshots * processes
        while workers:
            n, rows = _stored(poll)
            if n - done_before >= snapshots:
                break
            _check_alive(procs)
            time.sleep(0.05)
        total_s = time.perf_counter() - t0
        cpu_after = _cpu_by_part(procs, poll, broker_pid)
        cpu = {part: round(sum(after.values()) - sum(cpu_before[part].get(pid, 0.0)
                                                     for pid in after), 2)
               for part, after in cpu_after.items()}  # fmt: skip
    finally:
        poll.close()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    copy_rate, write_row_rate, copy_cpu = (
        _copy_baseline(copy_url, bodies) if copy_baseline else (float("nan"),) * 3
    )
    _drop_database(server_url, url)
    _drop_database(server_url, copy_url)
    shutil.rmtree(data_dir, ignore_errors=True)
    return E2EResult(snapshots, rows - rows_before, accept_s, total_s, copy_rate, write_row_rate,
                     copy_cpu, cpu)  # fmt: skip
