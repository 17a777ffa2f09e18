"""The keyset cursors of ``/v1/processes`` and ``/v1/sessions``: opaque to clients, checked field
by field when back.

A cursor is base64url of the JSON list of the last row's key: ``[collected_at, snapshot_id,
row_id]`` for a process row, ``[started, host, user, pid, name]`` for a session. Clients may
send anything as ``cursor``; each field is validated (type, range) so a forged or damaged cursor
answers 422 naming what is wrong, never a 500 or a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from dream.analytics.filters import FilterError, utc_in_range
from dream.snapshots import CollectedAt

_MAX_BLOCK = 2**32 - 1  # a PostgreSQL tid: (block number, item offset)
_MAX_OFFSET = 2**16 - 1


def _tid(value: str) -> str:
    block, offset = (int(part) for part in value[1:-1].split(","))
    if block > _MAX_BLOCK or offset > _MAX_OFFSET:
        raise ValueError(f"row id {value} is out of range")
    return f"({block},{offset})"


class Position(BaseModel):
    """Where a page ended: the last row's (collected_at, snapshot_id, row_id)."""

    model_config = ConfigDict(frozen=True)

    collected_at: Annotated[CollectedAt, AfterValidator(utc_in_range)]
    snapshot_id: uuid.UUID
    row_id: Annotated[str, Field(pattern=r"^\(\d{1,10},\d{1,5}\)$"), AfterValidator(_tid)]

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if not (isinstance(value, list) and len(value) == 3):
            raise ValueError("must hold [collected_at, snapshot_id, row_id]")
        return dict(zip(("collected_at", "snapshot_id", "row_id"), value, strict=True))


class SessionPosition(BaseModel):
    """Where a page of ``/v1/sessions`` ended: the last session's key, in the page's order."""

    model_config = ConfigDict(frozen=True)

    started: Annotated[CollectedAt, AfterValidator(utc_in_range)]
    host: Annotated[str, Field(max_length=255)]
    user: Annotated[str, Field(max_length=256)]
    pid: Annotated[int, Field(ge=-(2**31), lt=2**31)]
    name: Annotated[str, Field(max_length=4096)]

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        names = ("started", "host", "user", "pid", "name")
        if not (isinstance(value, list) and len(value) == len(names)):
            raise ValueError("must hold [started, host, user, pid, name]")
        return dict(zip(names, value, strict=True))


def _encode(parts: list[Any]) -> str:
    raw = json.dumps(parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(collected_at: datetime, snapshot_id: uuid.UUID, row_id: str) -> str:
    return _encode([collected_at.isoformat(), str(snapshot_id), row_id])


def encode_session_cursor(row: dict[str, Any]) -> str:
    """The cursor after ``row``, a session as ``/v1/sessions`` lists it."""
    return _encode([row["started"].isoformat(), row["host"], row["user"], row["pid"],
                    row["name"]])  # fmt: skip


def decode_cursor(cursor: str) -> Position:
    """The position ``cursor`` names, or FilterError (a 422) saying which part is wrong."""
    return _decode(cursor, Position)


def decode_session_cursor(cursor: str) -> SessionPosition:
    return _decode(cursor, SessionPosition)


M = TypeVar("M", bound=BaseModel)


def _decode(cursor: str, model: type[M]) -> M:
    problem = "is not a cursor this api returned"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        problem += f" ({where + ': ' if where else ''}{first['msg']})"
    except (ValueError, binascii.Error):
        pass
    raise FilterError("cursor", problem, cursor)
