"""The HTTP api: ``POST /v1/snapshots``, ``GET /v1/snapshots/{id}``, health and readiness."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import structlog
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from dream.analytics.api import analytics_router
from dream.analytics.export import export_router
from dream.analytics.queries import Analytics
from dream.app import Dream
from dream.dashboard import dashboard_router
from dream.ingest.clock import check_collected_at, observe_agent_clock
from dream.ingest.errors import (
    install_method_not_allowed,
    install_problems,
    install_validation_handler,
)
from dream.ingest.openapi import install_openapi
from dream.ingest.metrics import install_http_metrics
from dream.ingest.receipts import Receipts, RecentlyAccepted
from dream.ingest.schemas import (
    EXAMPLE_SNAPSHOT,
    READY_EXAMPLE,
    UNREADY_EXAMPLE,
    Accepted,
    Problem,
    ProcessRow,
    SnapshotProcesses,
    SnapshotState,
)
from dream.observability.metrics import SNAPSHOT_INGESTED_BYTES, SNAPSHOTS_INGESTED
from dream.security.api import keys_router
from dream.ingest.body import field_text, read_form, read_limited
from dream.blobs.api import RAW_UPLOAD_STATE, prepare_raw
from dream.blobs.api import install as install_raw
from dream.transport.base import Publisher
from dream.snapshots import Snapshot, SnapshotIn
from dream.worker.runner import Worker

log = structlog.get_logger(__name__)

# Client retries carrying the same Idempotency-Key map to the same snapshot id.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2c1e-8d3b-4c51-9a59-6d2f0d6c7e11")

def _validation_error(exc: ValidationError, location: str) -> RequestValidationError:
    errors = []
    for original in exc.errors(include_url=False):
        err: dict[str, Any] = dict(original)
        err["loc"] = (location, *err["loc"])
        err.pop("ctx", None)  # may hold exception objects, not JSON
        errors.append(err)
    return RequestValidationError(errors)


async def _snapshot_from_request(request: Request, limit: int, timeout_s: float) -> SnapshotIn:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request, limit, timeout_s)  # the whole body within limit
        fields: dict[str, Any] = {}
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    fields[key] = field_text(key, data)  # output: decode_output
                    if key == "output":  # the bytes as sent: what the blob store keeps
                        setattr(request.state, RAW_UPLOAD_STATE, data)
                else:
                    fields[key] = value
        finally:
            await form.close()
        try:
            return SnapshotIn.model_validate(fields)
        except ValidationError as exc:
            raise _validation_error(exc, "body") from None
    if content_type not in ("application/json", ""):
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("header", "content-type"),
                    "msg": "send application/json or multipart/form-data",
                    "input": content_type,
                }
            ]
        )
    body = await read_limited(request, limit, timeout_s)
    try:
        return SnapshotIn.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc, "body") from None


def create_app(dream: Dream, *, publisher: Publisher, worker: Worker | None = None) -> FastAPI:
    """The api over ``dream``; with ``worker``, also runs it in a thread (``dream serve``)."""
    settings = dream.settings
    recent = RecentlyAccepted()
    # Kafka mode: receipts in PostgreSQL let every replica answer `pending` (dream/ingest/receipts).
    receipts = Receipts(dream.db) if settings.transport == "kafka" else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        thread = None
        if receipts is not None:
            receipts.start()
        if worker is not None:
            thread = threading.Thread(target=worker.run, name="dream-worker", daemon=True)
            thread.start()
        try:
            yield
        finally:
            if worker is not None and thread is not None:
                worker.stop()
                publisher.close()  # wakes the direct source up
                thread.join(timeout=30)
            else:
                publisher.close()
            if receipts is not None:
                receipts.close()

    app = FastAPI(
        title="Dream",
        version="0.1.0",
        summary="Process listings from university machines, ready for research questions.",
        lifespan=lifespan,
    )
    install_http_metrics(app, enabled=settings.telemetry == "on")
    install_problems(app)  # DreamError -> status, body, Retry-After (ingest/errors.py)
    install_validation_handler(app)
    install_method_not_allowed(app)
    install_openapi(app, models=[SnapshotIn], problem=Problem)  # SnapshotIn: see openapi_extra
    auth = dream.authenticator()
    may_ingest = [Depends(auth.require("ingest"))]
    may_query = [Depends(auth.require("query"))]
    may_admin = [Depends(auth.require("admin"))]
    # A query by a real user name must find that user's pseudonymized rows.
    app.state.user_alias = dream.scrubber.user
    if settings.cors_origins:  # closed unless origins are listed
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )

    @app.post(
        "/v1/snapshots",
        dependencies=may_ingest,
        status_code=202,
        response_model=Accepted,
        responses={
            400: {"model": Problem, "description": "A multipart body with too many parts."},
            408: {"model": Problem, "description": "Body not received within DREAM_BODY_TIMEOUT_S."},
            413: {"model": Problem, "description": "Body larger than DREAM_MAX_SNAPSHOT_BYTES."},
            422: {"description": "A field is missing or invalid; the error names it."},
            503: {"model": Problem, "description": "Pipeline unavailable; retry after a while."},
        },
        summary="Submit a process listing",
        description=(
            "Accepts a snapshot as JSON, or as multipart form fields with the output as a file"
            " upload (field `output`). Answers 202 once the snapshot is durably in the"
            " pipeline. Posting the same `snapshot_id` (or `Idempotency-Key`) again is a no-op."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/SnapshotIn"},
                        "example": EXAMPLE_SNAPSHOT,
                    },
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["host", "os", "user", "faculty", "collected_at", "output"],
                            "properties": {
                                **{
                                    k: {"type": "string"}
                                    for k in (
                                        "host", "os", "os_version", "user", "faculty",
                                        "collected_at", "command", "snapshot_id",
                                    )
                                },  # fmt: skip
                                "output": {"type": "string", "format": "binary"},
                            },
                        },
                    },
                },
            }
        },
    )
    async def post_snapshot(
        request: Request,
        idempotency_key: str | None = Header(default=None, max_length=256),
    ) -> Accepted:
        # Refused before the body is read while the broker is known down or too many are in
        # flight (Publisher.admit): a fast 503, no pile-up, bounded memory.
        with publisher.admit():
            incoming = await _snapshot_from_request(
                request, settings.max_snapshot_bytes, settings.body_timeout_s
            )
            if incoming.snapshot_id is None and idempotency_key:
                incoming.snapshot_id = uuid.uuid5(_IDEMPOTENCY_NAMESPACE, idempotency_key)
            received_at = datetime.now(UTC)
            check_collected_at(incoming, dream.clock_window, received_at)  # else 422
            observe_agent_clock(request, incoming.host, received_at)
            snapshot = Snapshot.accept(incoming, received_at=received_at)
            snapshot = await prepare_raw(dream, snapshot, request)  # claim check (dream/blobs)
            snapshot = dream.scrubber.for_transport(snapshot)  # no clear user in the pipeline
            await publisher.publish(snapshot)
        SNAPSHOTS_INGESTED.labels(settings.transport).inc()
        SNAPSHOT_INGESTED_BYTES.inc(snapshot.output_bytes)
        recent.add(snapshot.snapshot_id)
        if receipts is not None:
            receipts.add(snapshot.snapshot_id, snapshot.received_at, snapshot.host)
        log.info(
            "snapshot accepted",
            snapshot_id=str(snapshot.snapshot_id),
            host=snapshot.host,
            bytes=snapshot.output_bytes,
        )
        return Accepted(snapshot_id=snapshot.snapshot_id)

    @app.get(
        "/v1/snapshots/{snapshot_id}",
        dependencies=may_query,
        response_model=SnapshotState,
        responses={404: {"model": Problem}},
        summary="A snapshot's status, process count and parse warnings or error",
    )
    async def get_snapshot(snapshot_id: uuid.UUID) -> Any:
        row = await anyio.to_thread.run_sync(dream.db.get_snapshot, snapshot_id)
        if row is None:
            if snapshot_id in recent or (
                receipts is not None
                and await anyio.to_thread.run_sync(receipts.known, snapshot_id)
            ):
                return SnapshotState(snapshot_id=snapshot_id, status="pending")
            return JSONResponse({"detail": f"no snapshot {snapshot_id}"}, status_code=404)
        row["user"] = row.pop("user_name")
        if isinstance(row.get("warnings"), str):
            row["warnings"] = json.loads(row["warnings"])
        return SnapshotState.model_validate(row)

    @app.get(
        "/v1/snapshots/{snapshot_id}/processes",
        dependencies=may_query,
        response_model=SnapshotProcesses,
        responses={404: {"model": Problem}},
        summary="The process rows stored for a snapshot",
    )
    async def get_snapshot_processes(
        snapshot_id: uuid.UUID,
        limit: int = Query(default=1000, ge=1, le=100_000, description="At most this many rows."),
    ) -> Any:
        rows = await anyio.to_thread.run_sync(dream.db.snapshot_processes, snapshot_id, limit + 1)
        if rows is None:
            return JSONResponse({"detail": f"no snapshot {snapshot_id}"}, status_code=404)
        return SnapshotProcesses(
            snapshot_id=snapshot_id,
            processes=[ProcessRow.model_validate(r) for r in rows[:limit]],
            truncated=len(rows) > limit,
        )

    @app.get(
        "/healthz",
        summary="Liveness: the process is up",
        response_model=dict[str, str],
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: database and pipeline reachable (and, in `dream serve`, the worker making progress)",
        responses={
            200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
            503: {
                "description": "A dependency is down; the body says which.",
                "content": {"application/json": {"example": UNREADY_EXAMPLE}},
            },
        },
    )
    async def readyz() -> JSONResponse:
        db_ok = await anyio.to_thread.run_sync(dream.db.ping)
        transport_ok, transport_detail = await anyio.to_thread.run_sync(publisher.ready)
        checks: dict[str, Any] = {
            "database": {"ok": db_ok},
            "pipeline": {"ok": transport_ok, "transport": settings.transport,
                         "detail": transport_detail},
        }  # fmt: skip
        if worker is not None:  # `dream serve`: accepted snapshots are stored only if it moves
            checks["worker"] = worker.progress.check().as_dict()
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    def analytics() -> Analytics:  # the analytics pool; settings bound the raw fallback
        return Analytics.of(dream.analytics_db.pool, dream.settings.raw_window_max_days)

    app.include_router(analytics_router(analytics), dependencies=may_query)
    app.include_router(export_router(analytics), dependencies=may_query)  # /v1/export
    app.include_router(dashboard_router())  # `/`: the page loads keyless; its data calls carry the key
    app.include_router(keys_router(dream.keys), dependencies=may_admin)
    install_raw(app, dream, dependencies=may_admin)  # GET /v1/snapshots/{id}/raw: admin only
    return app
