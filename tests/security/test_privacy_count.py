"""The floor's count of a concurrency bucket's users (``usage`` with ``users_only``, asked for the
buckets in doubt) against the whole ``usage`` question, on the real worker and PostgreSQL: the
same users per bucket, from either source, over whole days and over hours at a range's ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from dream.app import Dream
from test_privacy import campus  # noqa: F401  (campus: the fixture, for this module)


def _ranges() -> list[dict[str, Any]]:
    """The default range, and one starting and ending inside a day (its ends read hours)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [{}, {"from": hour - timedelta(hours=30), "to": hour + timedelta(hours=2)}]


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
@pytest.mark.parametrize("narrowed", [{}, {"app": "stata"}, {"app": "rstudio"},
                                      {"faculty": "law"}, {"os": "windows"}])  # fmt: skip
def test_the_users_only_count_equals_the_questions_users(
    campus: tuple[TestClient, dict[str, str], Dream],  # noqa: F811
    bucket: str,
    narrowed: dict[str, str],
) -> None:
    _, _, dream = campus
    analytics = Analytics.of(dream.analytics_db.pool, dream.settings.raw_window_max_days)
    for span in _ranges():
        filters = Filters.model_validate({**narrowed, **span})
        for source in ("rollup", "raw"):
            whole = analytics.usage(filters, bucket=bucket, source=source).items
            counted = analytics.usage(filters, bucket=bucket, source=source,
                                      users_only=True).items  # fmt: skip
            assert all(set(row) == {"group", "bucket", "users"} for row in counted)
            users = {row["bucket"]: row["users"] for row in counted}
            # A bucket known only from sessions counts no users in either.
            assert users == {r["bucket"]: r["users"] for r in whole if r["users"]}, (span, source)
            assert sum(users.values()) > 0, (span, source)
