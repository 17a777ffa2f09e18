"""The snapshot routes: ``POST /v1/snapshots`` (a listing into the pipeline) and what became of
a snapshot (``GET /v1/snapshots/{id}``, its processes)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import structlog
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from dream.analytics.questions.base import Disclosure
from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.security.optout import OptOuts
from dream.security.pii import Scrubber
from dream.errors import NotFoundError
from dream.snapshots import ClockWindow, Snapshot, SnapshotIn
from dream.storage.database import Database
from dream.storage.fleet import Heard
from dream.storage.directory import FacultyNames, UnknownFaculty
from dream.transport.base import Publisher
from dream.web.privacy import opted_out, was_erased
from dream.web.body import InFlightBytes, Take, field_text, read_form, read_limited
from dream.web.clock import check_collected_at, observe_agent_clock
from dream.web.raw import RAW_UPLOAD_STATE, RawProvider, prepare_raw
from dream.web.fleet import FleetRecorder, agent_of
from dream.web.receipts import Receipts, RecentlyAccepted
from dream.web.schemas import (
    EXAMPLE_SNAPSHOT,
    Accepted,
    Problem,
    ProcessRow,
    SnapshotProcesses,
    SnapshotState,
)

log = structlog.get_logger(__name__)

# Client retries carrying the same Idempotency-Key map to the same snapshot id.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2c1e-8d3b-4c51-9a59-6d2f0d6c7e11")


@dataclass(frozen=True)
class Intake:
    """What a post is held to (from the settings): body size and time, the clock window; the
    transport's name and the sensor each accepted snapshot is reported to."""

    max_bytes: int
    body_timeout_s: float
    clock_window: ClockWindow
    transport: str
    sensor: Sensor = NULL_SENSOR
    bodies: InFlightBytes = field(default_factory=lambda: InFlightBytes(2**62))  # all posts'


def _validation_error(exc: ValidationError, location: str) -> RequestValidationError:
    errors = []
    for original in exc.errors(include_url=False):
        err: dict[str, Any] = dict(original)
        err["loc"] = (location, *err["loc"])
        err.pop("ctx", None)  # may hold exception objects, not JSON
        errors.append(err)
    return RequestValidationError(errors)


async def _snapshot_from_request(
    request: Request, limit: int, timeout_s: float, take: Take
) -> SnapshotIn:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request, limit, timeout_s, take)  # the whole body within limit
        fields: dict[str, Any] = {}
        try:
            for key, value in form.multi_items():
                if key in fields:  # which would count: the one checked or the one stored?
                    raise RequestValidationError(
                        [{"type": "value_error", "loc": ("body", key),
                          "msg": f"`{key}` is given more than once", "input": None}]
                    )  # fmt: skip
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
    body = await read_limited(request, limit, timeout_s, take)
    try:
        return SnapshotIn.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc, "body") from None


Admit = Callable[[Request], Awaitable[object]]
"""Who may post: raises 401/403/429 (``Authenticator.require("ingest")``)."""

IDEMPOTENCY_KEY_MAX = 256


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, held to what OpenAPI documents (422 naming it)."""
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError([{
            "type": "string_too_long", "loc": ("header", "idempotency-key"),
            "msg": f"String should have at most {IDEMPOTENCY_KEY_MAX} characters", "input": key,
        }])  # fmt: skip
    return key


def _accepted(answer: Accepted) -> Response:
    """The 202 as the documented response model says (``reason`` only when dropped)."""
    return Response(answer.model_dump_json(exclude_none=True), status_code=202,
                    media_type="application/json")  # fmt: skip


def plain_route(handler: Callable[[Request], Awaitable[Response]]) -> type[APIRoute]:
    """An APIRoute class answering with ``handler`` alone: FastAPI documents the route from its
    declaration (parameters, responses, openapi_extra) but solves no dependency and checks no
    response model per request. The busiest route (every listing of every host) is worth it:
    the handler validates the body once and checks what its declaration documents."""

    class PlainRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            if self.dependencies:  # they would be documented, yet never run
                raise TypeError(f"{self.path}: a plain route runs no dependencies")
            return handler  # type: ignore[return-value]

    return PlainRoute


async def _managed_faculty(faculties: FacultyNames, snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with the faculty its name means; 422 for one the managed list refuses."""
    if not faculties.loaded:
        await anyio.to_thread.run_sync(faculties.load)
    try:
        faculty = faculties.resolve(snapshot.faculty)
    except UnknownFaculty as exc:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "faculty"),
                                       "msg": str(exc), "input": exc.value}]) from None  # fmt: skip
    return snapshot if faculty == snapshot.faculty else snapshot.model_copy(
        update={"faculty": faculty})  # fmt: skip


def snapshots_router(
    publisher: Publisher,
    db: Database,
    raw_outputs: RawProvider,
    scrubber: Scrubber,
    intake: Intake,
    *,
    receipts: Receipts | None,
    fleet: FleetRecorder | None = None,
    ingest: Admit | None = None,
    query: Sequence[Depends] = (),
    rows: Sequence[Depends] = (),
    optouts: OptOuts | None = None,
    faculties: FacultyNames | None = None,
) -> APIRouter:
    """The snapshot routes: posts publish through ``publisher`` (admitted by ``ingest``), reads
    come from ``db`` (a status behind ``query``, process rows behind ``rows``: `steward`);
    ``receipts`` (Kafka) let any replica answer ``pending``."""
    router = APIRouter()
    recent = RecentlyAccepted()

    async def handle_post(request: Request) -> Response:
        if ingest is not None:
            await ingest(request)  # 401/403/429 before anything else, as a dependency would
        idempotency_key = _idempotency_key(request)
        # Refused before the body is read while the broker is known down or too many are in
        # flight (Publisher.admit): a fast 503, no pile-up; and while it streams once the
        # bodies held pass DREAM_MAX_IN_FLIGHT_BYTES: memory bounded by bytes.
        with publisher.admit(), intake.bodies.post() as take:
            incoming = await _snapshot_from_request(
                request, intake.max_bytes, intake.body_timeout_s, take
            )
            if incoming.snapshot_id is None and idempotency_key:
                incoming.snapshot_id = uuid.uuid5(_IDEMPOTENCY_NAMESPACE, idempotency_key)
            received_at = datetime.now(UTC)
            check_collected_at(incoming, intake.clock_window, received_at)  # else 422
            skew = observe_agent_clock(request, incoming.host, received_at, intake.sensor)
            snapshot = Snapshot.accept(incoming, received_at=received_at)
            if faculties is not None:  # the managed list: an alias stored as its faculty
                snapshot = await _managed_faculty(faculties, snapshot)
            if optouts is not None and (why := await opted_out(optouts, scrubber, snapshot)):
                intake.sensor.on_snapshot_opted_out(why)  # nothing kept: no blob, no message
                return _accepted(Accepted(snapshot_id=snapshot.snapshot_id, status="dropped",
                                          reason=f"its {why} opted out"))  # fmt: skip
            snapshot = await prepare_raw(raw_outputs, snapshot, request)  # claim check (web/raw.py)
            snapshot = scrubber.for_transport(snapshot)  # no clear user in the pipeline
            await publisher.publish(snapshot)
        intake.sensor.on_snapshot_accepted(intake.transport, snapshot.output_bytes)
        recent.add(snapshot.snapshot_id)
        if receipts is not None:
            receipts.add(snapshot.snapshot_id, snapshot.received_at, snapshot.host)
        if fleet is not None:
            fleet.add(Heard(snapshot.host, received_at, snapshot.collected_at,
                            agent_of(request.headers.get("user-agent")), skew, snapshot.interval_s,
                            incoming.spool_evicted))
        log.info(
            "snapshot accepted",
            snapshot_id=str(snapshot.snapshot_id),
            host=snapshot.host,
            bytes=snapshot.output_bytes,
        )
        return _accepted(Accepted(snapshot_id=snapshot.snapshot_id))

    def post_snapshot(
        idempotency_key: str | None = Header(default=None, max_length=IDEMPOTENCY_KEY_MAX),
    ) -> Accepted:
        """What OpenAPI shows of ``handle_post`` (its header; the body in openapi_extra)."""
        raise NotImplementedError  # never called: the route answers with handle_post

    router.add_api_route(
        "/v1/snapshots",
        post_snapshot,
        methods=["POST"],
        route_class_override=plain_route(handle_post),
        status_code=202,
        response_model=Accepted,
        response_model_exclude_none=True,  # `reason` only when dropped
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

    # The reads: behind ``query``, a 404 for a snapshot id Dream never saw.
    reads = APIRouter(dependencies=list(query), responses={404: {"model": Problem}})

    @reads.get(
        "/v1/snapshots/{snapshot_id}",
        response_model=SnapshotState,
        responses={410: {"model": Problem, "description": "The snapshot was erased."}},
        summary="A snapshot's status, process count, parse warnings, skipped lines or error",
    )
    async def get_snapshot(snapshot_id: uuid.UUID) -> Any:
        row = await anyio.to_thread.run_sync(db.get_snapshot, snapshot_id)
        if row is None:
            if await anyio.to_thread.run_sync(was_erased, db, snapshot_id):
                raise HTTPException(410, f"snapshot {snapshot_id} was erased")
            if snapshot_id in recent or (
                receipts is not None
                and await anyio.to_thread.run_sync(receipts.known, snapshot_id)
            ):
                return SnapshotState(snapshot_id=snapshot_id, status="pending")
            raise NotFoundError(f"no snapshot {snapshot_id}")
        row["user"] = row.pop("user_name")
        for column in ("warnings", "skipped_rows"):
            if isinstance(row.get(column), str):
                row[column] = json.loads(row[column])
        return SnapshotState.model_validate(row)

    @reads.get(
        "/v1/snapshots/{snapshot_id}/processes",
        dependencies=list(rows),
        response_model=SnapshotProcesses,
        summary="The process rows stored for a snapshot",
    )
    async def get_snapshot_processes(
        request: Request,
        snapshot_id: uuid.UUID,
        limit: int = Query(default=1000, ge=1, le=100_000, description="At most this many rows."),
    ) -> Any:
        rows = await anyio.to_thread.run_sync(db.snapshot_processes, snapshot_id, limit + 1)
        if rows is None:
            raise NotFoundError(f"no snapshot {snapshot_id}")
        Disclosure.of(request.state).rows = min(len(rows), limit)  # for the audit trail
        note = None
        if not rows:  # a stored snapshot with processes: its rows were not kept, say so
            state = await anyio.to_thread.run_sync(db.get_snapshot, snapshot_id)
            if state is not None and state["status"] == "stored" and state["process_count"]:
                note = (f"its {state['process_count']} process rows are not kept: per-sample"
                        " rows are kept only for snapshots collected within"
                        " DREAM_RAW_ROWS_RETENTION_DAYS; its sessions and rollups hold its use,"
                        " and its raw output stays for a reprocess")  # fmt: skip
        return SnapshotProcesses(
            snapshot_id=snapshot_id,
            processes=[ProcessRow.model_validate(r) for r in rows[:limit]],
            truncated=len(rows) > limit,
            note=note,
        )

    router.include_router(reads)
    return router
