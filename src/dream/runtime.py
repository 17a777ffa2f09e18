"""What a long-running Dream process (api, worker, serve) sets in the interpreter at start.

The cyclic garbage collector's defaults (a young collection every 700 new container objects)
suit short scripts. The api allocates thousands of objects per post and the worker a few
hundred per listing row, while both keep long-lived state: with the defaults the collector ran
several times per request or snapshot and walked that state each time (a third of the parse
step, measured on ``bench.e2e``'s listings). What is alive once a process has started
(modules, catalog, settings, pools) is frozen out of the collector's walks, and collections
run on larger allocation counts. Reference counting still frees nearly everything at once;
only reference cycles wait longer.
"""

from __future__ import annotations

import gc

# A young collection every 50,000 new container objects (a snapshot of 300 rows makes about
# that many), an older one every 20 young ones, a full one every 100 older ones. The worker's
# loop sets these while it runs too (the ``dream serve`` thread, tools that run a worker).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_for_service() -> None:
    """Freeze what is alive now out of future collections and raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
