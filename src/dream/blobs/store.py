"""Blob stores for raw outputs: content-addressed (sha256 of the raw bytes), zstd-compressed.

An object's key is ``<prefix>sha256/<first two hex>/<sha256>.zst``: the same bytes posted twice
are stored once, a write is idempotent, and a write interrupted half-way never leaves a partial
object under that key (filesystem: write to a temporary file, then rename; S3: a single PUT).
Which snapshot an object belongs to is in the database (``snapshots.raw_sha256``, see migration
0004); the object itself carries its sha256, size and compression as metadata. Objects written
before zstd are gzip ones (``<sha256>.gz``, compression "gzip"): read, listed and collected as
ever, never written again. A put only looks for the ``.zst`` object, so bytes already stored as
``.gz`` get a ``.zst`` too (one stat or HEAD per put, not two): each reference names its own
object, and gc deletes either once no snapshot has that sha256 any more.

Two implementations: ``FilesystemBlobStore`` here (the embedded default, under
``data_dir/blobs``) and ``S3BlobStore`` in s3.py (any S3-compatible store, through boto3).
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from dream.durable import make_dirs, write_file
from dream.errors import DreamError, NotFoundError, StorageUnavailable
from dream.snapshots import RawRef

COMPRESSION: Literal["zstd"] = "zstd"
SUFFIX = ".zst"
GZIP_SUFFIX = ".gz"  # single objects written before zstd
PACK_COMPRESSION: Literal["zstd-pack"] = "zstd-pack"
PACK_SUFFIX = ".zst"
CHUNK = 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OBJECT_KEY = re.compile(r"sha256/[0-9a-f]{2}/[0-9a-f]{64}\.(?:zst|gz)")  # a single object's key
# A put of bytes already stored refreshes the object's time when it is older than this, so the
# garbage collector (which deletes unreferenced objects older than the retention) never deletes
# an object a new snapshot has just started to reference.
TOUCH_AFTER = timedelta(hours=1)


class BlobError(DreamError):
    """A raw output could not be stored or read."""


class BlobNotFound(BlobError, NotFoundError):
    """No object under that reference (removed by retention, or never stored)."""


class BlobUnavailable(BlobError, StorageUnavailable):
    """The blob store could not be reached (transient: retry)."""


class BlobCorrupt(BlobError):
    """The object's content does not hash to the sha256 it is stored under."""


class BlobRefused(BlobError):
    """A reference the store will not follow (another bucket, a malformed URL)."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """One object found by ``BlobStore.list``."""

    sha256: str
    url: str
    last_modified: datetime


def pack_member(chunks: Iterator[bytes], ref: RawRef) -> bytes:
    """The output ``ref`` names inside a pack object (its URL fragment is the offset)."""
    import zstandard

    try:
        offset = int(urlparse(ref.url).fragment)
        joined = zstandard.ZstdDecompressor().decompressobj().decompress(b"".join(chunks))
    except (ValueError, zstandard.ZstdError) as exc:
        raise BlobCorrupt(f"{ref.url}: not a readable pack member: {exc}") from exc
    member = joined[offset : offset + ref.size]
    if sha256_hex(member) != ref.sha256:
        raise BlobCorrupt(f"{ref.url} does not hash to {ref.sha256}")
    return member


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def single_sha256(name: str) -> str | None:
    """The sha256 a single object's file name (``<sha256>.zst`` or ``.gz``) stands for."""
    for suffix in (SUFFIX, GZIP_SUFFIX):
        if name.endswith(suffix) and SHA256.match(sha := name.removesuffix(suffix)):
            return sha
    return None


# The api compresses every posted output before its 202. On a 35 KB `ps aux` listing zstd level 1
# takes ~70-120 µs against gzip level 1's ~270-540 µs, and gives 8.9 KB against 10.5; levels 2
# and 3 are slower for the same size (9.1, 8.9 KB), and `dream pack-raw` replaces single objects
# with packs (packs.py) for the long term anyway.
COMPRESS_LEVEL = 1


def compress(data: bytes) -> bytes:
    """A single object's bytes: one zstd frame (the same bytes always give the same object)."""
    import zstandard  # a new compressor per call: an instance is not safe across threads

    return zstandard.ZstdCompressor(level=COMPRESS_LEVEL).compress(data)


def decompress_chunks(
    chunks: Iterator[bytes], compression: str, expected_sha256: str | None = None
) -> Iterator[bytes]:
    """Decompress a "zstd" or "gzip" stream chunk by chunk; checks the sha256 at the end when
    given. A truncated, damaged or replaced object raises BlobCorrupt."""
    import zstandard

    if compression == "zstd":
        inflater: Any = zstandard.ZstdDecompressor().decompressobj()
    elif compression == "gzip":
        inflater = zlib.decompressobj(wbits=31)
    else:
        raise BlobCorrupt(f"unknown compression {compression!r}")
    digest = hashlib.sha256()
    try:
        for chunk in chunks:
            out = inflater.decompress(chunk)
            if out:
                digest.update(out)
                yield out
        out = inflater.flush()
    except (zlib.error, zstandard.ZstdError) as exc:
        raise BlobCorrupt(f"damaged {compression} object: {exc}") from exc
    if out:
        digest.update(out)
        yield out
    if not inflater.eof:
        raise BlobCorrupt("truncated object")
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        raise BlobCorrupt(f"object does not hash to {expected_sha256}")


class BlobStore(ABC):
    """Where raw outputs are kept. Implementations are safe to use from several threads."""

    scheme: str

    def key(self, sha256: str) -> str:
        return f"sha256/{sha256[:2]}/{sha256}{SUFFIX}"

    def put(self, data: bytes) -> RawRef:
        """Store ``data`` (idempotent: content-addressed) and return its reference."""
        digest = sha256_hex(data)
        url = self._put(digest, data)
        return RawRef(sha256=digest, size=len(data), compression=COMPRESSION, url=url)

    def get(self, ref: RawRef) -> bytes:
        """The raw bytes of ``ref``, checked against its sha256."""
        return b"".join(self.stream(ref))

    def stream(self, ref: RawRef) -> Iterator[bytes]:
        """The raw bytes of ``ref`` in chunks (checked against its sha256 at the end)."""
        if ref.compression == "none":
            return self._chunks(ref.url)
        if ref.compression == PACK_COMPRESSION:
            return iter([pack_member(self._chunks(ref.url), ref)])
        return decompress_chunks(self._chunks(ref.url), ref.compression, ref.sha256)

    def put_pack(self, name: str, members: list[bytes]) -> list[RawRef]:
        """Store ``members`` as one pack object (``packs/<name>.zst``); a reference to each.

        Successive listings of one host are nearly identical, so one zstd frame over all of
        them takes a fraction of their separate objects (see dream/blobs/packs.py).
        """
        import zstandard

        joined = b"".join(members)
        url = self._write(f"packs/{name}{PACK_SUFFIX}", zstandard.ZstdCompressor(level=9).compress(joined))
        refs, offset = [], 0
        for member in members:
            refs.append(RawRef(sha256=sha256_hex(member), size=len(member),
                               compression=PACK_COMPRESSION, url=f"{url}#{offset}"))  # fmt: skip
            offset += len(member)
        return refs

    def owns(self, url: str) -> bool:
        """Whether ``url`` names an object of this store."""
        return url.startswith(f"{self.scheme}://")

    @abstractmethod
    def _put(self, sha256: str, data: bytes) -> str: ...

    @abstractmethod
    def _write(self, key: str, payload: bytes) -> str:
        """Write ``payload`` as the object ``key`` (relative to the store), atomically; its URL."""

    @abstractmethod
    def _chunks(self, url: str) -> Iterator[bytes]:
        """The stored (compressed) bytes of ``url``; raises BlobNotFound / BlobUnavailable."""

    @abstractmethod
    def list(self) -> Iterator[StoredBlob]:
        """Every object in the store: content-addressed ones, then packs (``sha256`` "")."""

    @abstractmethod
    def delete(self, url: str) -> None:
        """Remove an object (no error if it is already gone)."""

    @abstractmethod
    def modified(self, url: str) -> datetime | None:
        """When the object was last written (or refreshed); None if it is gone."""

    def describe(self) -> str:
        return self.scheme


class FilesystemBlobStore(BlobStore):
    """Objects as files under ``root`` (``root/sha256/ab/abcd....zst``, or ``.gz`` if older)."""

    scheme = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._uri = self.root.as_uri() + "/"  # as _write names objects

    def describe(self) -> str:
        return f"filesystem {self.root}"

    def _path(self, url: str) -> Path:
        # The worker fetches every listing: a URL this store wrote for a content-addressed
        # object names its file as is (the root was resolved once); any other is resolved and
        # checked to lie under the root (no `..`, no symbolic link out).
        if url.startswith(self._uri) and _OBJECT_KEY.fullmatch(url, len(self._uri)):
            return self.root / url[len(self._uri) :]
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise BlobRefused(f"not a file URL: {url}")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise BlobRefused(f"{url} lies outside the blob directory {self.root}")
        return path

    def _put(self, sha256: str, data: bytes) -> str:
        path = self.root / self.key(sha256)
        try:
            if path.exists():
                age = datetime.now(UTC) - datetime.fromtimestamp(path.stat().st_mtime, UTC)
                if age > TOUCH_AFTER:
                    os.utime(path)
                return path.as_uri()
        except OSError as exc:
            raise BlobUnavailable(f"could not write {path}: {exc}") from exc
        return self._write(self.key(sha256), compress(data))

    def _write(self, key: str, payload: bytes) -> str:
        path = self.root / key
        try:
            make_dirs(path.parent)
            # The api answers 202 once this returns: the object's name must outlive a power
            # cut too, not only its bytes.
            write_file(path, payload)
        except OSError as exc:
            raise BlobUnavailable(f"could not write {path}: {exc}") from exc
        return path.as_uri()

    def _chunks(self, url: str) -> Iterator[bytes]:
        path = self._path(url)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no raw object {url}") from None
        except OSError as exc:
            raise BlobUnavailable(f"could not read {path}: {exc}") from exc

        def chunks() -> Iterator[bytes]:
            with fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        return chunks()

    def list(self) -> Iterator[StoredBlob]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in base.glob("??/*"):
            sha = single_sha256(path.name)
            if sha is None:
                continue
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            yield StoredBlob(sha, path.as_uri(), datetime.fromtimestamp(mtime, UTC))
        for path in (self.root / "packs").glob(f"*/*{PACK_SUFFIX}"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            yield StoredBlob("", path.as_uri(), datetime.fromtimestamp(mtime, UTC))

    def delete(self, url: str) -> None:
        self._path(url).unlink(missing_ok=True)

    def modified(self, url: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self._path(url).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None
