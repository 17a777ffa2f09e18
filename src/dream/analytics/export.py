"""``GET /v1/export``: any analytics question as a CSV or Parquet file.

``/v1/export?query=top-apps&format=parquet&faculty=law`` answers exactly what
``/v1/analytics/top-apps?faculty=law`` answers, as a file to download: ``query`` names a
question of the registry (``dream.analytics.questions``), every other parameter is that
question's own. A paged question (``processes``) is followed through its cursor here, up to
``limit`` rows (default 100 000).

Parquet needs pyarrow, an optional dependency (``pip install 'dream-usage[export]'``); without it the
api answers 415 and says so, and CSV keeps working.
"""

from __future__ import annotations

import inspect
import io
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from dream.analytics.api import (
    FILTER_PARAMS,
    SUPPRESSED_HEADER,
    _answer,
    _error,
    query_param,
    signature,
)
from dream.analytics.csv import render
from dream.analytics.filters import Filters
from dream.analytics.known import asked, check_known
from dream.analytics.products import catalog_of, enrich_rows, with_product_columns
from dream.analytics.queries import Analytics
from dream.analytics.questions import BY_NAME, CURSOR, QUESTIONS, Params, Question
from dream.analytics.questions.base import Disclosure
from dream.catalog import Catalog
from dream.snapshots import COLUMN_TYPES

ExportFormat = Literal["csv", "parquet"]

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
MAX_EXPORT_ROWS = 1_000_000
SUPPRESSED_METADATA = "dream.suppressed_rows"  # a Parquet file's key: rows the floor withheld
_PAGE = 10_000

# Which extra parameters each question takes (besides the filters).
EXTRA_PARAMS: dict[str, frozenset[str]] = {q.name: q.exported for q in QUESTIONS}


def _process_columns(kind: type) -> set[str]:
    """The process row's columns whose values are ``kind`` (from ProcessRecord's fields)."""
    return {column for column, value in COLUMN_TYPES.items() if value is kind}


_INT_COLUMNS = frozenset({"users", "hosts", "snapshots", "processes", "launches", "samples",
                          *_process_columns(int)})  # fmt: skip
_FLOAT_COLUMNS = frozenset({"avg_cpu_percent", "avg_rss_kb", "hours", "duration_s",
                            "cpu_seconds", *_process_columns(float)})  # fmt: skip
# Not "started": a process row's is the listing's text (START), a session's a time; columns
# known by no name here are typed by their values.
_TIME_COLUMNS = frozenset({"bucket", "collected_at"})
_BOOL_COLUMNS = frozenset(_process_columns(bool))
_INFERRED: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (bool, lambda pa: pa.bool_()),  # before int: a bool is an int
    (int, lambda pa: pa.int64()),
    (float, lambda pa: pa.float64()),
    (datetime, lambda pa: pa.timestamp("us", tz="UTC")),
)


def _zoned_time(text: str) -> datetime | None:
    """``text`` as a time if it is an ISO 8601 one with its zone (not a listing's "21:00")."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class ParquetUnavailable(RuntimeError):
    """pyarrow is not installed where the api runs."""


def parquet_bytes(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], suppressed: int | None = None
) -> bytes:
    """``rows`` as one Parquet file with typed columns (ints, floats, UTC timestamps, text);
    ``suppressed``: the rows the k-anonymity floor withheld, kept in the file's metadata."""
    table = arrow_table(columns, rows)
    if suppressed is not None:
        table = table.replace_schema_metadata({SUPPRESSED_METADATA: str(suppressed)})
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
        # A column known by no name here (a new question's) is typed by its first value; an
        # ISO 8601 time with its zone (a session's `started`) is a time.
        value = next((r[name] for r in rows if r.get(name) is not None), None)
        if isinstance(value, str) and _zoned_time(value) is not None:
            return pa.timestamp("us", tz="UTC")
        for kind, arrow in _INFERRED:
            if isinstance(value, kind):
                return arrow(pa)
        return pa.string()

    def cell(value: Any, kind: Any) -> Any:
        if isinstance(value, str) and pa.types.is_timestamp(kind):
            return _zoned_time(value)
        if value is None or isinstance(value, (int, float, bool, datetime)):
            if isinstance(value, datetime) and not pa.types.is_timestamp(kind):
                return value.isoformat()
            return value
        if isinstance(value, uuid.UUID):
            return str(value)
        return value if isinstance(value, str) else str(value)

    types = {c: arrow_type(c) for c in columns}
    schema = pa.schema([pa.field(c, types[c]) for c in columns])
    arrays = [
        pa.array([cell(r.get(c), types[c]) for r in rows], type=types[c]) for c in columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _parquet_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "Parquet export needs pyarrow on the server, which is not installed"
         " (pip install 'dream-usage[export]'); format=csv works without it"},
        status_code=415,
    )  # fmt: skip


def _file_response(
    name: str, fmt: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], suppressed: int
) -> Response:
    if fmt == "parquet":
        try:
            body = parquet_bytes(columns, rows, suppressed)
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
            SUPPRESSED_HEADER: str(suppressed),
        },
    )


def _check_params(request: Request, question: Question[Any]) -> None:
    known = FILTER_PARAMS | question.exported | {"query"}
    for name in request.query_params:
        if name not in known:
            raise _error(name, f"unknown parameter for query={question.name}; known: "
                               f"{', '.join(sorted(known))}")  # fmt: skip


def _params(question: Question[Any], request: Request, values: dict[str, Any]) -> Params:
    """The question's parameters from those the request gave (the rest take its defaults);
    ``limit`` as the export reads it (its own default, and the question's cap)."""
    given = {name: values[name] for name in question.exported if name in request.query_params}
    for name, field in question.fields.items():
        if field.is_required() and name not in given:
            choices = getattr(field.annotation, "__args__", ())
            also = f" ({' | '.join(choices)})" if choices else ""
            raise _error(name, f"query={question.name} needs `{name}`{also}")
    try:  # a parameter shared by questions (_SHARED) was validated as text only
        question.params.model_validate({k: v for k, v in given.items() if k != "limit"})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0])
        raise _error(name, f"query={question.name}: {first['msg']}", given.get(name)) from None
    if question.export is not None:
        given["limit"] = question.export.rows(values["limit"])
    # Each value was validated by its Query(); the export's limit may exceed the endpoint's.
    return cast(Params, question.params.model_construct(**given))


def _pages(
    question: Question[Any], analytics: Analytics, f: Filters, params: Params,
    shown: Disclosure | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Up to ``params.limit`` rows of a paged question, a keyset page at a time."""
    limit = int(params.model_dump()["limit"])  # paged questions take a limit
    count, cursor = 0, None
    while count < limit:
        page = params.model_copy(update={"limit": min(_PAGE, limit - count), CURSOR: cursor})
        answer = question.ask(analytics, f, page, shown)
        count += len(answer.items)
        cursor = answer.next_cursor
        if answer.items:
            yield answer.items
        if cursor is None:
            break


def spool(
    question: Question[Any], analytics: Analytics, f: Filters, params: Params, fmt: str,
    shown: Disclosure | None = None, catalog: Catalog | None = None,
) -> tuple[Any, int]:
    """A paged question's export written page by page (Parquet: a row group per page) to a
    spooled file, so memory holds one page whatever the export's size (up to a million rows);
    returns the file, rewound, and the row count (for ``X-Row-Count``). With ``catalog``, the
    product's columns are beside ``app``."""
    columns = question.columns(params)
    pages = _pages(question, analytics, f, params, shown)
    if catalog is not None:
        columns = with_product_columns(columns)
        pages = (enrich_rows(page, catalog) for page in pages)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    count = 0
    try:
        if fmt == "parquet":
            pq = _parquet()
            writer = None
            for page in pages:
                table = arrow_table(columns, page)
                writer = writer or pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write_table(table)
                count += len(page)
            if writer is None:  # no rows: still a valid file with the columns
                pq.write_table(arrow_table(columns, []), out, compression="zstd")
            else:
                writer.close()
        else:
            out.write(render(columns, []).encode("utf-8"))  # the header
            for page in pages:
                out.write(render(columns, page).split("\r\n", 1)[1].encode("utf-8"))
                count += len(page)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, count


def _spooled_response(out: Any, count: int, name: str, fmt: str) -> Response:
    def chunks() -> Iterator[bytes]:
        with out:
            while chunk := out.read(1024 * 1024):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=PARQUET_MEDIA_TYPE if fmt == "parquet" else CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Row-Count": str(count),
        },
    )


def _export_parameters() -> list[inspect.Parameter]:
    """``query``, ``format``, ``limit`` and every question's own parameters (optional here:
    which apply depends on ``query``)."""
    names = tuple(q.name for q in QUESTIONS)
    parameters = [
        inspect.Parameter("query", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
            Literal[names], Query(description="Which question to export.")]),
        inspect.Parameter("format", inspect.Parameter.KEYWORD_ONLY, default="csv", annotation=(
            Annotated[ExportFormat, Query(description="csv | parquet")])),
        inspect.Parameter("limit", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=(
            Annotated[int | None, Query(ge=1, le=MAX_EXPORT_ROWS,
                                        description="Rows (or apps, values).")])),
    ]  # fmt: skip
    seen = {"limit", CURSOR}
    for question in QUESTIONS:
        for name, field in question.fields.items():
            if name not in seen:
                seen.add(name)
                optional = cast(Any, field.annotation) | None if field.is_required() else None
                if name in _SHARED:  # each question checks its own values (_params)
                    field = FieldInfo(default=None, description=f"By `query`: {_SHARED[name]}.")
                    optional = str | None
                parameters.append(query_param(name, field, annotation=optional,
                                              default=None if optional else field.default))  # fmt: skip
    return parameters


def _shared_params() -> dict[str, str]:
    """The parameters several questions declare with different types (top-apps' and usage's
    ``group_by``), each with what it takes per question (``usage``: ``faculty | os | …``)."""
    found: dict[str, dict[str, Any]] = {}
    for question in QUESTIONS:
        for name, field in question.fields.items():
            found.setdefault(name, {})[question.name] = field.annotation
    return {
        name: "; ".join(f"{q}: {' | '.join(_choices(a))}" for q, a in by.items())
        for name, by in found.items() if len({repr(a) for a in by.values()}) > 1
    }  # fmt: skip


def _choices(annotation: Any) -> list[str]:
    """The values a ``Literal`` (or an optional one) allows."""
    args = get_args(annotation)
    return [c for a in args if a is not type(None)
            for c in ([a] if isinstance(a, str) else _choices(a))]  # fmt: skip


_SHARED = _shared_params()


def export_router(get_analytics: Callable[[], Analytics]) -> APIRouter:
    """``GET /v1/export`` over ``get_analytics()`` (called on first use, then cached)."""
    router = APIRouter(tags=["export"])
    analytics = cache(get_analytics)  # built on first use: the database is touched only then

    async def export(request: Request, f: Filters, query: str, format: str,
                     **values: Any) -> Response:  # fmt: skip
        question = BY_NAME[query]
        _check_params(request, question)
        params = _params(question, request, values)
        a = analytics()
        name = question.file_name(params)
        shown = Disclosure.of(request.state)  # the caller's floor (web/access.py)
        catalog = catalog_of(request.app.state)  # the product's columns beside each app
        if question.paged:  # rows: only for roles the floor does not hold (Question.role)
            await _answer(lambda: check_known(a, f, catalog, shown.floor))
            try:
                out, count = await _answer(
                    lambda: spool(question, a, f, params, format, shown, catalog))
            except ParquetUnavailable:
                return _parquet_unavailable()
            return _spooled_response(out, count, name, format)
        answer = await _answer(lambda: asked(question, a, f, params, shown, catalog))
        return _file_response(name, format, with_product_columns(question.columns(params)),
                              enrich_rows(answer.items, catalog), shown.suppressed)  # fmt: skip

    export.__signature__ = signature(*_export_parameters())  # type: ignore[attr-defined]
    router.add_api_route(
        "/v1/export",
        export,
        methods=["GET"],
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
                  "description": "The file; `X-Row-Count` says how many rows it holds,"
                  " `X-Suppressed-Rows` how many the k-anonymity floor withheld (Parquet:"
                  " also in the file's metadata, `dream.suppressed_rows`)."},
            415: {"description": "format=parquet and pyarrow is not installed on the server."},
            422: {"description": "An unknown or invalid parameter; the error names it."},
        },
    )  # fmt: skip
    return router


__all__ = ["EXTRA_PARAMS", "export_router", "parquet_bytes", "spool"]
