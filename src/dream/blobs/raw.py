"""Raw outputs between api, worker and blob store: the claim check.

Api (``offload``): the raw output is written to the blob store before the snapshot is published,
and only its reference (``Snapshot.raw``) travels, so no topic or pending row holds raw text.
Only with ``DREAM_PII_MODE=off`` do outputs up to ``DREAM_INLINE_MAX_BYTES`` travel inline (an
uploaded file whose bytes are not simply the UTF-8 text — UTF-16 from PowerShell,
Windows-1252 — still goes by reference, to be kept byte for byte). With ``DREAM_STORE_RAW=false``
the object only carries the output to the worker, which deletes it once stored (``release``).
A client's ``output_url`` is checked (configured bucket only, object present, size within
``DREAM_MAX_SNAPSHOT_BYTES``) and travels as is.

Worker (``process_all``): each snapshot's raw bytes are made durable in the blob store *before*
the database write (inline ones are put there, a client's upload is copied under its sha256,
offloaded ones are already there and are fetched for parsing), then parsed. A crash between the
blob write and the database commit leaves at most an unreferenced object, which ``dream gc``
removes once it is older than the retention; the database write itself stays idempotent on
``snapshot_id``. The text is dropped after parsing: the row keeps only the reference.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import structlog

from dream.blobs.store import (
    BlobCorrupt,
    BlobError,
    BlobNotFound,
    BlobRefused,
    BlobStore,
    BlobUnavailable,
    FilesystemBlobStore,
)
from dream.blobs.s3 import S3BlobStore
from dream.settings import Settings
from dream.snapshots import ProcessedSnapshot, RawRef, Snapshot
from dream.text import decode_output

log = structlog.get_logger(__name__)

ProcessFn = Callable[[Snapshot], ProcessedSnapshot]


class Progress(Protocol):
    """Where the blob store's outages are reported (the worker's health: dream.worker.health)."""

    def failing(self, component: str, error: str) -> None: ...
    def recovered(self, component: str) -> None: ...


def blob_dir(settings: Settings) -> Path:
    return settings.blob_dir or settings.data_dir / "blobs"


def store_from_settings(settings: Settings) -> BlobStore:
    """S3 when ``DREAM_S3_BUCKET`` is set, else the filesystem under ``data_dir/blobs``."""
    if settings.s3_bucket:
        return S3BlobStore(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=(
                settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
            ),
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value()
                if settings.s3_secret_access_key
                else None
            ),
        )
    return FilesystemBlobStore(blob_dir(settings))


class RawOutputs:
    """The raw-output policy of one deployment over its blob store."""

    def __init__(self, settings: Settings, store: BlobStore | None = None) -> None:
        self.settings = settings
        self.store = store or store_from_settings(settings)
        self.keep = settings.store_raw
        # Raw outputs name users: with PII scrubbing on, none travels in a Kafka message, a
        # dead letter or a pending row, whatever its size; the blob store is the one place raw
        # text stays (docs/security.md). Only with DREAM_PII_MODE=off may small ones go inline.
        self.by_reference = settings.pii_mode != "off"
        self.inline_max = -1 if self.by_reference else settings.inline_max_bytes
        self.max_bytes = settings.max_snapshot_bytes
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dream-blobs")
        self._fs_fallback: FilesystemBlobStore | None = None

    # Reading ----------------------------------------------------------------------------------

    def store_for(self, url: str) -> BlobStore:
        """The store holding ``url``: the configured one, or the local directory for file://
        references written before a move to S3."""
        if self.store.owns(url):
            return self.store
        if url.startswith("file://"):
            if self._fs_fallback is None:
                self._fs_fallback = FilesystemBlobStore(blob_dir(self.settings))
            return self._fs_fallback
        raise BlobRefused(f"{url} is not in the configured blob store ({self.store.describe()})")

    def get(self, ref: RawRef) -> bytes:
        return self.store_for(ref.url).get(ref)

    def stream(self, ref: RawRef):
        return self.store_for(ref.url).stream(ref)

    # Api side -----------------------------------------------------------------------------------

    @property
    def s3(self) -> S3BlobStore | None:
        return self.store if isinstance(self.store, S3BlobStore) else None

    def check_output_url(self, url: str) -> None:
        """A client's ``output_url`` is acceptable: configured bucket, present, not too large."""
        if self.s3 is None:
            raise BlobRefused("output_url needs Dream's S3 bucket (DREAM_S3_BUCKET) configured")
        size = self.s3.head(url)  # refuses other buckets before any request
        if size > self.max_bytes:
            raise BlobRefused(f"{url} is larger than the limit of {self.max_bytes} bytes")

    def offload(self, snapshot: Snapshot, original: bytes | None = None) -> Snapshot:
        """The snapshot as it should travel: every output by reference while PII scrubbing is
        on; with it off, only large (or non-UTF-8 uploaded) ones.

        ``original``: the bytes of an uploaded file, when the output came as one.
        """
        if snapshot.output is None or not (self.keep or self.by_reference):
            return snapshot
        data = original
        if data is None:
            if len(snapshot.output) * 4 <= self.inline_max:  # no need to encode to know
                return snapshot
            data = snapshot.output.encode("utf-8")
        if len(data) <= self.inline_max and (
            original is None or data == snapshot.output.encode("utf-8")
        ):
            return snapshot
        ref = self.store.put(data)
        return snapshot.model_copy(update={"output": None, "raw": ref})

    # Worker side --------------------------------------------------------------------------------

    def resolve(self, snapshot: Snapshot) -> tuple[Snapshot, RawRef | None]:
        """The snapshot with its output as text, and where its raw bytes now durably are.

        Raises BlobUnavailable (transient) or another BlobError (this snapshot cannot be had).
        """
        if snapshot.raw is not None:
            data = self.get(snapshot.raw)
            text = decode_output(data)
            return snapshot.model_copy(update={"output": text}), snapshot.raw if self.keep else None
        if snapshot.output_url is not None:
            if self.s3 is None:
                raise BlobRefused("output_url needs DREAM_S3_BUCKET configured on the worker")
            data = self.s3.read_url(snapshot.output_url, limit=self.max_bytes)
            ref = self.store.put(data) if self.keep else None
            return snapshot.model_copy(update={"output": decode_output(data)}), ref
        if snapshot.output is None:
            raise BlobError("the snapshot carries no raw output")
        ref = self.store.put(snapshot.output.encode("utf-8")) if self.keep else None
        return snapshot, ref

    def _resolve_retrying(
        self, snapshot: Snapshot, stopping: threading.Event, progress: Progress | None = None
    ) -> tuple[Snapshot, RawRef | None] | str | None:
        """resolve(), retried while the store is away (reported to ``progress``); a reason
        string if it cannot be had, None if asked to stop first."""
        delay = 0.2
        while True:
            try:
                resolved = self.resolve(snapshot)
                if progress is not None:
                    progress.recovered("blob store")
                return resolved
            except BlobUnavailable as exc:
                if progress is not None:
                    progress.failing("blob store", f"{self.store.describe()}: {exc}")
                log.warning("blob store unavailable; retrying", error=str(exc), retry_in_s=delay)
                if stopping.wait(delay):
                    return None
                delay = min(delay * 2, 10.0)
            except (BlobNotFound, BlobRefused, BlobCorrupt, BlobError) as exc:
                return f"raw output unavailable: {exc}"
            except Exception as exc:  # a bug must not lose the snapshot or stall the partition
                log.exception("raw output handling crashed", snapshot_id=str(snapshot.snapshot_id))
                return f"raw output unavailable: internal error: {exc!r}"

    def process_all(
        self,
        snapshots: Sequence[Snapshot],
        process: ProcessFn,
        stopping: threading.Event,
        progress: Progress | None = None,
    ) -> list[ProcessedSnapshot] | None:
        """Store (or fetch) each raw output, then parse; None if stopped while the store was
        away (the batch must then be abandoned, unacknowledged)."""
        if not snapshots:
            return []
        resolved = list(
            self._pool.map(lambda s: self._resolve_retrying(s, stopping, progress), snapshots)
        )
        out: list[ProcessedSnapshot] = []
        for snapshot, got in zip(snapshots, resolved, strict=True):
            if got is None:
                return None
            if isinstance(got, str):  # permanent: stored as failed, like a parse failure
                item = process(snapshot.model_copy(update={"output": ""}))
                item.status, item.error = "failed", got
                item.format, item.processes, item.warnings = None, [], []
                item.snapshot = item.snapshot.model_copy(update={"output": None, "raw": None})
                out.append(item)
                continue
            text_snapshot, ref = got
            item = process(text_snapshot)
            # The row keeps the reference only; the text is not needed any more.
            item.snapshot = item.snapshot.model_copy(
                update={"output": None, "raw": ref, "output_url": None}
            )
            out.append(item)
        return out

    def release(self, snapshots: Sequence[Snapshot], processed: Sequence[ProcessedSnapshot]) -> None:
        """With ``DREAM_STORE_RAW=false``, delete the objects that only carried outputs from the
        api to the worker, once their snapshots are stored (after the commit: a crash before it
        reads them again). Failed ones keep theirs for a replay of the dead letter; ``dream gc``
        removes those after the retention."""
        if self.keep:
            return
        stored = {p.snapshot.snapshot_id for p in processed if p.status == "stored"}
        for snapshot in snapshots:
            if snapshot.raw is None or snapshot.snapshot_id not in stored:
                continue
            try:
                self.store_for(snapshot.raw.url).delete(snapshot.raw.url)
            except BlobError as exc:  # left for `dream gc`; the snapshot is stored all the same
                log.warning("could not delete a raw output in transit", error=str(exc))

    def close(self) -> None:
        self._pool.shutdown(wait=False)
