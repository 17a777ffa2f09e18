"""The HTTP api, composed: middleware, the exception table, and one router per concern, each
given the services it uses (not the app object)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from dream import __version__
from dream.analytics.api import analytics_router
from dream.analytics.export import export_router
from dream.analytics.queries import Analytics
from dream.app import Dream
from dream.blobs.raw import RawOutputs
from dream.dashboard import dashboard_router
from dream.security.api import keys_router
from dream.snapshots import SnapshotIn
from dream.transport.base import Publisher
from dream.security.audit import AuditTrail
from dream.security.budget import PrivacyBudget
from dream.security.optout import OptOuts
from dream.web.access import analytics_access
from dream.web.body import InFlightBytes
from dream.web.calendar import calendar_router
from dream.web.audit import AuditMiddleware, audit_router
from dream.web.errors import (
    install_method_not_allowed,
    install_problems,
    install_validation_handler,
)
from dream.web.health import health_router
from dream.web.metrics import install_http_metrics
from dream.web.openapi import install_openapi
from dream.web.privacy import privacy_router
from dream.web.raw import raw_router
from dream.web.fleet import FleetRecorder
from dream.web.receipts import Receipts
from dream.web.schemas import Problem
from dream.storage.directory import FacultyNames
from dream.web.snapshots import Intake, snapshots_router
from dream.worker.health import Progress


def create_app(dream: Dream, *, publisher: Publisher, progress: Progress | None = None) -> FastAPI:
    """The api over ``dream``, publishing through ``publisher`` (closed when the api stops).

    ``progress``: that of a worker running beside the api (``dream serve``, see
    worker/thread.py), for readiness; the api neither starts nor stops it.
    """
    settings = dream.settings
    # Kafka mode: receipts in PostgreSQL let every replica answer `pending` (web/receipts.py).
    receipts = Receipts(dream.db, sensor=dream.sensor) if settings.transport == "kafka" else None
    trail = AuditTrail(dream.db)  # who asked what (web/audit.py), written off the request path
    fleet = FleetRecorder(dream.db, sensor=dream.sensor)  # which hosts report (web/fleet.py)
    optouts = OptOuts(dream.db, dream.scrubber.stable)  # ingest drops their snapshots unkept
    faculties = FacultyNames(dream.db)  # the managed list ingest checks faculties against

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if receipts is not None:
            receipts.start()
        trail.start()
        fleet.start()
        # Read once at start, so that ingest keeps accepting (Kafka mode) when the database
        # goes down later: the lists read stay in force until it is back.
        await anyio.to_thread.run_sync(_read_ingest_lists, optouts, faculties)
        try:
            yield
        finally:
            publisher.close()  # also wakes a direct source up, when a worker runs beside
            if receipts is not None:
                receipts.close()
            trail.close()
            fleet.close()

    app = FastAPI(
        title="Dream",
        version=__version__,
        summary="Process listings from university machines, ready for research questions.",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served offline by install_openapi (web/openapi.py)
        # Dream's own middleware (web/metrics.py) gives each request its span and metrics;
        # FastAPI's would add a second server span, operation spans and OTel metrics per request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_http_metrics(app, dream.sensor, enabled=settings.telemetry == "on")  # and GET /metrics
    install_problems(app)  # DreamError -> status, body, Retry-After (web/errors.py)
    install_validation_handler(app)
    install_method_not_allowed(app)
    install_openapi(app, models=[SnapshotIn], problem=Problem)  # SnapshotIn: see openapi_extra
    auth = dream.authenticator()
    may_query = [Depends(auth.require("query"))]
    may_steward = [Depends(auth.require("steward"))]  # rows and raw outputs
    may_admin = [Depends(auth.require("admin"))]
    # Analytics: the role each question and filter needs, and a `query` key's floor.
    may_ask = [Depends(analytics_access(auth, settings.min_group_users, PrivacyBudget(dream.db)))]
    # A query by a real user name must find that user's pseudonymized rows.
    app.state.user_alias = dream.scrubber.user
    app.state.catalog = dream.catalog  # products: their names, categories (analytics/products.py)
    app.state.calendar = dream.calendar  # terms (analytics/calendar.py); a bad file stops here
    app.add_middleware(AuditMiddleware, trail=trail, alias=dream.scrubber.user)
    if settings.cors_origins:  # closed unless origins are listed
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )

    def raw_outputs() -> RawOutputs:  # the blob store is set up when a request first needs it
        return dream.raw_outputs

    def analytics() -> Analytics:  # the analytics pool; settings bound the raw fallback
        return Analytics.of(dream.analytics_db.pool, settings.raw_window_max_days,
                            settings.default_cadence_s, dream.calendar)  # fmt: skip

    intake = Intake(settings.max_snapshot_bytes, settings.body_timeout_s, dream.clock_window,
                    settings.transport, dream.sensor,
                    InFlightBytes(max(settings.max_in_flight_bytes,
                                      settings.max_snapshot_bytes)))  # fmt: skip
    app.include_router(snapshots_router(publisher, dream.db, raw_outputs, dream.scrubber, intake,
                                        receipts=receipts, fleet=fleet,
                                        ingest=auth.require("ingest"), query=may_query,
                                        rows=may_steward, optouts=optouts,
                                        faculties=faculties))  # fmt: skip
    app.include_router(health_router(dream.db, publisher, settings.transport, progress))
    app.include_router(analytics_router(analytics), dependencies=may_ask)
    app.include_router(export_router(analytics), dependencies=may_ask)  # /v1/export
    app.include_router(calendar_router(dream.calendar), dependencies=may_query)  # GET /v1/calendar
    app.include_router(dashboard_router())  # `/`: the page loads keyless; its data calls carry the key
    app.include_router(keys_router(dream.keys), dependencies=may_admin)
    app.include_router(audit_router(trail), dependencies=may_admin)  # GET /v1/audit
    # Erasure (DELETE /v1/users/{user}) and opt-outs.
    app.include_router(privacy_router(dream.db, raw_outputs, dream.scrubber, optouts),
                       dependencies=may_admin)  # fmt: skip
    # GET /v1/snapshots/{id}/raw: raw outputs name users: steward (or admin).
    app.include_router(raw_router(dream.db, raw_outputs), dependencies=may_steward)
    return app


def _read_ingest_lists(optouts: OptOuts, faculties: FacultyNames) -> None:
    """The opt-outs and managed faculties, read before the first snapshot. With the database
    down at start, the first snapshot tries again: opt-outs never read answer 503 (nothing of
    an opted-out person is kept unchecked), faculties never read accept any."""
    optouts.load()
    faculties.load()
