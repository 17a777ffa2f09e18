"""Helpers of the raw-output tests (tests/blobs)."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from dream.blobs.store import BlobStore
from dream.settings import Settings
from dream.snapshots import RawRef
from helpers import wait_for


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_gzip(store: BlobStore, data: bytes) -> RawRef:
    """``data`` stored as single objects were before zstd: gzip, under ``<sha256>.gz``."""
    digest = sha(data)
    payload = gzip.compress(data, compresslevel=1, mtime=0)
    url = store._write(f"sha256/{digest[:2]}/{digest}.gz", payload)
    return RawRef(sha256=digest, size=len(data), compression="gzip", url=url)


def s3_client(server: dict) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=server["endpoint"], region_name="us-east-1",
        aws_access_key_id=server["access_key"], aws_secret_access_key=server["secret_key"],
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )  # fmt: skip


def settings_env(settings: Any) -> dict[str, str]:
    """The DREAM_* variables that make a CLI run see the same deployment as ``settings``."""
    env = {}
    for name in ("database_url", "data_dir", "blob_dir", "s3_bucket", "s3_endpoint_url",
                 "s3_region", "s3_access_key_id", "s3_secret_access_key", "pii_mode",
                 "store_raw", "raw_retention_days", "raw_rows_retention_days"):  # fmt: skip
        value = getattr(settings, name, None)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[f"DREAM_{name.upper()}"] = str(value)
    return env


def make_settings(database_url: str, tmp_path: Any, store_settings: dict, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path, batch_wait_s=0.05, auth="off",
        **{"raw_rows_retention_days": 3650,  # the snapshots are weeks old: their rows are kept
           **store_settings, **extra},
    )  # fmt: skip


def settled(client: TestClient, snapshot_id: str, timeout_s: float = 60.0) -> dict:
    def check() -> dict | None:
        body = client.get(f"/v1/snapshots/{snapshot_id}").json()
        return body if body.get("status") in ("stored", "failed") else None

    return wait_for(check, timeout_s=timeout_s, what=f"snapshot {snapshot_id} settled")


def snapshot_row(url: str, snapshot_id: str) -> dict:
    with psycopg.connect(url) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cur.execute("SELECT * FROM snapshots WHERE snapshot_id = %s", (snapshot_id,)).fetchone()


def process_rows(url: str, snapshot_id: str) -> list[tuple]:
    """A snapshot's rows, without the snapshot id, in a stable order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT * FROM processes WHERE snapshot_id = %s", (snapshot_id,)
        ).fetchall()
    return sorted((r[1:] for r in rows), key=repr)


def new_id() -> str:
    return str(uuid.uuid4())
