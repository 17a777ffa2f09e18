"""Storage per sampling cadence: the same 4 hours of one host, sampled every minute and every
ten minutes, through the worker's own steps (blob store, parse, write) into a fresh database.

What is kept should grow with activity, not with sampling: the figure is the ratio of the two
footprints (database tables and indexes, WAL excluded, plus the blob store's files).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.e2e import _drop_database, _fresh_database
from dream.blobs.packs import pack_raw_outputs
from dream.blobs.raw import RawOutputs
from dream.blobs.store import FilesystemBlobStore
from dream.demo.listings import ps_aux_series
from dream.settings import Settings
from dream.snapshots import Snapshot
from dream.storage.database import Database
from dream.storage.writer import SnapshotWriter
from dream.worker.processing import process_snapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import services

# Yesterday 08:00 UTC: recent enough for the per-sample rows' retention to keep them.
START = (datetime.now(UTC) - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)


@dataclass
class Footprint:
    cadence_s: int
    snapshots: int
    process_rows: int
    database_bytes: int  # as written (dead row versions included)
    database_vacuumed_bytes: int  # after VACUUM FULL: what the live rows take
    blob_bytes: int
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)  # rows, bytes (vacuumed)

    @property
    def total(self) -> int:
        return self.database_bytes + self.blob_bytes

    @property
    def total_vacuumed(self) -> int:
        return self.database_vacuumed_bytes + self.blob_bytes


def _database_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')"
        ).fetchone()
    return int(row[0]) if row else 0


def _table_sizes(url: str) -> dict[str, tuple[int, int]]:
    """Each table with rows: its live rows and bytes with indexes and TOAST (partitions summed
    under their parent)."""
    with psycopg.connect(url) as conn:
        sizes = conn.execute(
            "SELECT coalesce(p.relname, c.relname), sum(c.reltuples)::bigint,"
            "       sum(pg_total_relation_size(c.oid))::bigint"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
            " LEFT JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' GROUP BY 1"
        ).fetchall()
    return {name: (max(0, rows), size) for name, rows, size in sizes if rows > 0}


def measure(server_url: str, cadence_s: int, *, hours: float = 4, processes: int = 200,
            batch: int = 1, settings: Settings | None = None, pack: bool = True,
            ) -> Footprint:  # fmt: skip
    """Write ``hours`` of one host at ``cadence_s`` into a fresh database; its footprint
    (``pack``: after ``dream pack-raw`` has packed the raw outputs)."""
    settings = settings or Settings()
    count = int(hours * 3600 // cadence_s)
    times = [START + timedelta(seconds=i * cadence_s) for i in range(count)]
    outputs = ps_aux_series(processes, times, seed=7)
    url = _fresh_database(server_url, f"dream_bench_storage_{cadence_s}s")
    try:
        with tempfile.TemporaryDirectory() as blob_dir:
            raw = RawOutputs(settings, store=FilesystemBlobStore(Path(blob_dir)))
            writer = SnapshotWriter(default_cadence_s=settings.default_cadence_s,
                                    raw_rows_retention_days=settings.raw_rows_retention_days)
            rows = 0
            snapshots = [
                Snapshot.model_validate(
                    {"host": "lab-001", "os": "linux", "user": "jdoe", "faculty": "engineering",
                     "collected_at": at, "command": "ps aux", "output": output,
                     "interval_s": cadence_s,
                     "snapshot_id": uuid.uuid4(), "received_at": at + timedelta(seconds=1)}
                )  # fmt: skip
                for at, output in zip(times, outputs, strict=True)
            ]
            with psycopg.connect(url, autocommit=True) as conn:
                for i in range(0, len(snapshots), batch):
                    processed = raw.process_all(
                        snapshots[i : i + batch], process_snapshot, threading.Event()
                    )
                    assert processed is not None
                    rows += writer.write(conn, processed).process_rows
            if pack:
                db = Database(url, pool_size=1)
                db.open()
                try:
                    pack_raw_outputs(db, raw, older_than=timedelta(0), grace=timedelta(0))
                finally:
                    db.close()
            blob_bytes = sum(f.stat().st_size for f in Path(blob_dir).rglob("*") if f.is_file())
        written = _database_bytes(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM FULL")
            conn.execute("ANALYZE")
        return Footprint(cadence_s, count, rows, written, _database_bytes(url), blob_bytes,
                         _table_sizes(url))  # fmt: skip
    finally:
        _drop_database(server_url, url)


def report(console: Any, args: Any) -> list[Footprint]:
    """Run with ``bench.run``'s arguments and print the table."""
    from rich.table import Table

    server_url = services.up(kafka=False)["postgres"]["url"]
    results = []
    for retention in sorted({args.storage_retention_days, 0}, reverse=True):
        settings = Settings(raw_rows_retention_days=retention)
        fine, coarse = (measure(server_url, c, settings=settings) for c in (60, 600))
        results += [fine, coarse]
        table = Table(
            title=f"Storage: 4 h of one host, 200 processes (raw rows kept {retention} days)"
        )
        for col in ("cadence", "snapshots", "process rows", "database", "db after VACUUM FULL",
                    "blob store", "total", "total (vacuumed)"):  # fmt: skip
            table.add_column(col, justify="right")
        for f in (fine, coarse):
            table.add_row(f"{f.cadence_s // 60} min", str(f.snapshots), f"{f.process_rows:,}",
                          _mb(f.database_bytes), _mb(f.database_vacuumed_bytes),
                          _mb(f.blob_bytes), _mb(f.total), _mb(f.total_vacuumed))  # fmt: skip
        table.add_row("[bold]1 min / 10 min", "", "", "", "", "",
                      f"[bold]{fine.total / coarse.total:.2f}×",
                      f"[bold]{fine.total_vacuumed / coarse.total_vacuumed:.2f}×")  # fmt: skip
        console.print(table)
    for retention in sorted({args.storage_retention_days, 0}, reverse=True):
        results.append(report_host_day(console, server_url, retention))
    return results


def report_host_day(console: Any, server_url: str, retention: int) -> Footprint:
    """One host's day (24 h at a 5-minute cadence, 200 processes): rows and bytes per table."""
    from rich.table import Table

    day = measure(server_url, 300, hours=24, settings=Settings(raw_rows_retention_days=retention))
    table = Table(title=f"One host-day: 24 h at 5-minute cadence, 200 processes (raw rows kept"
                        f" {retention} days; database after VACUUM FULL, blobs packed)")  # fmt: skip
    for col in ("table", "rows", "bytes"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, (rows, size) in sorted(day.tables.items(), key=lambda t: -t[1][1]):
        table.add_row(name, f"{rows:,}", _mb(size))
    table.add_row("blob store (packs)", "", _mb(day.blob_bytes))
    table.add_row("[bold]total", "", f"[bold]{_mb(day.total_vacuumed)}")
    console.print(table)
    return day


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"
