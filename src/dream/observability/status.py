"""``dream status``: what an operator asks first — is ingestion keeping up, and if not, why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from dream.settings import Settings


def pipeline_status(
    settings: Settings, database_url: str, lag: Callable[[], dict[str, int]] | None = None
) -> dict[str, Any]:
    """The report of ``dream status``; given the settings, the database and how to read the
    transport's lag (``None``: a transport without one), not the app (it sits below it)."""
    report: dict[str, Any] = {"transport": settings.transport, "healthy": True}
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'stored'),"
                " count(*) FILTER (WHERE status = 'pending'),"
                " count(*) FILTER (WHERE status = 'failed'), max(stored_at) FROM snapshots"
            ).fetchone()
        assert row is not None
        report.update(database="ok", stored=row[0], pending=row[1], failed=row[2],
                      last_stored_at=row[3])  # fmt: skip
    except psycopg.Error as exc:
        report.update(database=f"unreachable: {exc}", healthy=False)
    if lag is not None:
        try:
            report["lag"] = lag()
            report["total_lag"] = sum(report["lag"].values())
        except Exception as exc:
            report.update(lag={}, total_lag=f"unknown: {exc}", healthy=False)
    return report
