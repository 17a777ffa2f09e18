"""The api's one exception -> HTTP table: the most specific class answers, and only errors a
retry can cure carry Retry-After."""

from __future__ import annotations

import json

import pytest

from dream.blobs.store import BlobNotFound, BlobUnavailable
from dream.errors import (
    DreamError,
    NotFoundError,
    SnapshotTooLarge,
    StatementTimeout,
    StorageRefused,
    StorageUnavailable,
    TransportError,
)
from dream.transport.breaker import Unavailable
from dream.web.errors import problem_response


@pytest.mark.parametrize(
    ("error", "status", "detail", "retry_after"),
    [
        (StorageUnavailable("pool timeout"), 503, "database unavailable: pool timeout", "5"),
        (StorageRefused("value out of range"), 503, "database unavailable: value out of range",
         None),
        (StatementTimeout("canceling statement"), 503, "the query ran longer than", "30"),
        (BlobUnavailable("s3 down"), 503, "blob store unavailable: s3 down", "5"),
        (BlobNotFound("gone"), 404, "gone", None),
        (NotFoundError("no snapshot x"), 404, "no snapshot x", None),
        (TransportError("broker away"), 503, "pipeline unavailable: broker away", "5"),
        (Unavailable("circuit open", retry_after_s=12.2), 503, "pipeline unavailable: circuit open",
         "13"),
        (SnapshotTooLarge("over the broker's limit"), 413, "over the broker's limit", None),
    ],
)  # fmt: skip
def test_each_error_answers_as_the_table_says(
    error: DreamError, status: int, detail: str, retry_after: str | None
) -> None:
    response = problem_response(error)
    assert response.status_code == status
    assert json.loads(response.body)["detail"].startswith(detail)
    assert response.headers.get("Retry-After") == retry_after
