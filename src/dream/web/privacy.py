"""Erasure and opt-out over HTTP (admin): ``DELETE /v1/users/{user}``, ``/v1/optouts``; and what
the snapshot routes ask of them (is this snapshot's user opted out, was this snapshot erased)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dream.blobs.erasure import erase_user
from dream.blobs.raw import RawOutputs
from dream.security.optout import Kind, OptOuts
from dream.security.pii import Scrubber
from dream.snapshots import Snapshot
from dream.storage.database import Database
from dream.storage.erasure import erased_snapshot

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]  # fmt: skip
InPath = Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ErasureOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "user": "u_1f2e3d4c5b6a79881726", "state": "done",
        "requested_at": "2026-12-01T10:00:00Z", "blobs_left": 0,
        "removed": {"snapshots": 1440, "processes": 288000, "sessions": 5210}}]})  # fmt: skip

    id: int
    user: str = Field(description="The pseudonym erased (never the name).")
    state: str = Field(description="`done`, or `blobs`: raw outputs left to remove (ask again).")
    requested_at: datetime
    removed: dict[str, int] = Field(description="Rows and raw-output objects removed, by kind.")
    blobs_left: int


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"kind": "user", "value": "jdoe"}]})  # fmt: skip

    kind: Kind
    value: Name = Field(description="A user name (kept as its pseudonym) or a host name.")


class OptOutOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "user", "value": "u_1f2e3d4c5b6a79881726", "added_at": "2026-12-01T10:00:00Z"}]})  # fmt: skip

    kind: Kind
    value: str
    added_at: datetime | None = None


def list_of(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI example of an answer that is a list of ``model``: its own examples."""
    examples = model.model_config.get("json_schema_extra", {})["examples"]  # type: ignore[index]
    return {200: {"content": {"application/json": {"example": examples}}}}


async def opted_out(optouts: OptOuts, scrubber: Scrubber, snapshot: Snapshot) -> Kind | None:
    """Why ingest keeps nothing of ``snapshot`` (its user or host opted out), if it does not."""
    if not optouts.loaded:
        await anyio.to_thread.run_sync(optouts.refresh)  # the first time only; else 503
    optouts.refresh_if_stale()
    user = snapshot.user
    return optouts.excludes((scrubber.stable(user), scrubber.user(user)), snapshot.host)


def was_erased(db: Database, snapshot_id: uuid.UUID) -> bool:
    with db.pool.connection() as conn:
        return erased_snapshot(conn, snapshot_id) is not None


def privacy_router(db: Database, raw: Callable[[], RawOutputs], scrubber: Scrubber,
                   optouts: OptOuts) -> APIRouter:  # fmt: skip
    """The admin routes of erasure and opt-out (the caller adds the admin dependency)."""
    router = APIRouter(tags=["privacy"])

    @router.delete(
        "/v1/users/{user}", response_model=list[ErasureOut], responses=list_of(ErasureOut),
        summary="Erase everything stored about a user",
        description=(
            "Every snapshot, process row, session, rollup contribution and raw output of the"
            " user (as their machines report it, or its pseudonym) is removed: the rows in one"
            " transaction, then the raw outputs. Asking again resumes an erasure cut short."
            " Their snapshots then answer 410. One erasure per pseudonym epoch (a name)."
        ),
    )  # fmt: skip
    async def erase(user: InPath) -> Any:
        found = []
        for pseudonym in scrubber.every_epoch(user):
            done = await anyio.to_thread.run_sync(erase_user, db, raw(), pseudonym)
            found.append(ErasureOut(id=done.id, user=done.user_name, state=done.state,
                                    requested_at=done.requested_at, removed=done.removed,
                                    blobs_left=len(done.blobs)))  # fmt: skip
        return found

    @router.get("/v1/optouts", response_model=list[OptOutOut], responses=list_of(OptOutOut),
                summary="Users (pseudonyms) and hosts whose snapshots ingest drops")  # fmt: skip
    async def list_optouts() -> Any:
        return await anyio.to_thread.run_sync(optouts.list)

    @router.post("/v1/optouts", status_code=201, response_model=OptOutOut,
                 summary="Opt a user or a host out: ingest keeps nothing of them from now on")  # fmt: skip
    async def add_optout(body: OptOutIn) -> Any:
        kept = await anyio.to_thread.run_sync(optouts.add, body.kind, body.value)
        return OptOutOut(kind=body.kind, value=kept)

    @router.delete("/v1/optouts/{kind}/{value}", status_code=204,
                   summary="Take an opt-out back")  # fmt: skip
    async def remove_optout(kind: Kind, value: InPath) -> None:
        await anyio.to_thread.run_sync(optouts.remove, kind, value)

    return router


__all__ = ["opted_out", "privacy_router", "was_erased"]
