"""The blob stores themselves, filesystem and S3 (against S3Proxy), through one interface."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

from dream.blobs.raw import store_from_settings
from dream.blobs.store import BlobCorrupt, BlobNotFound, BlobRefused, BlobStore, FilesystemBlobStore
from dream.settings import Settings
from raw_helpers import sha


@pytest.fixture
def store(store_settings: dict, tmp_path: Path) -> BlobStore:
    return store_from_settings(Settings(data_dir=tmp_path, **store_settings))


def test_put_is_content_addressed_compressed_and_idempotent(store: BlobStore) -> None:
    data = ("line with ünïcode\n" * 5000).encode()
    ref = store.put(data)
    assert ref.sha256 == sha(data) and ref.size == len(data) and ref.compression == "gzip"
    assert ref.url.startswith(f"{store.scheme}://") and ref.url.endswith(f"{ref.sha256}.gz")
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


def test_content_not_matching_its_hash_is_refused(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    ref = store.put(b"the real bytes")
    Path(ref.url.removeprefix("file://")).write_bytes(gzip.compress(b"tampered"))
    with pytest.raises(BlobCorrupt):
        store.get(ref)


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
