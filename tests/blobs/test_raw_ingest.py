"""Raw outputs through the api (direct pipeline): into the blob store, out of /raw byte for byte."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from dream.blobs.store import BlobRefused
from dream.demo.listings import ps_aux_output
from helpers import direct_client, snapshot_body
from raw_helpers import (
    make_settings,
    new_id,
    process_rows,
    s3_client,
    settled,
    sha,
    snapshot_row,
)


def test_small_inline_output_lands_in_the_blob_store_not_in_the_row(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    output = ps_aux_output(30)
    body = snapshot_body(output)
    with direct_client(make_settings(database_url, tmp_path, store_settings)) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        state = settled(client, body["snapshot_id"])
        assert state["status"] == "stored" and state["process_count"] == 30
        row = snapshot_row(database_url, body["snapshot_id"])
        assert row["raw_output"] is None  # no raw personal data in a text column
        assert row["raw_sha256"] == sha(output.encode()) and row["raw_size"] == len(output.encode())
        assert row["raw_compression"] == "zstd"
        assert row["raw_url"].startswith("s3://" if "s3_bucket" in store_settings else "file://")
        raw = client.get(f"/v1/snapshots/{body['snapshot_id']}/raw")
        assert raw.status_code == 200
        assert raw.content == output.encode()
        assert raw.headers["x-dream-raw-sha256"] == sha(output.encode())
        assert client.get(f"/v1/snapshots/{uuid.uuid4()}/raw").status_code == 404


def test_large_output_is_offloaded_by_the_api_and_parsed(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    output = ps_aux_output(3000)  # ~330 KB > 64 KiB inline limit below
    body = snapshot_body(output)
    settings = make_settings(database_url, tmp_path, store_settings, inline_max_bytes=64 * 1024)
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        assert settled(client, body["snapshot_id"])["process_count"] == 3000
        assert client.get(f"/v1/snapshots/{body['snapshot_id']}/raw").content == output.encode()
        assert snapshot_row(database_url, body["snapshot_id"])["raw_output"] is None


def test_utf16_upload_is_kept_as_sent(database_url: str, tmp_path: Path) -> None:
    text = ps_aux_output(5)
    utf16 = b"\xff\xfe" + text.encode("utf-16-le")  # PowerShell 5.1's `>`
    sid = new_id()
    fields = {"host": "law-pc-17", "os": "linux", "user": "jdoe", "faculty": "law",
              "collected_at": "2026-11-27T10:00:00Z", "command": "ps aux", "snapshot_id": sid}  # fmt: skip
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, _):
        response = client.post("/v1/snapshots", data=fields, files={"output": ("ps.txt", utf16)})
        assert response.status_code == 202, response.text
        assert settled(client, sid)["process_count"] == 5
        assert client.get(f"/v1/snapshots/{sid}/raw").content == utf16


@pytest.mark.parametrize(
    "fields",
    [
        {"output": "x", "output_url": "s3://bucket/key"},  # both
        {},  # neither
        {"output_url": "https://example.org/ps.txt"},  # not s3://
    ],
)
def test_exactly_one_output_or_s3_output_url(database_url: str, tmp_path: Path, fields: dict) -> None:
    body = snapshot_body("unused")
    del body["output"]
    body.update(fields)
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, _):
        response = client.post("/v1/snapshots", json=body)
        assert response.status_code == 422, response.text


def test_output_url_without_s3_configured_is_refused(database_url: str, tmp_path: Path) -> None:
    body = snapshot_body("unused")
    del body["output"]
    body["output_url"] = "s3://dream-raw/uploads/ps.txt"
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, _):
        response = client.post("/v1/snapshots", json=body)
        assert response.status_code == 422
        assert "DREAM_S3_BUCKET" in response.text


def test_output_url_from_the_collector_is_fetched_parsed_and_kept(
    database_url: str, tmp_path: Path, s3_settings: dict, s3proxy: dict
) -> None:
    bucket = s3_settings["s3_bucket"]
    output = ps_aux_output(40).encode()
    s3_client(s3proxy).put_object(Bucket=bucket, Key="uploads/eng-lab-04/ps.txt", Body=output)
    body = snapshot_body("unused")
    del body["output"]
    body["output_url"] = f"s3://{bucket}/uploads/eng-lab-04/ps.txt"
    with direct_client(make_settings(database_url, tmp_path, s3_settings)) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        state = settled(client, body["snapshot_id"])
        assert state["status"] == "stored" and state["process_count"] == 40
        assert client.get(f"/v1/snapshots/{body['snapshot_id']}/raw").content == output
        assert snapshot_row(database_url, body["snapshot_id"])["raw_sha256"] == sha(output)

        # Another bucket (SSRF), or an absent object: refused at the door.
        for url in ("s3://someone-elses-bucket/ps.txt", f"s3://{bucket}/uploads/absent.txt"):
            other = snapshot_body("unused")
            del other["output"]
            other["output_url"] = url
            response = client.post("/v1/snapshots", json=other)
            assert response.status_code == 422, response.text


def test_worker_refuses_a_foreign_bucket_even_if_a_message_names_one(
    database_url: str, tmp_path: Path, s3_settings: dict
) -> None:
    from datetime import UTC, datetime

    from dream.app import Dream
    from dream.snapshots import Snapshot

    dream = Dream(make_settings(database_url, tmp_path, s3_settings)).open()
    try:
        snapshot = Snapshot.model_construct(
            snapshot_id=uuid.uuid4(), host="h", os="linux", os_version=None, user="u",
            faculty="f", collected_at=datetime.now(UTC), received_at=datetime.now(UTC),
            command=None, output=None, raw=None, output_url="s3://attacker/x",
        )  # fmt: skip
        with pytest.raises(BlobRefused):
            dream.raw_outputs.resolve(snapshot)
        dream.db.insert_pending(snapshot)
        worker = dream.worker()
        worker.run_once()
        row = snapshot_row(database_url, str(snapshot.snapshot_id))
        assert row["status"] == "failed" and "outside the configured bucket" in row["error"]
    finally:
        dream.close()


def test_store_raw_false_keeps_no_raw_output(database_url: str, tmp_path: Path) -> None:
    output = ps_aux_output(10)
    body = snapshot_body(output)
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"},
                             store_raw=False)  # fmt: skip
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        assert settled(client, body["snapshot_id"])["process_count"] == 10
        row = snapshot_row(database_url, body["snapshot_id"])
        assert row["raw_output"] is None and row["raw_sha256"] is None
        assert client.get(f"/v1/snapshots/{body['snapshot_id']}/raw").status_code == 404
    assert not any(path.is_file() for path in (tmp_path / "blobs").rglob("*"))
    assert len(process_rows(database_url, body["snapshot_id"])) == 10


def test_rows_from_before_the_blob_store_still_serve_raw(database_url: str, tmp_path: Path) -> None:
    sid = new_id()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO snapshots (snapshot_id, host, os, user_name, faculty, collected_at,"
            " raw_output, status) VALUES (%s, 'h', 'linux', 'u', 'f', now(), 'old text', 'failed')",
            (sid,),
        )
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, _):
        assert client.get(f"/v1/snapshots/{sid}/raw").content == b"old text"
