"""`dream pack-raw`: a host's outputs of one hour become one object; every snapshot still reads
back its own bytes, in the filesystem and the S3 store alike; gc keeps a pack while any snapshot
points into it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import psycopg
from typer.testing import CliRunner

from dream.app import Dream
from dream.blobs.gc import collect_garbage
from dream.blobs.packs import pack_raw_outputs
from dream.blobs.store import BlobCorrupt
from dream.demo.listings import ps_aux_series
from dream.storage.database import raw_ref_from_row
from helpers import direct_client, snapshot_body
from raw_helpers import make_settings, put_gzip, settings_env, settled, snapshot_row

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)


def _post_series(client, host: str, times: list[datetime], seed: int) -> dict[str, str]:
    """Each listing of ``host`` posted; snapshot id → the exact output."""
    posted = {}
    for at, output in zip(times, ps_aux_series(30, times, seed=seed), strict=True):
        body = snapshot_body(output, host=host, collected_at=at.isoformat())
        assert client.post("/v1/snapshots", json=body).status_code == 202
        posted[body["snapshot_id"]] = output
    for snapshot_id in posted:
        settled(client, snapshot_id)
    return posted


def _objects(dream: Dream) -> tuple[set[str], set[str]]:
    """(single objects, packs) in the store."""
    found = list(dream.raw_outputs.store.list())
    return {o.url for o in found if o.sha256}, {o.url for o in found if not o.sha256}


def test_each_host_hour_becomes_one_pack_and_every_output_reads_back(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    settings = make_settings(database_url, tmp_path, store_settings)
    minutes = [HOUR + timedelta(minutes=m) for m in (1, 11, 21, 61, 71)]  # two hours
    with direct_client(settings) as (client, dream):
        posted = _post_series(client, "lab-a", minutes, seed=1)
        posted |= _post_series(client, "lab-b", minutes[:1], seed=2)  # alone in its hour
        singles_before, _ = _objects(dream)
        assert len(singles_before) == 6

        result = pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(hours=1),
                                  grace=timedelta(0))  # fmt: skip
        assert (result.packs_written, result.outputs_packed) == (2, 5)
        singles, packs = _objects(dream)
        assert len(packs) == 2
        assert len(singles) == 1 and result.singles_deleted == 5  # lab-b's one output stays

        for snapshot_id, output in posted.items():
            row = snapshot_row(database_url, snapshot_id)
            ref = raw_ref_from_row(row)
            assert ref is not None
            assert dream.raw_outputs.get(ref).decode() == output
            assert row["raw_compression"] == ("zstd" if row["host"] == "lab-b" else "zstd-pack")
            assert client.get(f"/v1/snapshots/{snapshot_id}/raw").text == output

        again = pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(hours=1),
                                 grace=timedelta(0))  # fmt: skip
        assert again.packs_written == 0 and _objects(dream) == (singles, packs)


def test_single_objects_of_either_compression_are_packed(
    database_url: str, tmp_path: Path, store_settings: dict
) -> None:
    settings = make_settings(database_url, tmp_path, store_settings)
    with direct_client(settings) as (client, dream):
        posted = _post_series(client, "lab-f", [HOUR + timedelta(minutes=m) for m in (7, 17, 27)], 6)
        old_id = next(iter(posted))
        store = dream.raw_outputs.store
        store.delete(snapshot_row(database_url, old_id)["raw_url"])
        old = put_gzip(store, posted[old_id].encode())  # this one as stored before zstd
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE snapshots SET raw_compression = 'gzip', raw_url = %s"
                         " WHERE snapshot_id = %s", (old.url, old_id))  # fmt: skip
            (index,) = conn.execute("SELECT indexdef FROM pg_indexes"
                                    " WHERE indexname = 'snapshots_unpacked_idx'").fetchone()  # fmt: skip
        assert "'gzip'" in index and "'zstd'" in index  # migration 0029
        result = pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(hours=1),
                                  grace=timedelta(0))  # fmt: skip
        assert (result.packs_written, result.outputs_packed, result.singles_deleted) == (1, 3, 3)
        assert _objects(dream)[0] == set()
        for snapshot_id, output in posted.items():
            assert snapshot_row(database_url, snapshot_id)["raw_compression"] == "zstd-pack"
            assert client.get(f"/v1/snapshots/{snapshot_id}/raw").text == output


def test_the_cli_packs_but_keeps_young_single_objects(database_url: str, tmp_path: Path) -> None:
    """An api may just have stored identical bytes for a snapshot still on its way: a single
    object younger than the grace stays until a later run."""
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, dream):
        posted = _post_series(client, "lab-c", [HOUR + timedelta(minutes=m) for m in (5, 35)], 3)
        from dream.cli import app

        with mock.patch("dream.cli.wiring.configure_logging"):
            run = CliRunner().invoke(app, ["pack-raw", "--older-than", "1"],
                                     env=settings_env(settings))  # fmt: skip
        assert run.exit_code == 0, run.output
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["outputs_packed"] == 2 and result["singles_kept"] == 2
        singles, packs = _objects(dream)
        assert len(singles) == 2 and len(packs) == 1
        for snapshot_id, output in posted.items():
            assert client.get(f"/v1/snapshots/{snapshot_id}/raw").text == output


def test_gc_keeps_a_pack_while_a_snapshot_points_into_it(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, dream):
        posted = _post_series(client, "lab-d", [HOUR + timedelta(minutes=m) for m in (2, 4)], 4)
        pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(hours=1),
                         grace=timedelta(0))  # fmt: skip
        (pack,) = _objects(dream)[1]
        month_ago = (datetime.now(UTC) - timedelta(days=30)).timestamp()
        os.utime(Path(pack.removeprefix("file://")), (month_ago, month_ago))
        first, second = posted
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE snapshots SET received_at = now() - interval '30 days'"
                         " WHERE snapshot_id = %s", (first,))  # fmt: skip
        kept = collect_garbage(dream.db, dream.raw_outputs, 20)
        assert kept.references_forgotten == 1 and pack in _objects(dream)[1]
        assert client.get(f"/v1/snapshots/{second}/raw").text == posted[second]

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE snapshots SET received_at = now() - interval '30 days'")
        gone = collect_garbage(dream.db, dream.raw_outputs, 20)
        assert gone.objects_deleted == 1 and _objects(dream) == (set(), set())


def test_a_damaged_pack_is_reported_not_misread(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    with direct_client(settings) as (client, dream):
        posted = _post_series(client, "lab-e", [HOUR + timedelta(minutes=m) for m in (3, 6)], 5)
        pack_raw_outputs(dream.db, dream.raw_outputs, older_than=timedelta(hours=1),
                         grace=timedelta(0))  # fmt: skip
        ref = raw_ref_from_row(snapshot_row(database_url, next(iter(posted))))
        assert ref is not None
        wrong = ref.model_copy(update={"url": ref.url.rsplit("#", 1)[0] + "#7"})
        try:
            dream.raw_outputs.get(wrong)
        except BlobCorrupt as exc:
            assert "does not hash" in str(exc)
        else:
            raise AssertionError("a member read at the wrong offset was returned")
