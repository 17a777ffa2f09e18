"""Admin endpoints for API keys: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from typing import Annotated

from dream.security.keys import KeyStore, Role

KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                           pattern=r"^[^\x00-\x1f\x7f]+$")]  # fmt: skip


class KeyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "law labs", "role": "ingest"}]}
    )

    name: KeyName
    role: Role
    dp_epsilon: float | None = Field(
        default=None, gt=0, le=10, description="Differential privacy (`query` keys): each answer"
        " is noised and spends this epsilon of the key's budget."
    )
    dp_budget: float | None = Field(
        default=None, gt=0, le=10_000, description="The epsilon a DP key may spend a month"
        " (default: 100 answers' worth)."
    )

    @model_validator(mode="after")
    def _dp_for_query_keys(self) -> KeyRequest:
        if self.dp_epsilon is not None and self.role != "query":
            raise ValueError("dp_epsilon is for `query` keys (aggregates) only")
        if self.dp_budget is not None and self.dp_epsilon is None:
            raise ValueError("dp_budget needs dp_epsilon")
        return self


class IssuedKeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f9a1c2b7d4e", "name": "law labs", "role": "ingest",
        "secret": "dream_3f9a1c2b7d4e_" + "x" * 43}]})  # fmt: skip

    id: str
    name: str
    role: Role
    secret: str = Field(description="The bearer token. Shown this once; store it now.")


class KeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f9a1c2b7d4e", "name": "law labs", "role": "ingest",
        "created_at": "2026-11-27T10:00:00Z", "revoked_at": None, "last_used_at": None}]})  # fmt: skip

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    dp_epsilon: float | None = None
    dp_budget: float | None = None


def keys_router(keys: KeyStore) -> APIRouter:
    router = APIRouter(prefix="/v1/keys", tags=["keys"])

    @router.post("", status_code=201, response_model=IssuedKeyOut, summary="Create an API key")
    async def create_key(request: KeyRequest) -> Any:
        issued = await anyio.to_thread.run_sync(
            lambda: keys.create(request.name, request.role, dp_epsilon=request.dp_epsilon,
                                dp_budget=request.dp_budget)
        )  # fmt: skip
        return IssuedKeyOut(id=issued.key_id, name=issued.name, role=issued.role,
                            secret=issued.secret)  # fmt: skip

    @router.get(
        "", response_model=list[KeyOut], summary="List API keys (never their secrets)",
        responses={200: {"content": {"application/json": {
            "example": KeyOut.model_config["json_schema_extra"]["examples"]}}}},  # type: ignore[index]
    )  # fmt: skip
    async def list_keys() -> Any:
        rows = await anyio.to_thread.run_sync(keys.list)
        return [KeyOut(id=r.pop("key_id"), **r) for r in rows]

    @router.delete(
        "/{key_id}", status_code=204, summary="Revoke an API key",
        responses={404: {"description": "No such key, or already revoked."}},
    )  # fmt: skip
    async def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]) -> None:
        if not await anyio.to_thread.run_sync(keys.revoke, key_id):
            raise HTTPException(404, f"no active key {key_id}")

    return router
