"""Differential privacy for a DP key's answers: calibrated Laplace noise from OpenDP.

Which values are released, and how (docs/security.md, "Differential privacy"):

- counts of people and machines (``users``, ``hosts``; concurrency's ``peak_users``,
  ``peak_hosts``, ``p95_users``): one person changes each cell by at most 1;
- ``hours``: one person contributes at most the cell's span to a cell (a usage bucket: an hour,
  day, week, month of 31 days, or a term or teaching week as long as the calendar has it
  within the range; else the asked range), counting one session of an application at a time;
- the other metrics (``snapshots``, ``processes``, ``launches``, CPU and memory averages) have
  no bound on one person's contribution (anyone can start any number of processes): withheld;
- a share of active users and its interval, and ``active_users`` beside it: withheld (exact
  users over exact active users would give back the count the noise hides).

One person may be in every row of an answer, so each noised column's L1 sensitivity is the sum
of its cells' bounds (for counts, the rows answered); the answer's epsilon is split evenly over
the noised columns (sequential composition) and each column gets the Laplace mechanism
(discrete for counts) at scale = sensitivity / its share. Rounding and clamping at zero
afterwards are post-processing and cost no privacy. OpenDP draws the noise from the operating
system's CSPRNG: it cannot be seeded, and need not be.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dream.analytics.calendar import CALENDAR_BUCKETS, label_of

if TYPE_CHECKING:
    from dream.analytics.calendar import Calendar

MECHANISM = "laplace (OpenDP)"
PEOPLE = ("users", "hosts", "peak_users", "peak_hosts", "p95_users")  # at most 1 per person
HOURS = "hours"
WITHHELD = ("snapshots", "processes", "launches", "avg_cpu_percent", "avg_rss_kb",
            "active_users", "share_users", "share_ci95_lo", "share_ci95_hi")  # fmt: skip
BUCKET_SPAN = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
               "month": timedelta(days=31)}  # fmt: skip


def spans(rows: list[dict[str, Any]], bucket: str | None, start: datetime, end: datetime,
          calendar: Calendar | None) -> list[timedelta]:  # fmt: skip
    """Each row's time span (the most hours one person has in it) in an answer over
    ``[start, end)``: its ``bucket``'s length; a term's or teaching week's is its own (terms
    differ, a week or term at the range's ends is clipped to it), not the range's."""
    if bucket in BUCKET_SPAN:
        return [BUCKET_SPAN[bucket]] * len(rows)
    if bucket in CALENDAR_BUCKETS and calendar is not None:
        length = {label: hi - lo for label, lo, hi in calendar.buckets(bucket, start, end)}
        return [length.get(str(label_of(row, bucket)), end - start) for row in rows]
    return [end - start] * len(rows)


def scales(rows: list[dict[str, Any]], epsilon: float, span: Sequence[timedelta]
           ) -> dict[str, float]:  # fmt: skip
    """Each noised column of ``rows`` and its Laplace scale, for an answer spending ``epsilon``
    whose cells span ``span`` (one per row)."""
    columns = [c for c in (*PEOPLE, HOURS) if any(c in r for r in rows)]
    if not rows or not columns:
        return {}
    share = epsilon / len(columns)
    hours = sum(span, timedelta()) / timedelta(hours=1)
    return {c: (hours if c == HOURS else len(rows)) / share for c in columns}


def add_noise(rows: list[dict[str, Any]], epsilon: float, span: Sequence[timedelta]) -> None:
    """Release ``rows`` (in place) under ``epsilon``-differential privacy, as above; ``span``:
    each row's (``spans``)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    for row in rows:
        for column in WITHHELD:
            if column in row:
                row[column] = None
    for column, scale in scales(rows, epsilon, span).items():
        counts = column != HOURS
        kind: type = int if counts else float
        values = [kind(row.get(column) or 0) for row in rows]
        atoms = dp.atom_domain(T=int) if counts else dp.atom_domain(T=float, nan=False)
        laplace = dp.m.make_laplace(dp.vector_domain(atoms), dp.l1_distance(T=kind), scale=scale)
        for row, noisy in zip(rows, laplace(values), strict=True):
            row[column] = max(0, noisy) if counts else round(max(0.0, noisy), 3)


__all__ = ["BUCKET_SPAN", "MECHANISM", "add_noise", "scales", "spans"]
