"""The api's ``/metrics`` endpoint, and a middleware reporting each request to the sensor,
giving it its span (the root of the snapshot's trace) and a request id bound into every log line."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from opentelemetry.trace import SpanKind

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dream.observability.sensors import Sensor
from dream.observability.tracing import tracer


class HttpMetricsMiddleware:
    """Reports each request's latency to ``sensor``, by route template, method and status.

    Plain ASGI (not BaseHTTPMiddleware): cheaper, and the router's ``scope["route"]`` is visible
    here afterwards, so paths are labelled by template (``/v1/snapshots/{snapshot_id}``) and
    the label set stays bounded.
    """

    def __init__(self, app: ASGIApp, sensor: Sensor) -> None:
        self.app = app
        self.sensor = sensor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = _request_id(scope)

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        method = scope["method"]
        with (
            structlog.contextvars.bound_contextvars(request_id=request_id),
            tracer().start_as_current_span(method, kind=SpanKind.SERVER) as span,
        ):
            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                route: Any = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                self.sensor.on_request(template, method, status, time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            text = value.decode()
            if text.replace("-", "").replace("_", "").isalnum():
                return text
    return uuid.uuid4().hex


def install_http_metrics(app: FastAPI, sensor: Sensor, *, enabled: bool = True) -> None:
    """``GET /metrics``, and (``enabled``) the middleware: request ids, spans, the sensor."""
    if enabled:
        app.add_middleware(HttpMetricsMiddleware, sensor=sensor)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
