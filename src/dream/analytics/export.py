"""``GET /v1/export``: any analytics question as a CSV or Parquet file.

``/v1/export?query=top-apps&format=parquet&faculty=law`` answers exactly what
``/v1/analytics/top-apps?faculty=law`` answers, as a file to download: ``query`` names the
question (``top-apps``, ``usage``, ``breakdown``, ``processes``, ``users``, ``faculties``,
``hosts``), every other parameter is that question's own. ``processes`` follows the cursor
itself, up to ``limit`` rows (default 100 000).

Parquet needs pyarrow, an optional dependency (``pip install 'dream-usage[export]'``); without it the
api answers 415 and says so, and CSV keeps working.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from dream.analytics.api import FILTER_PARAMS, FiltersDep, _answer, _error, analytics_for
from dream.analytics.csv import render
from dream.analytics.filters import Bucket, Dimension, Filters, Metric, Source
from dream.analytics.queries import METRIC_FIELDS, Analytics

ExportQuery = Literal["top-apps", "usage", "breakdown", "processes", "users", "faculties", "hosts"]
ExportFormat = Literal["csv", "parquet"]

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
MAX_EXPORT_ROWS = 1_000_000
_PAGE = 10_000

# Which extra parameters each question takes (besides the filters).
EXTRA_PARAMS: dict[str, frozenset[str]] = {
    "top-apps": frozenset({"limit", "metric", "source"}),
    "usage": frozenset({"bucket", "group_by", "source"}),
    "breakdown": frozenset({"by", "metric", "limit", "source"}),
    "processes": frozenset({"limit"}),
    "users": frozenset({"q", "limit"}),
    "faculties": frozenset({"q", "limit"}),
    "hosts": frozenset({"q", "limit"}),
}
_PICKER_DIMENSION = {"users": "user", "faculties": "faculty", "hosts": "host"}
PROCESS_COLUMNS: tuple[str, ...] = (
    "collected_at", "snapshot_id", "host", "os", "user", "faculty", "pid", "ppid",
    "process_user", "name", "command", "app", "is_system", "cpu_percent", "mem_percent",
    "rss_kb", "vsz_kb", "state", "tty", "started", "cpu_seconds", "threads", "session",
    "session_name", "status", "window_title",
)  # fmt: skip

_INT_COLUMNS = frozenset({"users", "hosts", "snapshots", "processes", "pid", "ppid", "rss_kb",
                          "vsz_kb", "threads", "session"})  # fmt: skip
_FLOAT_COLUMNS = frozenset({"avg_cpu_percent", "avg_rss_kb", "cpu_percent", "mem_percent",
                            "cpu_seconds"})  # fmt: skip
_TIME_COLUMNS = frozenset({"bucket", "collected_at"})
_BOOL_COLUMNS = frozenset({"is_system"})


class ParquetUnavailable(RuntimeError):
    """pyarrow is not installed where the api runs."""


def parquet_bytes(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """``rows`` as one Parquet file with typed columns (ints, floats, UTC timestamps, text)."""
    table = arrow_table(columns, rows)
    out = io.BytesIO()
    _parquet().write_table(table, out, compression="zstd")
    return out.getvalue()


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ParquetUnavailable(str(exc)) from None
    return pq


def arrow_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Any:
    """``rows`` as a pyarrow Table with typed columns (ints, floats, UTC timestamps, text)."""
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise ParquetUnavailable(str(exc)) from None

    def arrow_type(name: str) -> Any:
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _FLOAT_COLUMNS:
            return pa.float64()
        if name in _TIME_COLUMNS:
            return pa.timestamp("us", tz="UTC")
        if name in _BOOL_COLUMNS:
            return pa.bool_()
        return pa.string()

    def cell(value: Any, name: str) -> Any:
        if value is None or isinstance(value, (int, float, bool, datetime)):
            if name not in _TIME_COLUMNS and isinstance(value, datetime):
                return value.isoformat()
            return value
        if isinstance(value, uuid.UUID):
            return str(value)
        return value if isinstance(value, str) else str(value)

    schema = pa.schema([pa.field(c, arrow_type(c)) for c in columns])
    arrays = [
        pa.array([cell(r.get(c), c) for r in rows], type=arrow_type(c)) for c in columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _parquet_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "Parquet export needs pyarrow on the server, which is not installed"
         " (pip install 'dream-usage[export]'); format=csv works without it"},
        status_code=415,
    )  # fmt: skip


def _file_response(
    name: str, fmt: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> Response:
    if fmt == "parquet":
        try:
            body = parquet_bytes(columns, rows)
        except ParquetUnavailable:
            return _parquet_unavailable()
        media = PARQUET_MEDIA_TYPE
    else:
        body = render(columns, rows).encode("utf-8")
        media = CSV_MEDIA_TYPE
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Row-Count": str(len(rows)),
        },
    )


def _check_params(request: Request, query: str) -> None:
    known = FILTER_PARAMS | EXTRA_PARAMS[query] | {"query"}
    for name in request.query_params:
        if name not in known:
            raise _error(name, f"unknown parameter for query={query}; known: "
                               f"{', '.join(sorted(known))}")  # fmt: skip


def _process_pages(analytics: Analytics, f: Filters, limit: int) -> Iterator[list[dict[str, Any]]]:
    """Up to ``limit`` process rows, a keyset page at a time."""
    count, cursor = 0, None
    while count < limit:
        page, cursor = analytics.processes(f, limit=min(_PAGE, limit - count), cursor=cursor)
        count += len(page)
        if page:
            yield page
        if cursor is None:
            break


def spool_processes(
    analytics: Analytics, f: Filters, limit: int, fmt: str
) -> tuple[Any, int]:
    """The processes export written page by page (Parquet: a row group per page) to a spooled
    file, so memory holds one page whatever the export's size (up to a million rows); returns
    the file, rewound, and the row count (for ``X-Row-Count``)."""
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    count = 0
    try:
        if fmt == "parquet":
            pq = _parquet()
            writer = None
            for page in _process_pages(analytics, f, limit):
                table = arrow_table(PROCESS_COLUMNS, page)
                writer = writer or pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write_table(table)
                count += len(page)
            if writer is None:  # no rows: still a valid file with the columns
                pq.write_table(arrow_table(PROCESS_COLUMNS, []), out, compression="zstd")
            else:
                writer.close()
        else:
            out.write(render(PROCESS_COLUMNS, []).encode("utf-8"))  # the header
            for page in _process_pages(analytics, f, limit):
                out.write(render(PROCESS_COLUMNS, page).split("\r\n", 1)[1].encode("utf-8"))
                count += len(page)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, count


def _spooled_response(out: Any, count: int, fmt: str) -> Response:
    def chunks() -> Iterator[bytes]:
        with out:
            while chunk := out.read(1024 * 1024):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=PARQUET_MEDIA_TYPE if fmt == "parquet" else CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="processes.{fmt}"',
            "X-Row-Count": str(count),
        },
    )


def export_router(get_analytics: Callable[[], Analytics]) -> APIRouter:
    """``GET /v1/export`` over ``get_analytics()`` (called on first use, then cached)."""
    router = APIRouter(tags=["export"])
    analytics = cache(get_analytics)  # built on first use: the database is touched only then

    @router.get(
        "/v1/export",
        summary="Any analytics question as a CSV or Parquet file",
        description=(
            "`query` names the question, every other parameter is that question's own, e.g."
            " `/v1/export?query=top-apps&format=parquet&faculty=law&os=windows`, or"
            " `query=processes&host=law-pc-17&limit=500000` (the cursor is followed here)."
            " Parquet needs pyarrow on the server (`dream-usage[export]`): without it, 415."
        ),
        response_class=Response,
        responses={
            200: {"content": {"text/csv": {}, PARQUET_MEDIA_TYPE: {}},
                  "description": "The file; `X-Row-Count` says how many rows it holds."},
            415: {"description": "format=parquet and pyarrow is not installed on the server."},
            422: {"description": "An unknown or invalid parameter; the error names it."},
        },
    )  # fmt: skip
    async def export(
        request: Request,
        f: FiltersDep,
        query: Annotated[ExportQuery, Query(description="Which question to export.")],
        format: Annotated[ExportFormat, Query(description="csv | parquet")] = "csv",
        limit: Annotated[
            int | None, Query(ge=1, le=MAX_EXPORT_ROWS, description="Rows (or apps, values).")
        ] = None,
        metric: Annotated[Metric, Query()] = "users",
        bucket: Annotated[Bucket, Query()] = "day",
        group_by: Annotated[Dimension | None, Query()] = None,
        by: Annotated[Dimension | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=256)] = None,
        source: Annotated[Source, Query()] = "auto",
    ) -> Response:
        _check_params(request, query)
        a = analytics()
        if query == "top-apps":
            n = min(limit or 10, 1000)
            answer = await _answer(lambda: a.top_apps(f, metric=metric, limit=n, source=source))
            return _file_response("top-apps", format, ("app", *METRIC_FIELDS), answer.items)
        if query == "usage":
            answer = await _answer(
                lambda: a.usage(f, bucket=bucket, group_by=group_by, source=source)
            )
            return _file_response("usage", format, ("group", "bucket", *METRIC_FIELDS),
                                  answer.items)  # fmt: skip
        if query == "breakdown":
            if by is None:
                raise _error("by", "query=breakdown needs `by` (faculty | os | user | host | app)")
            dim = by
            n = limit or 1000
            answer = await _answer(
                lambda: a.breakdown(f, by=dim, metric=metric, limit=n, source=source)
            )
            return _file_response(f"breakdown-{dim}", format, (dim, *METRIC_FIELDS),
                                  answer.items)  # fmt: skip
        if query == "processes":
            n = limit or 100_000
            try:
                out, count = await _answer(lambda: spool_processes(a, f, n, format))
            except ParquetUnavailable:
                return _parquet_unavailable()
            return _spooled_response(out, count, format)
        dimension = _PICKER_DIMENSION[query]
        n = limit or 1000
        answer = await _answer(
            lambda: a.breakdown(f, by=dimension, metric=None, limit=n, prefix=q)
        )
        return _file_response(query, format, (dimension, *METRIC_FIELDS), answer.items)

    return router


def export_router_for(dream: Any) -> APIRouter:
    """The export router over ``dream``'s connection pool (what ``create_app`` mounts)."""
    return export_router(lambda: analytics_for(dream))


__all__ = ["export_router", "export_router_for", "parquet_bytes", "EXTRA_PARAMS"]
