"""Raw outputs over HTTP: ``GET /v1/snapshots/{id}/raw``, and the claim check of a post.

The route serves personal data (raw listings name users): **steward or admin only** — web/app.py
includes it behind the steward dependency.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse

from dream.blobs.raw import RawOutputs
from dream.blobs.store import BlobError, BlobNotFound, BlobUnavailable
from dream.errors import NotFoundError
from dream.snapshots import Snapshot
from dream.storage.database import Database, raw_ref_from_row

RAW_UPLOAD_STATE = "dream_raw_upload"  # request.state attribute: an uploaded file's bytes

RawProvider = Callable[[], RawOutputs]
"""The raw outputs, asked for when a request needs them (the blob store is set up on first use)."""


async def prepare_raw(raw_outputs: RawProvider, snapshot: Snapshot, request: Request) -> Snapshot:
    """The snapshot as it is to travel: large outputs by reference (see blobs/raw.py).

    A client's ``output_url`` is checked here (422 if it cannot be used, 503 if the store is
    unreachable), so a 202 means the worker will find the object.
    """
    raw = raw_outputs()
    if snapshot.output_url is not None:
        try:
            await anyio.to_thread.run_sync(raw.check_output_url, snapshot.output_url)
        except BlobUnavailable:
            raise
        except BlobError as exc:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body", "output_url"), "msg": str(exc),
                  "input": snapshot.output_url}]
            ) from None  # fmt: skip
        return snapshot
    original = getattr(request.state, RAW_UPLOAD_STATE, None)
    return await anyio.to_thread.run_sync(raw.offload, snapshot, original)


def raw_router(db: Database, raw_outputs: RawProvider) -> APIRouter:
    """The raw-output route; STEWARD OR ADMIN ONLY: the caller includes it behind that role."""
    router = APIRouter()

    @router.get(
        "/v1/snapshots/{snapshot_id}/raw",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"application/octet-stream": {"example": "USER  PID %CPU ..."}},
                "description": "The raw output, byte for byte as received (header"
                " X-Dream-Raw-Sha256: its sha256).",
            },
            404: {"description": "No such snapshot, or no raw output kept for it."},
        },
        summary="The raw output of a snapshot, byte for byte (steward)",
    )
    async def get_raw(snapshot_id: uuid.UUID) -> Response:
        row = await anyio.to_thread.run_sync(db.snapshot_raw, snapshot_id)
        if row is None:
            raise NotFoundError(f"no snapshot {snapshot_id}")
        ref = raw_ref_from_row(row)
        headers = {"Content-Disposition": f'attachment; filename="{snapshot_id}.txt"'}
        if ref is not None:
            try:
                chunks = await anyio.to_thread.run_sync(raw_outputs().stream, ref)
            except BlobNotFound:
                raise NotFoundError(f"the raw output of {snapshot_id} is no longer stored") from None
            headers.update({"Content-Length": str(ref.size), "X-Dream-Raw-Sha256": ref.sha256})
            return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
        if row["has_raw_text"]:  # a row from before the blob store, or pending in direct mode
            text = await anyio.to_thread.run_sync(db.snapshot_raw_text, snapshot_id)
            if text is not None:
                return Response(text.encode("utf-8"), media_type="application/octet-stream",
                                headers=headers)  # fmt: skip
        raise NotFoundError(f"no raw output is kept for {snapshot_id} (not stored yet, removed by"
                            " retention, or DREAM_STORE_RAW=false)")  # fmt: skip

    return router
