"""Health: ``/healthz`` (the process is up) and ``/readyz`` (what it depends on answers, and in
``dream serve`` the worker beside it makes progress)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from dream.storage.database import Database
from dream.transport.base import Publisher
from dream.web.schemas import READY_EXAMPLE, UNREADY_EXAMPLE
from dream.worker.health import Progress


def health_router(
    db: Database, publisher: Publisher, transport: str, worker: Progress | None = None
) -> APIRouter:
    """Liveness and readiness over ``db`` and ``publisher`` (``transport``: its name), and the
    ``worker``'s progress when one runs beside the api."""
    router = APIRouter()

    @router.get(
        "/healthz",
        summary="Liveness: the process is up",
        response_model=dict[str, str],
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
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
        db_ok = await anyio.to_thread.run_sync(db.ping)
        transport_ok, transport_detail = await anyio.to_thread.run_sync(publisher.ready)
        checks: dict[str, Any] = {
            "database": {"ok": db_ok},
            "pipeline": {"ok": transport_ok, "transport": transport,
                         "detail": transport_detail},
        }  # fmt: skip
        if worker is not None:  # `dream serve`: accepted snapshots are stored only if it moves
            checks["worker"] = worker.check().as_dict()
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return router
