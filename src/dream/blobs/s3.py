"""``S3BlobStore``: raw outputs in any S3-compatible bucket, through boto3 (imported on first
use, so the filesystem store needs none of it). Keys and metadata as store.py describes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from dream.blobs.store import (
    CHUNK,
    COMPRESSION,
    PACK_SUFFIX,
    TOUCH_AFTER,
    BlobError,
    BlobNotFound,
    BlobRefused,
    BlobStore,
    BlobUnavailable,
    StoredBlob,
    compress,
    single_sha256,
)


class S3BlobStore(BlobStore):
    """Objects in an S3-compatible bucket, under ``prefix``."""

    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "raw/",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region or "us-east-1",
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=30,
                    # Only what the api and worker need: no checksum trailers some S3-compatible
                    # servers do not understand.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        self.client = client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def split(self, url: str) -> tuple[str, str]:
        """(bucket, key) of an s3:// URL; refuses any bucket but this store's (no SSRF)."""
        parsed = urlparse(url)
        key = parsed.path.lstrip("/")
        if parsed.scheme != "s3" or not parsed.netloc or not key:
            raise BlobRefused(f"not an s3://bucket/key URL: {url}")
        if parsed.netloc != self.bucket:
            raise BlobRefused(
                f"{url} is outside the configured bucket {self.bucket!r}; Dream reads only there"
            )
        return parsed.netloc, key

    def _errors(self, exc: Exception, url: str) -> BlobError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return BlobNotFound(f"no object {url}")
            if code in ("403", "AccessDenied", "NoSuchBucket"):
                return BlobRefused(f"{url}: {code}")
        return BlobUnavailable(f"{url}: {exc}")

    def _put(self, sha256: str, data: bytes) -> str:
        key = self.prefix + self.key(sha256)
        url = self.url(key)
        try:
            head = self._head(key)
            if head is not None and datetime.now(UTC) - head["LastModified"] <= TOUCH_AFTER:
                return url
            # Absent, or old: (re)write it; an S3 PUT replaces atomically and refreshes its time.
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=compress(data),
                ContentType="application/octet-stream",
                ContentEncoding="zstd",  # a registered content coding (RFC 8878)
                Metadata={"sha256": sha256, "size": str(len(data)), "compression": COMPRESSION},
            )
        except BlobError:
            raise
        except Exception as exc:  # botocore raises many kinds
            raise self._errors(exc, url) from exc
        return url

    def _write(self, key: str, payload: bytes) -> str:
        url = self.url(self.prefix + key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=payload,
                                   ContentType="application/zstd")  # fmt: skip
        except Exception as exc:
            raise self._errors(exc, url) from exc
        return url

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def head(self, url: str) -> int:
        """The size of the object at ``url`` (in this bucket), or BlobNotFound."""
        _, key = self.split(url)
        try:
            head = self._head(key)
        except Exception as exc:
            raise self._errors(exc, url) from exc
        if head is None:
            raise BlobNotFound(f"no object {url}")
        return int(head["ContentLength"])

    def read_url(self, url: str, limit: int | None = None) -> bytes:
        """The bytes of any object of this bucket as stored (a collector's upload)."""
        _, key = self.split(url)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            data = body.read() if limit is None else body.read(limit + 1)
        except Exception as exc:
            raise self._errors(exc, url) from exc
        if limit is not None and len(data) > limit:
            raise BlobRefused(f"{url} is larger than {limit} bytes")
        return data

    def _chunks(self, url: str) -> Iterator[bytes]:
        _, key = self.split(url)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as exc:
            raise self._errors(exc, url) from exc

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            except Exception as exc:
                raise self._errors(exc, url) from exc
            finally:
                body.close()

        return chunks()

    def list(self) -> Iterator[StoredBlob]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "sha256/"):
                for obj in page.get("Contents", []):
                    sha = single_sha256(obj["Key"].rsplit("/", 1)[-1])  # .zst, or an older .gz
                    if sha is not None:
                        yield StoredBlob(sha, self.url(obj["Key"]), obj["LastModified"])
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "packs/"):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(PACK_SUFFIX):
                        yield StoredBlob("", self.url(obj["Key"]), obj["LastModified"])
        except BlobError:
            raise
        except Exception as exc:
            raise self._errors(exc, self.describe()) from exc

    def delete(self, url: str) -> None:
        _, key = self.split(url)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise self._errors(exc, url) from exc

    def modified(self, url: str) -> datetime | None:
        _, key = self.split(url)
        try:
            head = self._head(key)
        except Exception as exc:
            raise self._errors(exc, url) from exc
        return None if head is None else head["LastModified"]
