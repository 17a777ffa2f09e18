"""Compare two cohorts: each one's share of active users who used an app, its Wilson interval,
and a test of the difference (Fisher's exact where an expected cell is under 5, else the
two-proportion z-test); over every app, Benjamini–Hochberg q-values. The statistics are
scipy's and statsmodels', never written here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import bootstrap, fisher_exact
from scipy.stats.contingency import expected_freq
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from dream.analytics.cohorts import active_users, app_users, user_hours
from dream.analytics.filters import Filters, FilterError
from dream.analytics.questions.cohorts import HOURS_COLUMNS, Cohort, CohortBy
from dream.analytics.sql import Fetch

SMALL_CELL = 5  # an expected count under this: Fisher's exact test, and a warning
RESAMPLES = 2000  # bootstrap resamples of hours per active user
SEED = 19  # fixed: the same question answers the same interval
FISHER = "fisher_exact"
Z_TEST = "two_proportion_z"


def wilson(users: int, active: int) -> list[float] | None:
    """The 95% Wilson score interval of ``users`` / ``active``; None without active users."""
    if active <= 0:
        return None
    lo, hi = proportion_confint(users, active, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


def difference_test(ua: int, na: int, ub: int, nb: int) -> tuple[float | None, str | None]:
    """The p-value of "the two shares are equal" and the test that gave it: Fisher's exact when
    any expected cell of the 2×2 table is under ``SMALL_CELL``, else the z-test. No test
    without active users on both sides."""
    if na <= 0 or nb <= 0:
        return None, None
    table = [[ua, na - ua], [ub, nb - ub]]
    if (expected_freq(table) < SMALL_CELL).any():
        return float(fisher_exact(table).pvalue), FISHER
    _, p = proportions_ztest([ua, ub], [na, nb])
    return float(p), Z_TEST


def hours_per_user(hours: list[float]) -> tuple[float | None, list[float] | None]:
    """The mean hours per active user and its 95% bootstrap interval (scipy's, percentile
    method, fixed seed, over the values sorted: the same users give the same interval,
    whatever order the rows came in); no interval under two users."""
    if not hours:
        return None, None
    mean = float(np.mean(hours))
    if len(hours) < 2:
        return mean, None
    found = bootstrap((sorted(hours),), np.mean, confidence_level=0.95, n_resamples=RESAMPLES,
                      method="percentile", rng=np.random.default_rng(SEED))  # fmt: skip
    ci = found.confidence_interval
    return mean, [float(ci.low), float(ci.high)]


def _with_hours(row: dict[str, Any], side: str, hours: list[float]) -> None:
    mean, ci = hours_per_user(hours)
    row[f"{side}_hours_per_active_user"] = mean
    row[f"{side}_hours_ci95_lo"], row[f"{side}_hours_ci95_hi"] = ci or (None, None)


def _side(prefix: str, users: int, active: int) -> dict[str, Any]:
    ci: list[float | None] = [None, None]
    ci = list(wilson(users, active) or ci)
    return {f"{prefix}_users": users, f"{prefix}_active_users": active,
            f"{prefix}_share": users / active if active > 0 else None,
            f"{prefix}_ci95_lo": ci[0], f"{prefix}_ci95_hi": ci[1]}  # fmt: skip


def _warning(ua: int, na: int, ub: int, nb: int, test: str | None) -> str | None:
    if test is None:
        side = "a" if na <= 0 else "b"
        return f"cohort {side} has no active users in the range: no share, no test"
    if test == FISHER:
        return (f"small cells (an expected count under {SMALL_CELL}): Fisher's exact test;"
                " the intervals are wide")  # fmt: skip
    return None


def compare_row(app: str, ua: int, na: int, ub: int, nb: int) -> dict[str, Any]:
    """One app's comparison, flat (its CSV row): both sides, difference, p-value and test."""
    p, test = difference_test(ua, na, ub, nb)
    a, b = _side("a", ua, na), _side("b", ub, nb)
    difference = (None if a["a_share"] is None or b["b_share"] is None
                  else a["a_share"] - b["b_share"])  # fmt: skip
    return {"app": app, **a, **b, "difference": difference, "p_value": p, "q_value": None,
            "test": test, "warning": _warning(ua, na, ub, nb, test),
            **dict.fromkeys(HOURS_COLUMNS)}  # fmt: skip


def with_q_values(rows: list[dict[str, Any]]) -> None:
    """Benjamini–Hochberg q-values over the rows' p-values (rows without one get none)."""
    tested = [row for row in rows if row["p_value"] is not None]
    if tested:
        q = multipletests([row["p_value"] for row in tested], method="fdr_bh")[1]
        for row, value in zip(tested, q, strict=True):
            row["q_value"] = float(value)


def compare(fetch: Fetch, filters: Filters, *, by: CohortBy, a: str, b: str, cohort: Cohort,
            each: bool, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Cohort ``a`` against ``b``: one row for the apps of the filters together (``each``
    False: `app=` or `product=` given), else one per app used in either, largest absolute
    difference first."""
    if a == b:
        raise FilterError("b", "must name another cohort than `a`", b)
    active = active_users(fetch, filters, cohort=cohort, by=by, cohorts=[a, b])
    used = app_users(fetch, filters, cohort=cohort, by=by, cohorts=[a, b], each=each)
    counts: dict[str, dict[str, int]] = {}
    for row in used:
        counts.setdefault(row["app"], {})[row["cohort"]] = row["users"]
    na, nb = active.get(a, 0), active.get(b, 0)
    if not each:
        label = ",".join(filters.apps or ())
        found = next(iter(counts.values()), {})
        row = compare_row(label, found.get(a, 0), na, found.get(b, 0), nb)
        hours = user_hours(fetch, filters, cohort=cohort, by=by, cohorts=[a, b])
        _with_hours(row, "a", hours.get(a, []))
        _with_hours(row, "b", hours.get(b, []))
        return [row]
    rows = [compare_row(app, n.get(a, 0), na, n.get(b, 0), nb) for app, n in counts.items()]
    with_q_values(rows)
    rows.sort(key=lambda r: (-abs(r["difference"]) if r["difference"] is not None else math.inf,
                             r["app"]))  # fmt: skip
    return rows[:limit]
