"""Privacy benchmark: what the k-anonymity floor and the audit trail cost a question.

On the query benchmark's data (``bench.queries``: loaded once, reused with --query-reuse), each
of its questions that a `query` key may ask (not the per-user one) is asked through the api
(``create_app``, in process, over the analytics pool) by an `admin` caller (no floor), by a
`query` caller (the floor at DREAM_MIN_GROUP_USERS' default, 5), by a differentially private
`query` caller (the floor, the budget spent in PostgreSQL and OpenDP's noise), interleaved; and
by the admin caller with the audit middleware taken out. p95 of each, and the ratios. Then,
in the database alone, what the floor adds to each concurrency question: the question with its
buckets' users counted from the timeline (migration 0022, what the floor asks) beside the
question alone and the second question it asks where a filter keeps the timeline out (the
users of the buckets in doubt: ``usage`` with ``users_only``).
"""

from __future__ import annotations

import os
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from bench.queries import Timing, _cases, _database, _load
from dream.settings import Settings

KINDS = {"top": "/v1/analytics/top-apps", "usage": "/v1/analytics/usage",
         "concurrency": "/v1/analytics/concurrency"}  # fmt: skip


def _params(filters: dict[str, Any], options: dict[str, Any]) -> dict[str, str]:
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else str(v).lower() if isinstance(v, bool)
               else str(v)) for k, v in {**filters, **options}.items()}  # fmt: skip
    return out


def run(server_url: str, *, hosts: int, days: int, reps: int, reuse: bool,
        say: Any = print) -> list[tuple[str, Timing, Timing, Timing, Timing]]:  # fmt: skip
    from fastapi.testclient import TestClient

    from dream.app import Dream
    from dream.web.app import create_app
    from dream.web.audit import AuditMiddleware

    name = f"dream_bench_queries_{hosts}h_{days}d"
    url, loaded = _database(server_url, name, reuse=reuse)
    if not loaded:
        say(f"loading {hosts} hosts × {days} days into {name}")
        _load(url, hosts, days, say)
    data_dir = Path(tempfile.mkdtemp(prefix="dream-bench-privacy-"))
    admin_token = "dream_b0b0b0b0b0b0_" + "C" * 43
    settings = Settings(database_url=url, data_dir=data_dir, auth="on", transport="direct",  # type: ignore[arg-type]
                        bootstrap_admin_key=admin_token, rate_limits="", telemetry="off")  # fmt: skip
    dream = Dream(settings).open()
    dream.bootstrap()
    query_token = dream.keys.create("bench query", "query").secret
    dp_token = dream.keys.create("bench dp", "query", dp_epsilon=1.0, dp_budget=1e9).secret
    audited = create_app(dream, publisher=dream.publisher())
    unaudited = create_app(dream, publisher=dream.publisher())
    unaudited.user_middleware = [m for m in unaudited.user_middleware
                                 if m.cls is not AuditMiddleware]  # fmt: skip
    results = []
    with TestClient(audited) as a, TestClient(unaudited) as u:
        callers = {"admin": (a, admin_token), "query": (a, query_token),
                   "query, DP": (a, dp_token), "admin, no audit": (u, admin_token)}  # fmt: skip
        for label, kind, filters, options in _cases(days, ""):
            if kind not in KINDS or "user" in filters:
                continue
            params = _params(filters, options)
            timings = {who: Timing(label, who) for who in callers}
            for i in range(reps + 1):
                for who, (client, token) in callers.items():
                    t = time.perf_counter()
                    r = client.get(KINDS[kind], params=params,
                                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                    if r.status_code != 200:
                        raise AssertionError(f"{label} as {who}: {r.status_code} {r.text}")
                    if i:  # the first round warms caches and plans
                        timings[who].samples.append((time.perf_counter() - t) * 1000)
            held = r.json()
            results.append((label, timings["admin"], timings["query"], timings["query, DP"],
                            timings["admin, no audit"]))  # fmt: skip
            say(f"  {label}: p95 admin {timings['admin'].p95:.1f} ms, query (floor)"
                f" {timings['query'].p95:.1f} ms, DP {timings['query, DP'].p95:.1f} ms,"
                f" no audit {timings['admin, no audit'].p95:.1f} ms"
                f" (suppressed for query: {held.get('suppressed')})")
    dream.close()
    return results


def floor_count(url: str, days: int, reps: int) -> list[tuple[str, int, int, list[Timing]]]:
    """Per concurrency question: its buckets, those in doubt (a peak under the default floor)
    and the timings of the question, of the question with its users (the floor's) and of the
    users-only ``usage`` over the doubt's span (never more users than the timeline's: those
    sampled in the bucket), interleaved."""
    from psycopg_pool import ConnectionPool

    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics
    from dream.analytics.questions.registry import _BUCKET

    floor = Settings.model_fields["min_group_users"].default
    out: list[tuple[str, int, int, list[Timing]]] = []
    with ConnectionPool(url, min_size=1, max_size=1) as pool:
        a = Analytics.of(pool, days + 1)
        for label, kind, filters, options in _cases(days, ""):
            if kind != "concurrency":
                continue
            f, bucket = Filters.model_validate(filters), options.get("bucket", "day")
            rows = a.concurrency(f, bucket=bucket).items
            doubt = [r["bucket"] for r in rows if r["peak_users"] < floor]
            if not doubt:
                out.append((label, len(rows), 0, []))
                continue
            g = f.model_copy(update={"from_": max(f.start, min(doubt)),
                                     "to": min(f.end, max(doubt) + _BUCKET[bucket])})  # fmt: skip
            asks = {"concurrency": partial(a.concurrency, f, bucket=bucket),
                    "with its users": partial(a.concurrency, f, bucket=bucket, floor=floor),
                    "users only": partial(a.usage, g, bucket=bucket, users_only=True)}  # fmt: skip
            counted = {r["bucket"]: r["users"] for r in asks["with its users"]().items}
            if any(counted.get(r["bucket"], 0) < min(r["users"], floor)
                   for r in asks["users only"]().items):  # fmt: skip
                raise AssertionError(f"{label}: the timeline counts fewer users than usage")
            timings = {name: Timing(label, name) for name in asks}
            for _ in range(reps):
                for name, ask in asks.items():
                    t = time.perf_counter()
                    ask()
                    timings[name].samples.append((time.perf_counter() - t) * 1000)
            out.append((label, len(rows), len(doubt), list(timings.values())))
    return out


def report(console: Any, args: Any) -> None:
    """Run with ``bench.run``'s arguments and print the table."""
    import sys

    from rich.table import Table

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import services

    # A running server (DREAM_DATABASE_URL), else the one scripts/services.py keeps.
    server_url = (os.environ.get("DREAM_DATABASE_URL")
                  or services.up(kafka=False)["postgres"]["url"])  # fmt: skip
    results = run(server_url, hosts=args.query_hosts, days=args.query_days,
                  reps=args.query_reps, reuse=args.query_reuse, say=console.print)  # fmt: skip
    table = Table(title="Privacy: the floor (query key, k = 5), DP (epsilon 1) and the audit trail,"
                        " through the api")
    for col in ("question", "admin p95 ms", "query p95 ms", "floor cost", "DP p95 ms",
                "DP cost (vs query)", "no audit p95 ms", "audit cost"):  # fmt: skip
        table.add_column(col, justify="left" if col == "question" else "right")
    for label, admin, query, dp, bare in results:
        table.add_row(label, f"{admin.p95:.1f}", f"{query.p95:.1f}",
                      f"{query.p95 / admin.p95 - 1:+.0%}", f"{dp.p95:.1f}",
                      f"{dp.p95 / query.p95 - 1:+.0%}", f"{bare.p95:.1f}",
                      f"{admin.p95 / bare.p95 - 1:+.0%}")  # fmt: skip
    console.print(table)
    url = make_conninfo(server_url, dbname=f"dream_bench_queries_{args.query_hosts}h"
                                           f"_{args.query_days}d")  # fmt: skip
    counts = Table(title="The floor's count of concurrency buckets in doubt, in the database:"
                         " median / p95 ms")  # fmt: skip
    for col in ("question", "buckets", "in doubt", "concurrency", "with its users",
                "users only"):  # fmt: skip
        counts.add_column(col, justify="left" if col == "question" else "right")
    for label, n, doubt, timings in floor_count(url, args.query_days, 2 * args.query_reps):
        counts.add_row(label, str(n), str(doubt),
                       *(f"{t.p50:.1f} / {t.p95:.1f}" for t in timings))  # fmt: skip
    console.print(counts)
