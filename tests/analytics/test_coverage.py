"""Every JSON answer says how many hosts reported in its range and their median cadence."""

from __future__ import annotations

import statistics
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

import analytics_dataset as ds
import sessions_data
from dream.analytics.questions import QUESTIONS
from dream.settings import Settings
from dream.analytics.questions.registry import required_params

DEFAULT = Settings.model_fields["default_cadence_s"].default


def expected(snapshots: list[tuple], f: dict[str, Any]) -> dict:
    """The oracle over every (host, faculty, os, user, collected_at, interval_s) of a stored or
    failed snapshot: per host its mean declared interval, else the mean gap between its
    snapshots in the range, else the default; the median of those over the hosts that
    reported."""
    start, end = ds.window(f)
    seen: dict[str, list] = {}
    for host, faculty, os, user, at, interval_s in snapshots:
        named = {"host": host, "faculty": faculty, "os": os, "user": user}
        if start <= at < end and all(f.get(k) in (None, v) for k, v in named.items()):
            seen.setdefault(host, []).append((at, interval_s))
    cadences = []
    for taken in seen.values():
        declared = [i for _, i in taken if i is not None]
        times = sorted(at for at, _ in taken)
        if declared:
            cadences.append(statistics.mean(declared))
        elif len(times) > 1:
            cadences.append((times[-1] - times[0]).total_seconds() / (len(times) - 1))
        else:
            cadences.append(DEFAULT)
    median = round(statistics.median(cadences), 3) if cadences else None
    return {"hosts": len(seen), "median_cadence_s": median}


# ibm-spss-statistics: a product of the catalog that nothing ran (an app no one knows is a 422).
FILTERS = [{}, {"faculty": "law"}, {"host": "eng-lx-1", "app": "ibm-spss-statistics"},
           {"from": "2026-03-02T09:30:00Z", "to": "2026-03-02T10:00:00Z"},
           # Whole days (host_days) and ragged ends (snapshots); a user (snapshots only).
           {"from": "2026-03-02T10:20:00Z", "to": "2026-03-10T10:00:00Z", "os": "linux"},
           {"from": "2026-03-02T10:00:00Z", "to": "2026-04-02T00:00:00Z", "user": "alice"},
           {"from": "2030-01-01T00:00:00Z"}]  # fmt: skip


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_coverage_counts_reporting_hosts_and_their_cadence(
    client: TestClient, rows: list[ds.Row], database_url: str, f: dict[str, Any]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # One host says its interval (on most snapshots); the others show theirs.
        conn.execute("UPDATE snapshots SET interval_s = 60 + extract(minute FROM collected_at)"
                     " WHERE host = 'eng-lx-2' AND extract(minute FROM collected_at) < 50")
        sessions_data.insert_host_days(conn)
        snapshots = conn.execute(
            "SELECT host, faculty, os, user_name, collected_at, interval_s FROM snapshots"
            " WHERE status <> 'pending'"
        ).fetchall()
    want = expected(snapshots, f)
    for question in QUESTIONS:
        params = {**f, **required_params(question)}  # its required parameters too
        response = client.get(question.path, params=params)
        assert response.status_code == 200, (question.name, response.text)
        assert response.json()["coverage"] == want, question.name
