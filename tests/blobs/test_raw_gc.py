"""`dream gc`: raw objects past the retention go, recent ones (referenced or not) stay."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from dream.app import Dream
from dream.blobs.gc import collect_garbage
from dream.demo.listings import ps_aux_output
from helpers import snapshot_body
from helpers import direct_client
from raw_helpers import make_settings, put_gzip, settled, snapshot_row
from test_reprocess import invoke


def _post(client, output: str) -> str:
    body = snapshot_body(output)
    assert client.post("/v1/snapshots", json=body).status_code == 202
    settled(client, body["snapshot_id"])
    return body["snapshot_id"]


def _age_snapshot(url: str, snapshot_id: str, days: float) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE snapshots SET received_at = now() - make_interval(secs => %s)"
            " WHERE snapshot_id = %s", (days * 86400, snapshot_id),
        )  # fmt: skip


def _collect_ten_days_on(dream: Dream):
    """gc with a 7-day retention as it will run 10 days from now (S3 objects cannot be
    back-dated)."""
    return collect_garbage(dream.db, dream.raw_outputs, 7, now=datetime.now(UTC) + timedelta(days=10))


def test_gc_removes_old_objects_and_leaves_recent_ones(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"},
                             raw_retention_days=7)  # fmt: skip
    with direct_client(settings) as (client, dream):
        old_id = _post(client, ps_aux_output(5, seed=1))
        recent_id = _post(client, ps_aux_output(5, seed=2))
        store = dream.raw_outputs.store
        orphan_old = store.put(b"stored by a worker that crashed before its commit, long ago")
        orphan_new = store.put(b"stored by a worker right now; its commit is on the way")
    _age_snapshot(database_url, old_id, 30)
    month_ago = time.time() - 30 * 86400
    for sid in (old_id,):
        path = Path(snapshot_row(database_url, sid)["raw_url"].removeprefix("file://"))
        os.utime(path, (month_ago, month_ago))
    os.utime(orphan_old.url.removeprefix("file://"), (month_ago, month_ago))
    old_object = snapshot_row(database_url, old_id)["raw_url"]

    result = invoke(settings, "gc")
    assert result.exit_code == 0, result.output
    assert '"objects_deleted": 2' in result.stdout

    remaining = {o.url for o in Dream(settings).raw_outputs.store.list()}
    assert old_object not in remaining and orphan_old.url not in remaining
    assert snapshot_row(database_url, recent_id)["raw_url"] in remaining
    assert orphan_new.url in remaining
    old_row = snapshot_row(database_url, old_id)
    assert old_row["raw_sha256"] is None and old_row["status"] == "stored"  # parsed rows stay

    with direct_client(settings) as (client, _):
        assert client.get(f"/v1/snapshots/{old_id}/raw").status_code == 404
        assert client.get(f"/v1/snapshots/{recent_id}/raw").status_code == 200


def test_gc_keeps_an_object_a_recent_snapshot_still_shares(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    """Same bytes twice: one object. The old snapshot's reference goes, the object stays."""
    settings = make_settings(database_url, tmp_path, store_settings)
    output = ps_aux_output(5, seed=3)
    with direct_client(settings) as (client, dream):
        old_id = _post(client, output)
        new_id = _post(client, output)
        lonely_id = _post(client, ps_aux_output(5, seed=4))
        _age_snapshot(database_url, old_id, 30)
        _age_snapshot(database_url, lonely_id, 30)
        # Objects cannot be back-dated in S3: look at the store from 10 days on instead, with
        # the shared object's newer snapshot still inside the retention.
        _age_snapshot(database_url, new_id, -9)
        result = _collect_ten_days_on(dream)
        assert result.objects_deleted == 1 and result.references_forgotten == 2
        assert client.get(f"/v1/snapshots/{new_id}/raw").content == output.encode()
        assert client.get(f"/v1/snapshots/{old_id}/raw").status_code == 404
        assert client.get(f"/v1/snapshots/{lonely_id}/raw").status_code == 404


def test_gc_needs_a_retention(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    result = invoke(settings, "gc")
    assert result.exit_code == 2 and "DREAM_RAW_RETENTION_DAYS" in result.output


def test_gc_collects_objects_written_as_gzip_before_zstd(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    settings = make_settings(database_url, tmp_path, store_settings)
    output = ps_aux_output(5, seed=5)
    with direct_client(settings) as (client, dream):
        snapshot_id = _post(client, output)
        store = dream.raw_outputs.store
        new_object = snapshot_row(database_url, snapshot_id)["raw_url"]
        old = put_gzip(store, output.encode())  # the snapshot as stored before zstd
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE snapshots SET raw_compression = 'gzip', raw_url = %s"
                         " WHERE snapshot_id = %s", (old.url, snapshot_id))  # fmt: skip
        orphans = {put_gzip(store, b"orphan from before zstd").url, store.put(b"orphan now").url}
        _age_snapshot(database_url, snapshot_id, -9)  # still inside the retention 10 days on
        result = _collect_ten_days_on(dream)
        assert result.objects_deleted == 2 and result.objects_kept == 2
        assert {o.url for o in store.list()} == {old.url, new_object}
        assert not orphans & {o.url for o in store.list()}
        assert client.get(f"/v1/snapshots/{snapshot_id}/raw").content == output.encode()
