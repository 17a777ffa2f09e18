"""Parsing speed: dream.parsing.parse against jc's ps parser, on the same inputs, same run.

The dream rows use the C accelerator when it is built; the pure-Python rows show the fallback.
"""

from __future__ import annotations

import time
import tracemalloc

from rich.console import Console
from rich.table import Table

from dream.demo.listings import ps_aux_output, tasklist_v_output
from dream.parsing import accel, parse


def _rate(fn, text: str, rows: int, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - t0)
    return rows / best


MEMORY_INPUT_BYTES = 100_000_000  # the bound: a 100 MB output within 3x its size
_PS_AUX_ROW_BYTES = 122  # about, in dream.demo.listings' ps aux


def report(console: Console, rows: int = 100_000) -> None:
    import jc.parsers.ps as jc_ps

    ps_text = ps_aux_output(rows, seed=1)
    tasklist_text = tasklist_v_output(rows, seed=1)
    dream_ps = _rate(lambda t: parse(t, format="ps-aux"), ps_text, rows)
    jc_rate = _rate(lambda t: jc_ps.parse(t, quiet=True), ps_text, rows)
    dream_tl = _rate(lambda t: parse(t, format="tasklist-verbose"), tasklist_text, rows)
    speedups, accel.SPEEDUPS = accel.SPEEDUPS, None  # the pure-Python reference, for scale
    try:
        pure_ps = _rate(lambda t: parse(t, format="ps-aux"), ps_text, rows)
        pure_tl = _rate(lambda t: parse(t, format="tasklist-verbose"), tasklist_text, rows)
    finally:
        accel.SPEEDUPS = speedups

    tracemalloc.start()
    big = ps_aux_output(MEMORY_INPUT_BYTES // _PS_AUX_ROW_BYTES, seed=2)
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    parse(big, format="ps-aux")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = len(big.encode())

    table = Table(title=f"Parsing {rows:,} rows")
    for col in ("input", "parser", "rows/s", "vs jc"):
        table.add_column(col)
    table.add_row("ps aux", "jc.parsers.ps", f"{jc_rate:,.0f}", "1.00")
    table.add_row("ps aux", "dream.parsing", f"{dream_ps:,.0f}", f"{dream_ps / jc_rate:.2f}")
    table.add_row("tasklist /v", "dream.parsing", f"{dream_tl:,.0f}", f"{dream_tl / jc_rate:.2f}")
    table.add_row("ps aux", "dream.parsing, pure Python", f"{pure_ps:,.0f}",
                  f"{pure_ps / jc_rate:.2f}")
    table.add_row("tasklist /v", "dream.parsing, pure Python", f"{pure_tl:,.0f}",
                  f"{pure_tl / jc_rate:.2f}")
    console.print(table)
    console.print("C accelerator: " + ("on" if speedups is not None else
                                       f"[bold red]off[/bold red] ({accel.UNAVAILABLE})"))
    console.print(
        f"peak memory parsing a {size / 1e6:.1f} MB ps aux output: "
        f"{(peak - base) / 1e6:.1f} MB ({(peak - base) / size:.2f}× its size)"
    )
