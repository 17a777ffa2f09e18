"""`make bench`: prints throughput figures and their ratios to baselines from the same run."""

from __future__ import annotations

import argparse
import statistics
import platform

from rich.console import Console
from rich.table import Table

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--telemetry-runs", type=int, default=2, help="e2e runs per mode.")
    parser.add_argument("--only", choices=["e2e", "stages", "parse", "catalog", "queries", "privacy", "storage", "soak"], default=None)
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--e2e-profile", choices=["hosts", "churn", "paced"], default="hosts",
                        help="e2e: successive listings per host, a new session per row, or"
                             " listings of 200 hosts at 100 a second (production's batches)")
    parser.add_argument("--e2e-raw-rows-retention-days", type=int, default=None,
                        help="e2e: the worker's DREAM_RAW_ROWS_RETENTION_DAYS (0: no raw rows)")
    parser.add_argument("--e2e-workers", type=int, default=1,
                        help="e2e: worker processes (one consumer group); 0: the front alone,"
                             " its rows/s those accepted")
    parser.add_argument("--query-hosts", type=int, default=100, help="queries: hosts")
    parser.add_argument("--query-days", type=int, default=14, help="queries: days of history")
    parser.add_argument("--query-reps", type=int, default=20, help="queries: runs on rollups")
    parser.add_argument("--query-raw-reps", type=int, default=3, help="queries: runs on raw rows")
    parser.add_argument("--query-reuse", action="store_true", help="queries: reuse loaded data")
    parser.add_argument("--query-keep", action="store_true", help="queries: keep the database")
    parser.add_argument(
        "--storage-retention-days", type=int, default=7, help="storage: raw rows kept (and 0)"
    )
    parser.add_argument("--soak-seconds", type=float, default=60, help="soak: duration")
    parser.add_argument("--soak-long", action="store_true", help="soak: 5 minutes")
    parser.add_argument("--soak-rate", type=float, default=50, help="soak: snapshots/s")
    parser.add_argument("--soak-processes", type=int, default=100, help="soak: per snapshot")
    args = parser.parse_args()
    console.print(f"[bold]Dream benchmarks[/bold] on {platform.machine()}, {_cores()} cores")
    if args.only in (None, "parse"):
        from bench import parsing

        parsing.report(console)
    if args.only in (None, "catalog"):
        from bench import catalog

        catalog.report(console)
    if args.only in (None, "e2e"):
        from bench import e2e

        profile = {"profile": args.e2e_profile,
                   "raw_rows_retention_days": args.e2e_raw_rows_retention_days,
                   "workers": args.e2e_workers}
        r = e2e.run(args.snapshots, args.processes, args.concurrency, **profile)
        table = Table(title="End to end: HTTP → api → Kafka → worker → PostgreSQL" if args.e2e_workers
                      else "The front alone: HTTP → api → Kafka, no worker")
        for col in ("measure", "value"):
            table.add_column(col)
        table.add_row("profile", f"{args.e2e_profile}, raw rows kept:"
                      f" {args.e2e_raw_rows_retention_days}, workers: {args.e2e_workers}")
        table.add_row("snapshots × processes", f"{r.snapshots} × {args.processes}")
        table.add_row("process rows stored", f"{r.rows:,}")
        table.add_row("all accepted (202) after", f"{r.accept_s:.2f} s")
        table.add_row("all stored after", f"{r.total_s:.2f} s")
        table.add_row("[bold]end-to-end rows/s", f"[bold]{r.rows_per_s:,.0f}")
        table.add_row(f"plain COPY rows/s (text, median of {e2e.COPY_RUNS})",
                      f"{r.copy_rows_per_s:,.0f}")
        table.add_row("plain COPY rows/s (psycopg write_row)", f"{r.copy_write_row_rows_per_s:,.0f}")
        table.add_row(
            "[bold]end-to-end / plain COPY", f"[bold]{r.rows_per_s / r.copy_rows_per_s:.2f}"
        )
        table.add_row("CPU s: api, worker, PostgreSQL",
                      ", ".join(f"{r.cpu_s.get(k, 0):.1f}" for k in ("api", "worker", "postgres")))
        # What shares the cores with them: the whole run's CPU over the cores is the least
        # time it can take, whatever overlaps.
        table.add_row("CPU s: broker, load generator; all ÷ cores",
                      f"{r.cpu_s.get('broker', 0):.1f}, {r.cpu_s.get('load', 0):.1f};"
                      f" {sum(r.cpu_s.values()) / _cores():.2f} s")
        # What capacity planning needs: 1,000 hosts at a 5-minute cadence post 3.3 a second.
        table.add_row("cores per 1,000 hosts at 5 min: api, worker, PostgreSQL",
                      ", ".join(f"{r.cpu_s.get(k, 0) / r.snapshots * 1000 / 300:.3f}"
                                for k in ("api", "worker", "postgres")))  # fmt: skip
        # The part that does not scale out: what PostgreSQL spent, against its plain COPY's.
        table.add_row("PostgreSQL CPU s: pipeline / plain COPY",
                      f"{r.cpu_s.get('postgres', 0):.2f} / {r.copy_postgres_cpu_s:.2f}"
                      f" = {r.cpu_s.get('postgres', 0) / r.copy_postgres_cpu_s:.2f}")
        console.print(table)
        # Telemetry cost: the same run with request metrics/spans and per-snapshot spans and
        # log lines off, alternated with on, so both see the same machine.
        rates: dict[str, list[float]] = {"on": [r.rows_per_s], "off": []}
        for mode in (["off", "on"] * args.telemetry_runs)[: 2 * args.telemetry_runs - 1]:
            rates[mode].append(
                e2e.run(args.snapshots, args.processes, args.concurrency, telemetry=mode,
                        copy_baseline=False, **profile).rows_per_s  # fmt: skip
            )
        if rates["off"]:  # (none with --telemetry-runs 0)
            on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
            console.print(
                f"telemetry on: {on:,.0f} rows/s, off: {off:,.0f} rows/s (medians of"
                f" {len(rates['on'])} and {len(rates['off'])} runs) → overhead"
                f" {(off - on) / off:+.1%}"
            )
    if args.only in (None, "stages"):
        from bench import stages

        stages.report(console, args.processes)
    if args.only in (None, "queries"):
        from bench import queries

        queries.report(console, args)
    if args.only in (None, "privacy"):
        from bench import privacy

        privacy.report(console, args)
    if args.only in (None, "storage"):
        from bench import storage

        storage.report(console, args)
    if args.only in (None, "soak"):
        from bench import soak

        soak.report(console, args)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
