"""Fixtures for the raw-output tests: a real S3-compatible server (S3Proxy) for the session, and
each test's blob store — the filesystem one and the S3 one — as settings overrides.

S3Proxy comes from ``DREAM_TEST_S3_ENDPOINT`` (with ``DREAM_TEST_S3_ACCESS_KEY`` /
``DREAM_TEST_S3_SECRET_KEY``) when set, otherwise scripts/services.py starts it (Maven Central
jar, Java 17) and this session stops it. Unavailable: fails under CI=true, skips elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import services  # scripts/services.py (the root conftest puts scripts/ on sys.path)
from helpers import unavailable
from raw_helpers import s3_client


@pytest.fixture(scope="session")
def s3proxy() -> Iterator[dict]:
    endpoint = os.environ.get("DREAM_TEST_S3_ENDPOINT")
    if endpoint:
        yield {
            "endpoint": endpoint,
            "access_key": os.environ.get("DREAM_TEST_S3_ACCESS_KEY", ""),
            "secret_key": os.environ.get("DREAM_TEST_S3_SECRET_KEY", ""),
        }
        return
    try:
        state = services.start_s3proxy(f"test-s3proxy-{os.getpid()}")
    except Exception as exc:
        unavailable(f"could not start S3Proxy: {exc}")
    try:
        yield state
    finally:
        services.stop_s3proxy(state)


@pytest.fixture
def s3_settings(s3proxy: dict) -> dict[str, Any]:
    """Settings for a bucket of this test's own."""
    bucket = f"dream-test-{uuid.uuid4().hex[:12]}"
    s3_client(s3proxy).create_bucket(Bucket=bucket)
    return {
        "s3_bucket": bucket,
        "s3_endpoint_url": s3proxy["endpoint"],
        "s3_region": "us-east-1",
        "s3_access_key_id": s3proxy["access_key"],
        "s3_secret_access_key": s3proxy["secret_key"],
    }


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_settings(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    """Settings overrides selecting this test's blob store (filesystem: tmp_path/blobs)."""
    if store_kind == "s3":
        return request.getfixturevalue("s3_settings")
    return {"blob_dir": tmp_path / "blobs"}
