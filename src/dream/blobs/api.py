"""HTTP side of raw outputs: ``GET /v1/snapshots/{id}/raw``, and the api's claim check.

``install(app, dream, dependencies=...)`` is the one line ``ingest/api.py`` needs: it adds the
route and the 503 for an unreachable blob store. The route serves personal data (raw listings
name users): **admin only** — ingest/api.py passes the admin dependency in ``dependencies``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from psycopg.rows import dict_row

from dream.blobs.raw import RawOutputs
from dream.blobs.store import BlobError, BlobNotFound, BlobUnavailable
from dream.snapshots import Snapshot
from dream.storage.database import Database, raw_ref_from_row
from dream.storage.errors import storage_errors
from dream.storage.queries import query

RAW_UPLOAD_STATE = "dream_raw_upload"  # request.state attribute: an uploaded file's bytes


class RawServices(Protocol):
    """What the route and the claim check use of the app (read when a request needs them: the
    app starts its database and blob store on first use)."""

    @property
    def db(self) -> Database: ...
    @property
    def raw_outputs(self) -> RawOutputs: ...


async def prepare_raw(dream: RawServices, snapshot: Snapshot, request: Request) -> Snapshot:
    """The snapshot as it is to travel: large outputs by reference (see blobs/raw.py).

    A client's ``output_url`` is checked here (422 if it cannot be used, 503 if the store is
    unreachable), so a 202 means the worker will find the object.
    """
    raw = dream.raw_outputs
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


def _raw_row(dream: RawServices, snapshot_id: uuid.UUID) -> dict[str, Any] | None:
    with storage_errors("could not read the snapshot"), dream.db.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        return cur.execute(query("get_snapshot_raw"), {"snapshot_id": snapshot_id}).fetchone()


def _raw_text(dream: RawServices, snapshot_id: uuid.UUID) -> str | None:
    with storage_errors("could not read the raw output"), dream.db.pool.connection() as conn:
        row = conn.execute(query("get_snapshot_raw_text"), {"snapshot_id": snapshot_id}).fetchone()
    return row[0] if row else None


def router_for(dream: RawServices) -> APIRouter:
    router = APIRouter()

    # ADMIN ONLY: raw outputs hold personal data. Included with the admin dependency by
    # ingest/api.py (install(..., dependencies=may_admin)).
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
        summary="The raw output of a snapshot, byte for byte (admin)",
    )
    async def get_raw(snapshot_id: uuid.UUID) -> Response:
        row = await anyio.to_thread.run_sync(_raw_row, dream, snapshot_id)
        if row is None:
            return JSONResponse({"detail": f"no snapshot {snapshot_id}"}, status_code=404)
        ref = raw_ref_from_row(row)
        headers = {"Content-Disposition": f'attachment; filename="{snapshot_id}.txt"'}
        if ref is not None:
            try:
                chunks = await anyio.to_thread.run_sync(dream.raw_outputs.stream, ref)
            except BlobNotFound:
                return JSONResponse(
                    {"detail": f"the raw output of {snapshot_id} is no longer stored"},
                    status_code=404,
                )
            headers.update({"Content-Length": str(ref.size), "X-Dream-Raw-Sha256": ref.sha256})
            return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
        if row["has_raw_text"]:  # a row from before the blob store, or pending in direct mode
            text = await anyio.to_thread.run_sync(_raw_text, dream, snapshot_id)
            if text is not None:
                return Response(text.encode("utf-8"), media_type="application/octet-stream",
                                headers=headers)  # fmt: skip
        return JSONResponse(
            {"detail": f"no raw output is kept for {snapshot_id} (not stored yet, removed by"
                       " retention, or DREAM_STORE_RAW=false)"},
            status_code=404,
        )  # fmt: skip

    return router


def install(app: FastAPI, dream: RawServices, *, dependencies: Sequence[Any] = ()) -> None:
    """Add the raw-output route (behind ``dependencies``: admin)."""

    app.include_router(router_for(dream), dependencies=list(dependencies))
