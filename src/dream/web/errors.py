"""Error responses: Dream's errors mapped to HTTP in one table, and validation errors and 405s
that always serialize, whatever the client sent, and say what is allowed."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dream.blobs.store import BlobUnavailable
from dream.errors import (
    DreamError,
    NotFoundError,
    SnapshotTooLarge,
    StatementTimeout,
    StorageError,
    TransportError,
)


@dataclass(frozen=True)
class ErrorAnswer:
    """How one kind of DreamError answers: its status, a prefix of its message (or a fixed
    ``detail``), and the Retry-After of a retryable one unless the error says its own."""

    status: int
    prefix: str = ""
    detail: str | None = None
    retry_after_s: int = 5


# The one exception -> HTTP table. Handlers raise; none catches to answer. The most specific
# class of an error wins (Starlette looks its handler up along the error's MRO).
PROBLEMS: dict[type[DreamError], ErrorAnswer] = {
    TransportError: ErrorAnswer(503, "pipeline unavailable: "),
    SnapshotTooLarge: ErrorAnswer(413),
    StorageError: ErrorAnswer(503, "database unavailable: "),
    StatementTimeout: ErrorAnswer(
        503,
        detail="the query ran longer than DREAM_QUERY_TIMEOUT_S and was cancelled: narrow the"
        " filters or the range (whole hours read the rollups)",
        retry_after_s=30,
    ),
    BlobUnavailable: ErrorAnswer(503, "blob store unavailable: "),
    NotFoundError: ErrorAnswer(404),
}


def problem_response(exc: DreamError) -> JSONResponse:
    """``exc`` answered as the table says (the first class of its MRO listed there)."""
    problem = next(PROBLEMS[c] for c in type(exc).__mro__ if c in PROBLEMS)
    headers = {}
    if exc.retryable:
        headers["Retry-After"] = str(exc.retry_after_s or problem.retry_after_s)
    detail = problem.detail if problem.detail is not None else f"{problem.prefix}{exc}"
    return JSONResponse({"detail": detail}, status_code=problem.status, headers=headers)


def install_problems(app: FastAPI) -> None:
    """Answer every error class of ``PROBLEMS`` from the table; others stay 500s."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DreamError)
        return problem_response(exc)

    for error in PROBLEMS:
        app.add_exception_handler(error, handler)


def _safe(value: Any, depth: int = 0) -> Any:
    """JSON-safe echo of a client's input: bytes and non-finite floats become text."""
    if depth > 8:
        return "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value[:200]).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if isinstance(value, dict):
        return {str(k): _safe(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in list(value)[:20]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def install_validation_handler(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_failed(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for error in exc.errors():
            item = {k: v for k, v in error.items() if k in ("type", "loc", "msg")}
            if "input" in error:
                item["input"] = _safe(error["input"])
            detail.append(_safe(item))
        return JSONResponse({"detail": detail}, status_code=422)


_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")  # a `{name}` of an escaped path template


def install_method_not_allowed(app: FastAPI) -> None:
    """405 with ``Allow`` naming every method of the path: Starlette lists only those of the
    first route it matched (``OPTIONS /v1/keys`` said POST, not GET). The methods come from the
    published schema's paths, where routes of included routers are listed too."""

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
        allow = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
        for template, item in app.openapi().get("paths", {}).items():
            if re.fullmatch(_PARAMETER.sub("[^/]+", re.escape(template)), request.url.path):
                allow.update(method.upper() for method in item)
        headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allow))}
        return JSONResponse({"detail": exc.detail}, status_code=405, headers=headers)
