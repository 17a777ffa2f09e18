"""The audit trail over HTTP: every analytics, export and row request recorded by key (an ASGI
middleware, after the response: nothing is written on the request's path), and
``GET /v1/audit`` (admin) to read it, keyset-paginated.

What is recorded: the key's id, name and role, the method and path, the query parameters
(``user`` pseudonymized as the question was, so no name is stored in clear), the status, the
rows answered and those the k-anonymity floor withheld (the request's ``Disclosure``), and the
time taken. Requests that present no valid key (401) are not: they are no key's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dream.analytics.filters import Moment
from dream.analytics.questions import QUESTIONS
from dream.analytics.questions.base import DISCLOSURE, Disclosure
from dream.security.audit import AuditEntry, AuditTrail
from dream.security.keys import Principal
from dream.web.access import EXPORT_PATH

_AUDITED = frozenset({q.path for q in QUESTIONS} | {EXPORT_PATH})
_SNAPSHOT_ROWS = ("/processes", "/raw")  # /v1/snapshots/{id}/...: rows and raw outputs


def audited(path: str) -> bool:
    """Whether a request to ``path`` reads analytics or rows (what the trail records)."""
    return path in _AUDITED or (path.startswith("/v1/snapshots/") and path.endswith(_SNAPSHOT_ROWS))


class AuditMiddleware:
    """Records each audited request once it is answered (pure ASGI: other paths pass through
    with one set lookup)."""

    def __init__(self, app: ASGIApp, trail: AuditTrail,
                 alias: Callable[[str], str | None] | None = None) -> None:  # fmt: skip
        self.app = app
        self.trail = trail
        self.alias = alias  # the user pseudonym, as analytics' filters apply it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not audited(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status = 500
        started = time.perf_counter()

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            self._record(scope, state, status, started)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
        principal: Principal | None = state.get("principal")
        if principal is None:
            return  # no valid key: not a key's request
        shown: Disclosure | None = state.get(DISCLOSURE)
        params = _params(scope)
        if "user" in params and self.alias is not None:
            params["user"] = self.alias(params["user"]) or params["user"]
        answered = shown is not None and 200 <= status < 300
        self.trail.record(AuditEntry.model_construct(
            at=datetime.now(UTC), key_id=principal.key_id, key_name=principal.name,
            role=principal.role, method=scope["method"], path=_storable(scope["path"]), params=params,
            status=status, rows=shown.rows if answered and shown else None,
            suppressed=shown.suppressed if answered and shown and shown.min_users else None,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        ))  # fmt: skip


_MAX_TEXT = 1024  # a parameter is kept this long at most (a refused one may be anything)


def _storable(text: str) -> str:
    """``text`` as PostgreSQL can store it: a request refused for a NUL or a lone surrogate
    is still recorded, its text escaped (``\\x00``), not lost nor blocking the batch."""
    text = text[:_MAX_TEXT].replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _params(scope: Scope) -> dict[str, str]:
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True)
    return {_storable(name): _storable(value) for name, value in pairs}


class AuditItem(AuditEntry):
    id: int = Field(description="The entry's place in the trail (what `cursor` continues from).")


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{"id": 1042, "at": "2026-11-27T10:00:03Z", "key_id": "3f9a1c2b7d4e",
                   "key_name": "survey team", "role": "query", "method": "GET",
                   "path": "/v1/analytics/top-apps", "params": {"faculty": "law"},
                   "status": 200, "rows": 8, "suppressed": 2, "duration_ms": 41.5}],
        "next_cursor": "1042"}]})  # fmt: skip

    items: list[AuditItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


def audit_router(trail: AuditTrail) -> APIRouter:
    """``GET /v1/audit``; ADMIN ONLY: the caller includes it behind the admin dependency."""
    router = APIRouter(tags=["audit"])

    @router.get("/v1/audit", response_model=AuditPage,
                summary="Who asked what: analytics and row requests by key (admin)")  # fmt: skip
    async def audit(
        key: Annotated[str | None, Query(max_length=256, description="One key's id.")] = None,
        from_: Annotated[Moment | None, Query(alias="from", description="ISO 8601, inclusive.")] = None,
        to: Annotated[Moment | None, Query(description="ISO 8601, exclusive.")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="Entries per page.")] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$",
                                            description="A page's `next_cursor`.")] = None,
    ) -> Any:
        rows, last = await anyio.to_thread.run_sync(lambda: trail.page(
            after=int(cursor or 0), limit=limit, key_id=key, start=from_, end=to))  # fmt: skip
        return AuditPage(items=[AuditItem.model_validate(r) for r in rows],
                         next_cursor=None if last is None else str(last))  # fmt: skip

    return router


__all__ = ["AuditMiddleware", "audit_router", "audited"]
