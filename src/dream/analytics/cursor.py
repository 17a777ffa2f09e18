"""The keyset cursor of ``/v1/processes``: opaque to clients, checked field by field when back.

A cursor is base64url of the JSON list ``[collected_at, snapshot_id, row_id]`` of the last row
of a page. Clients may send anything as ``cursor``; each field is validated (type, range) so a
forged or damaged cursor answers 422 naming what is wrong, never a 500 or a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from dream.analytics.filters import FilterError, iso_8601, utc_in_range
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

    collected_at: Annotated[CollectedAt, BeforeValidator(iso_8601), AfterValidator(utc_in_range)]
    snapshot_id: uuid.UUID
    row_id: Annotated[str, Field(pattern=r"^\(\d{1,10},\d{1,5}\)$"), AfterValidator(_tid)]

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if not (isinstance(value, list) and len(value) == 3):
            raise ValueError("must hold [collected_at, snapshot_id, row_id]")
        return dict(zip(("collected_at", "snapshot_id", "row_id"), value, strict=True))


def encode_cursor(collected_at: datetime, snapshot_id: uuid.UUID, row_id: str) -> str:
    raw = json.dumps([collected_at.isoformat(), str(snapshot_id), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position ``cursor`` names, or FilterError (a 422) saying which part is wrong."""
    problem = "is not a cursor this api returned"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return Position.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        problem += f" ({where + ': ' if where else ''}{first['msg']})"
    except (ValueError, binascii.Error):
        pass
    raise FilterError("cursor", problem, cursor)
