"""Every JSON answer says how many hosts reported in its range and their median cadence."""

from __future__ import annotations

import statistics
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds
from dream.analytics.questions import QUESTIONS
from dream.settings import Settings

DEFAULT = Settings.model_fields["default_cadence_s"].default


def expected(rows: list[ds.Row], f: dict[str, Any], declared: dict[str, float]) -> dict:
    """The oracle: per host its declared interval, else the median gap between its snapshots,
    else the default; the median of those over the hosts that reported."""
    start, end = ds.window(f)
    times: dict[str, set] = {}
    for r in rows:
        s = r.snapshot
        if start <= s.collected_at < end and all(
            f.get(k) in (None, getattr(s, k)) for k in ("faculty", "os", "user", "host")
        ):
            times.setdefault(s.host, set()).add(s.collected_at)
    cadences = []
    for host, seen in times.items():
        ordered = sorted(seen)
        gaps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
        cadences.append(declared.get(host) or (statistics.median(gaps) if gaps else DEFAULT))
    median = round(statistics.median(cadences), 3) if cadences else None
    return {"hosts": len(times), "median_cadence_s": median}


FILTERS = [{}, {"faculty": "law"}, {"host": "eng-lx-1", "app": "nothing-ran-this"},
           {"from": "2026-03-02T09:30:00Z", "to": "2026-03-02T10:00:00Z"},
           {"from": "2030-01-01T00:00:00Z"}]  # fmt: skip


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_coverage_counts_reporting_hosts_and_their_cadence(
    client: TestClient, rows: list[ds.Row], database_url: str, f: dict[str, Any]
) -> None:
    declared = {"eng-lx-2": 60.0}  # one host says its interval; the others show theirs
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE snapshots SET interval_s = 60 WHERE host = 'eng-lx-2'")
    want = expected(rows, f, declared)
    for question in QUESTIONS:
        params = {**f, **({"by": "os"} if question.name == "breakdown" else {})}
        response = client.get(question.path, params=params)
        assert response.status_code == 200, (question.name, response.text)
        assert response.json()["coverage"] == want, question.name
