"""The api's ``/metrics`` endpoint and its request-latency middleware."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match

from dream.observability.metrics import HTTP_REQUEST_SECONDS


def _route_template(request: Request) -> str:
    # Label by template (/v1/snapshots/{snapshot_id}), never by the raw path: bounded cardinality.
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return getattr(route, "path", "other")
    return "unmatched"


def install_http_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe_latency(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            HTTP_REQUEST_SECONDS.labels(
                _route_template(request), request.method, str(status)
            ).observe(time.perf_counter() - started)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
