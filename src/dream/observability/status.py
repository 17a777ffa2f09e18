"""``dream status``: what an operator asks first — is ingestion keeping up, and if not, why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dream.errors import StorageError
from dream.settings import Settings


def pipeline_status(
    settings: Settings,
    counts: Callable[[], dict[str, Any]],
    lag: Callable[[], dict[str, int]] | None = None,
) -> dict[str, Any]:
    """The report of ``dream status``, given how to read the snapshot counts (storage's) and
    the transport's lag (``None``: a transport without one), not the app (it sits below it)."""
    report: dict[str, Any] = {"transport": settings.transport, "healthy": True}
    try:
        report.update(counts(), database="ok")
    except StorageError as exc:
        report.update(database=f"unreachable: {exc}", healthy=False)
    if lag is not None:
        try:
            report["lag"] = lag()
            report["total_lag"] = sum(report["lag"].values())
        except Exception as exc:
            report.update(lag={}, total_lag=f"unknown: {exc}", healthy=False)
    return report
