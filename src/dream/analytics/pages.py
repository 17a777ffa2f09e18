"""The keyset-paginated listings: raw process rows and process sessions, a page at a time.

Kept apart from the aggregate questions (queries.py): a page is one indexed range scan in the
listing's key order, continued from the last row's key (cursor.py), never an OFFSET.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from dream.analytics.cursor import (
    Position,
    decode_cursor,
    decode_session_cursor,
    encode_cursor,
    encode_session_cursor,
)
from dream.analytics.filters import EARLIEST, Filters
from dream.analytics.sql import Fetch, equal, fragment, of_sessions

_START = Position.model_construct(collected_at=EARLIEST, snapshot_id=uuid.UUID(int=0),
                                  row_id="(0,0)")  # before every row  # fmt: skip

# A page's rows, the cursor of the next page (None after the last).
Page = tuple[list[dict[str, Any]], str | None]


def _of_process(filters: Filters, params: dict[str, Any]) -> sql.Composable:
    """The filters on a process row itself: its app, whether it is the system's."""
    parts = equal(filters, params, ("app",))
    if not filters.include_system:
        parts.append(fragment("filter_not_system"))
    return sql.SQL(" ").join(parts)


def processes(fetch: Fetch, filters: Filters, *, limit: int, cursor: str | None) -> Page:
    """A page of raw process rows in (collected_at, snapshot, listing order) order."""
    after = decode_cursor(cursor) if cursor else _START
    params: dict[str, Any] = {
        "from": filters.start, "to": filters.end, "limit": limit,
        "after_at": after.collected_at, "after_id": after.snapshot_id,
        "after_row": after.row_id,
    }  # fmt: skip
    q = fragment("processes_page").format(
        snapshot_filters=sql.SQL(" ").join(equal(filters, params)),
        process_filters=_of_process(filters, params),
    )
    rows = fetch(q, params)
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        next_cursor = encode_cursor(last["collected_at"], last["snapshot_id"], last["row_id"])
    for r in rows:
        del r["row_id"]
    return rows, next_cursor


def sessions(fetch: Fetch, filters: Filters, *, limit: int, cursor: str | None) -> Page:
    """A page of the sessions in use within the range, in (started, host, user, pid, name)
    order."""
    params: dict[str, Any] = {"from": filters.start, "to": filters.end, "limit": limit}
    if cursor:
        after = decode_session_cursor(cursor)
        params.update({"after_at": after.started, "after_host": after.host,
                       "after_user": after.user, "after_pid": after.pid,
                       "after_name": after.name})  # fmt: skip
        after_filter = fragment("sessions_after")
    else:
        after_filter = sql.SQL("")
    q = fragment("sessions_page").format(
        filters=sql.SQL(" ").join([of_sessions(filters, params, known_apps=False), after_filter]),
    )
    rows = fetch(q, params)
    for r in rows:
        r["duration_s"] = float(r["duration_s"])
    return rows, encode_session_cursor(rows[-1]) if len(rows) == limit else None
