"""``collected_at`` against the api's clock: the accepted window, and how far agents' clocks are.

The window (``ClockWindow``: DREAM_MAX_CLOCK_SKEW, DREAM_MAX_SNAPSHOT_AGE) is checked here,
right after the body is parsed, because it depends on the deployment and on the moment of
receipt; outside it is a 422 naming ``collected_at``, the reason and the window.

Collectors send their clock in the standard ``Date`` request header; the difference from the
api's clock is observed as ``dream_clock_skew_seconds`` and logged with the host when large, so
a machine with a wrong clock is visible before its snapshots are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError

from dream.observability.sensors import Sensor
from dream.snapshots import ClockWindow, SnapshotIn

log = structlog.get_logger(__name__)

_LOG_SKEW_S = 300.0  # far beyond an NTP-disciplined clock's drift: worth a line per post


def check_collected_at(incoming: SnapshotIn, window: ClockWindow, now: datetime) -> None:
    """Raise a 422 (RequestValidationError) when ``collected_at`` is outside ``window``."""
    why = window.problem(incoming.collected_at, now)
    if why is not None:
        raise RequestValidationError(
            [
                {
                    "type": "collected_at_window",
                    "loc": ("body", "collected_at"),
                    "msg": f"collected_at {why}",
                    "input": incoming.collected_at.isoformat(),
                }
            ]
        )


def observe_agent_clock(
    request: Request, host: str, now: datetime, sensor: Sensor
) -> float | None:
    """The sender's clock (its ``Date`` header) minus ours, in seconds; None without one."""
    sent = request.headers.get("date")
    if not sent:
        return None
    try:
        agent = parsedate_to_datetime(sent)
    except (TypeError, ValueError):
        return None  # advisory only: a bad Date header does not refuse a snapshot
    if agent.tzinfo is None:  # "-0000": UTC, origin unknown
        agent = agent.replace(tzinfo=UTC)
    skew = (agent - now).total_seconds()
    sensor.on_clock_skew(skew)
    if abs(skew) >= _LOG_SKEW_S:
        log.warning("agent clock skewed", host=host, skew_s=round(skew))
    return skew
