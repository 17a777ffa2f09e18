"""The blob stores themselves, filesystem and S3 (against S3Proxy), through one interface."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

import zstandard

from dream.blobs.raw import store_from_settings
from dream.blobs.s3 import S3BlobStore
from dream.blobs.store import BlobCorrupt, BlobNotFound, BlobRefused, BlobStore, FilesystemBlobStore
from dream.settings import Settings
from dream.snapshots import RawRef
from raw_helpers import put_gzip, sha


@pytest.fixture
def store(store_settings: dict, tmp_path: Path) -> BlobStore:
    return store_from_settings(Settings(data_dir=tmp_path, **store_settings))


def test_put_is_content_addressed_compressed_and_idempotent(store: BlobStore) -> None:
    data = ("line with ünïcode\n" * 5000).encode()
    ref = store.put(data)
    assert ref.sha256 == sha(data) and ref.size == len(data) and ref.compression == "zstd"
    assert ref.url.startswith(f"{store.scheme}://") and ref.url.endswith(f"{ref.sha256}.zst")
    assert store.get(ref) == data
    assert b"".join(store.stream(ref)) == data
    again = store.put(data)  # same bytes: same object, nothing new
    assert again == ref
    assert [o.sha256 for o in store.list()] == [ref.sha256]
    other = store.put(b"other bytes")
    assert sorted(o.sha256 for o in store.list()) == sorted([ref.sha256, other.sha256])
    modified = store.modified(ref.url)
    assert modified is not None and abs(modified.timestamp() - time.time()) < 300


def test_missing_and_deleted_objects_are_not_found(store: BlobStore) -> None:
    ref = store.put(b"short-lived")
    store.delete(ref.url)
    store.delete(ref.url)  # already gone: no error
    with pytest.raises(BlobNotFound):
        store.get(ref)
    assert store.modified(ref.url) is None
    assert list(store.list()) == []


def test_empty_output_round_trips(store: BlobStore) -> None:
    ref = store.put(b"")
    assert ref.size == 0 and store.get(ref) == b""


def test_objects_written_as_gzip_before_zstd_still_read_and_list(store: BlobStore) -> None:
    data = ("an output stored before zstd\n" * 3000).encode()
    old = put_gzip(store, data)
    assert old.url.endswith(f"{old.sha256}.gz")
    assert store.get(old) == data and b"".join(store.stream(old)) == data
    new = store.put(data)  # the same bytes again: a zstd object of its own beside the old one
    assert new.compression == "zstd" and new.url != old.url and store.get(new) == data
    other = put_gzip(store, b"another old output")
    assert sorted((o.sha256, o.url) for o in store.list()) == sorted(
        [(old.sha256, old.url), (new.sha256, new.url), (other.sha256, other.url)]
    )  # gc sees both kinds
    store.delete(old.url)
    assert store.modified(old.url) is None and store.get(new) == data


def _compressed(compression: str, data: bytes) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    return zstandard.ZstdCompressor(level=1).compress(data)


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c, payload: _compressed(c, b"replaced by other bytes"), "does not hash"),
        (lambda c, payload: payload[: len(payload) // 2], "truncated"),
        (lambda c, payload: payload[:12] + b"\xff" * 64 + payload[76:], "damaged"),
    ],
    ids=["replaced", "truncated", "damaged"],
)
def test_a_replaced_truncated_or_damaged_object_is_refused(
    store: BlobStore, compression: str, damage, message: str
) -> None:
    data = ("USER  PID %CPU COMMAND\nroot  1  0.0  init\n" * 400).encode()
    ref = store.put(data) if compression == "zstd" else put_gzip(store, data)
    assert ref.compression == compression
    name = ref.url.rsplit("/", 1)[1]  # <sha256>.zst or .gz
    store._write(f"sha256/{name[:2]}/{name}", damage(compression, _compressed(compression, data)))
    with pytest.raises(BlobCorrupt, match=message):
        store.get(ref)


def test_an_unknown_compression_is_refused(store: BlobStore) -> None:
    ref = store.put(b"bytes")
    with pytest.raises(BlobCorrupt, match="unknown compression"):
        store.get(RawRef.model_construct(**{**ref.model_dump(), "compression": "lz4"}))


def test_s3_objects_say_their_content_coding(s3_settings: dict, tmp_path: Path) -> None:
    store = store_from_settings(Settings(data_dir=tmp_path, **s3_settings))
    assert isinstance(store, S3BlobStore)
    ref = store.put(b"USER PID COMMAND\n")
    head = store.client.head_object(Bucket=store.bucket, Key=store.split(ref.url)[1])
    assert head["ContentEncoding"] == "zstd" and head["Metadata"]["compression"] == "zstd"


def test_filesystem_store_refuses_paths_outside_its_directory(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    outside = tmp_path / "secret.txt"
    outside.write_text("not a blob")
    with pytest.raises(BlobRefused):
        list(store._chunks(outside.as_uri()))
    with pytest.raises(BlobRefused):
        store.delete((tmp_path / "blobs" / ".." / "secret.txt").as_uri())
    assert outside.exists()


def test_filesystem_put_of_known_bytes_refreshes_an_old_object(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    ref = store.put(b"seen before")
    path = Path(ref.url.removeprefix("file://"))
    old = time.time() - 30 * 86400
    os.utime(path, (old, old))
    store.put(b"seen before")  # a new snapshot references it: gc must see it as young
    assert path.stat().st_mtime > old + 29 * 86400


def test_s3_store_reads_only_its_own_bucket(s3_settings: dict, tmp_path: Path) -> None:
    store = store_from_settings(Settings(data_dir=tmp_path, **s3_settings))
    bucket = s3_settings["s3_bucket"]
    for url in ("s3://another-bucket/uploads/x.txt", "s3:///no-bucket", "http://169.254.169.254/",
                f"s3://{bucket}.evil/key", "s3://another-bucket/../" + bucket + "/k"):
        with pytest.raises(BlobRefused):
            store.read_url(url)
    with pytest.raises(BlobNotFound):
        store.read_url(f"s3://{bucket}/uploads/absent.txt")
