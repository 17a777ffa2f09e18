"""`make bench`: prints throughput figures and their ratios to baselines from the same run."""

from __future__ import annotations

import argparse
import platform

from rich.console import Console
from rich.table import Table

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["e2e", "parse"], default=None)
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    console.print(f"[bold]Dream benchmarks[/bold] on {platform.machine()}, {_cores()} cores")
    if args.only in (None, "parse"):
        from bench import parsing

        parsing.report(console)
    if args.only in (None, "e2e"):
        from bench import e2e

        r = e2e.run(args.snapshots, args.processes, args.concurrency)
        table = Table(title="End to end: HTTP → api → Kafka → worker → PostgreSQL")
        for col in ("measure", "value"):
            table.add_column(col)
        table.add_row("snapshots × processes", f"{r.snapshots} × {args.processes}")
        table.add_row("process rows stored", f"{r.rows:,}")
        table.add_row("all accepted (202) after", f"{r.accept_s:.2f} s")
        table.add_row("all stored after", f"{r.total_s:.2f} s")
        table.add_row("[bold]end-to-end rows/s", f"[bold]{r.rows_per_s:,.0f}")
        table.add_row("plain COPY rows/s (pre-rendered text)", f"{r.copy_rows_per_s:,.0f}")
        table.add_row("plain COPY rows/s (psycopg write_row)", f"{r.copy_write_row_rows_per_s:,.0f}")
        table.add_row(
            "[bold]end-to-end / plain COPY", f"[bold]{r.rows_per_s / r.copy_rows_per_s:.2f}"
        )
        console.print(table)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
