"""422 responses that always serialize, whatever the client sent."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
