"""The analytics api: ``/v1/analytics/{top-apps,usage,breakdown}``, ``/v1/processes`` and the
pickers ``/v1/users``, ``/v1/faculties``, ``/v1/hosts``. All ``GET``, all filters optional."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
import psycopg
import psycopg.errors
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dream.analytics.csv import csv_response, wants_csv
from dream.analytics.filters import (
    Bucket,
    Dimension,
    Filters,
    FilterError,
    Metric,
    Moment,
    OperatingSystem,
    Source,
)
from dream.analytics.queries import METRIC_FIELDS, Analytics
from dream.app import Dream
from dream.errors import StorageError
from dream.text import storable_text

T = TypeVar("T")

FILTER_PARAMS = frozenset(
    {"faculty", "os", "user", "host", "app", "from", "to", "include_system", "format"}
)
Format = Literal["json", "csv"]


# ---------------------------------------------------------------------- response models


class Metrics(BaseModel):
    users: int = Field(description="Distinct users of the matching snapshots.")
    hosts: int = Field(description="Distinct hosts of the matching snapshots.")
    snapshots: int = Field(description="Snapshots in which a matching process appeared.")
    processes: int = Field(description="Matching process rows.")
    avg_cpu_percent: float | None = Field(description="Mean %CPU over processes reporting it.")
    avg_rss_kb: float | None = Field(description="Mean resident memory (KiB) per process.")


class TopApp(Metrics):
    app: str


_METRICS_EXAMPLE = {"users": 41, "hosts": 23, "snapshots": 1180, "processes": 1432,
                    "avg_cpu_percent": 3.125, "avg_rss_kb": 184220.5}  # fmt: skip
_FILTERS_EXAMPLE = {"faculty": "law", "os": "windows", "user": None, "host": None, "app": None,
                    "from": "2026-11-01T00:00:00+00:00", "to": None, "include_system": False}  # fmt: skip


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class TopApps(BaseModel):
    model_config = _examples(
        {"items": [{"app": "winword", **_METRICS_EXAMPLE}], "filters": _FILTERS_EXAMPLE,
         "source": "rollup"}
    )  # fmt: skip

    items: list[TopApp]
    filters: dict[str, Any]
    source: Literal["rollup", "raw"] = Field(description="What answered: rollups or raw rows.")


class UsagePoint(Metrics):
    bucket: datetime


class UsageSeries(BaseModel):
    group: str | None = Field(description="The `group_by` value; null without `group_by`.")
    points: list[UsagePoint]


class Usage(BaseModel):
    model_config = _examples(
        {"bucket": "week", "group_by": "faculty",
         "series": [{"group": "engineering",
                     "points": [{"bucket": "2026-11-02T00:00:00Z", **_METRICS_EXAMPLE}]}],
         "filters": {**_FILTERS_EXAMPLE, "app": "matlab", "faculty": None, "os": None},
         "source": "rollup"}
    )  # fmt: skip

    bucket: str
    group_by: str | None
    series: list[UsageSeries]
    filters: dict[str, Any]
    source: Literal["rollup", "raw"]


class Breakdown(BaseModel):
    model_config = _examples(
        {"by": "os", "items": [{"os": "windows", **_METRICS_EXAMPLE}],
         "filters": _FILTERS_EXAMPLE, "source": "rollup"}
    )  # fmt: skip

    by: str
    items: list[dict[str, Any]] = Field(description="`{<by>: value, users, hosts, ...}` rows.")
    filters: dict[str, Any]
    source: Literal["rollup", "raw"]


class ProcessesPage(BaseModel):
    model_config = _examples(
        {"items": [{"collected_at": "2026-11-27T10:00:00Z",
                    "snapshot_id": "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10", "host": "law-pc-17",
                    "os": "windows", "user": "jdoe", "faculty": "law", "pid": 4312,
                    "process_user": "LAW-PC-17\\jdoe", "name": "WINWORD.EXE", "app": "winword",
                    "is_system": False, "rss_kb": 184220}],
         "next_cursor": "WyIyMDI2LTExLTI3VDEwOjAwOjAwKzAwOjAwIiwgIjBiNmY3YTNlIiwgIigwLDEpIl0",
         "filters": _FILTERS_EXAMPLE}
    )  # fmt: skip

    items: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")
    filters: dict[str, Any]


class Values(BaseModel):
    model_config = _examples(
        {"items": [{"user": "jdoe", **_METRICS_EXAMPLE}], "filters": _FILTERS_EXAMPLE}
    )

    items: list[dict[str, Any]]
    filters: dict[str, Any]


# ---------------------------------------------------------------------- parameters


def _error(param: str, message: str, value: Any = None) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", param), "msg": message, "input": value}]
    )


def _storable_query(request: Request) -> None:
    """Refuse any query parameter PostgreSQL could not compare with (NUL): a 422, not a 503."""
    for name, value in request.query_params.multi_items():
        for text in (name, value):
            try:
                storable_text(text)
            except ValueError as exc:
                raise _error(name, str(exc), value) from None


def filters(
    request: Request,
    faculty: Annotated[str | None, Query(min_length=1, max_length=64, examples=["law"])] = None,
    os: Annotated[OperatingSystem | None, Query()] = None,
    user: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    host: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    app: Annotated[str | None, Query(min_length=1, max_length=256, examples=["matlab"])] = None,
    from_: Annotated[
        Moment | None,
        Query(alias="from", description="ISO 8601, inclusive; a bare date/time is UTC."),
    ] = None,
    to: Annotated[Moment | None, Query(description="ISO 8601, exclusive.")] = None,
    include_system: Annotated[
        bool, Query(description="Count operating-system processes too.")
    ] = False,
) -> Filters:
    """The filters of every analytics endpoint; also guards all of its query parameters."""
    _storable_query(request)
    alias = getattr(request.app.state, "user_alias", None)
    if user is not None and alias is not None:
        user = alias(user)  # user names are stored pseudonymized: ask the same way
    if from_ is not None and to is not None and from_ >= to:  # both UTC already (Moment)
        raise _error("from", "must be before `to` (`from` is inclusive, `to` exclusive)",
                     request.query_params.get("from"))  # fmt: skip
    try:
        return Filters.model_validate({"faculty": faculty, "os": os, "user": user, "host": host,
                                       "app": app, "from": from_, "to": to,
                                       "include_system": include_system})  # fmt: skip
    except ValidationError as exc:  # host/faculty normalization (dream.text)
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else "from"
        raise _error(param, first["msg"], request.query_params.get(param)) from None


def only(*extra: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters the endpoint does not know (typos answer 422)."""
    known = FILTER_PARAMS | set(extra)

    def check(request: Request) -> None:
        for name in request.query_params:
            if name not in known:
                raise _error(name, f"unknown parameter; known: {', '.join(sorted(known))}",
                             request.query_params[name])  # fmt: skip

    return check


FiltersDep = Annotated[Filters, Depends(filters)]
FormatParam = Annotated[Format | None, Query(description="`csv` = Accept: text/csv.")]
SourceParam = Annotated[
    Source,
    Query(description="`auto` reads rollups when `from`/`to` are whole hours, else raw rows."),
]


# Analytics waits in these threads only: slow questions cannot take every worker thread the
# api's other requests need (beyond, they wait without a thread for one of these).
_THREADS = anyio.CapacityLimiter(16)


async def _answer(call: Callable[[], T]) -> T:
    try:
        return await anyio.to_thread.run_sync(call, limiter=_THREADS)
    except FilterError as exc:
        raise _error(exc.param, exc.message, exc.value) from None
    except psycopg.errors.QueryCanceled as exc:
        raise HTTPException(
            503,
            "the query ran longer than DREAM_QUERY_TIMEOUT_S and was cancelled: narrow the"
            " filters or the range (whole hours read the rollups)",
            headers={"Retry-After": "30"},
        ) from exc
    except psycopg.Error as exc:
        raise StorageError(str(exc)) from exc


# ---------------------------------------------------------------------- the router


def analytics_router(get_analytics: Callable[[], Analytics]) -> APIRouter:
    """The analytics endpoints over ``get_analytics()`` (called on first use, then cached)."""
    router = APIRouter(tags=["analytics"])
    analytics = cache(get_analytics)  # built on first use: the database is touched only then

    @router.get(
        "/v1/analytics/top-apps",
        response_model=TopApps,
        dependencies=[Depends(only("limit", "metric", "source"))],
        summary="Applications ranked by a metric",
        description=(
            "The most used applications under the filters, ordered by `metric` (default `users`:"
            " distinct users who ran the app). *Most used application by law students on"
            " Windows*: `top-apps?faculty=law&os=windows&limit=1`."
        ),
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def top_apps(
        request: Request,
        f: FiltersDep,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        metric: Annotated[Metric, Query()] = "users",
        format: FormatParam = None,
        source: SourceParam = "auto",
    ) -> Any:
        answer = await _answer(
            lambda: analytics().top_apps(f, metric=metric, limit=limit, source=source)
        )
        if wants_csv(request, format):
            return csv_response("top-apps", ("app", *METRIC_FIELDS), answer.items)
        return {"items": answer.items, "filters": f.as_dict(), "source": answer.source}

    @router.get(
        "/v1/analytics/usage",
        response_model=Usage,
        dependencies=[Depends(only("bucket", "group_by", "source"))],
        summary="A time series per group",
        description=(
            "Metrics per time bucket (UTC; weeks start on Monday), one series per value of"
            " `group_by`. *MATLAB in engineering by week*:"
            " `usage?app=matlab&faculty=engineering&bucket=week`."
        ),
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def usage(
        request: Request,
        f: FiltersDep,
        bucket: Annotated[Bucket, Query()] = "day",
        group_by: Annotated[Dimension | None, Query()] = None,
        format: FormatParam = None,
        source: SourceParam = "auto",
    ) -> Any:
        answer = await _answer(
            lambda: analytics().usage(f, bucket=bucket, group_by=group_by, source=source)
        )
        if wants_csv(request, format):
            return csv_response("usage", ("group", "bucket", *METRIC_FIELDS), answer.items)
        series: dict[str | None, list[dict[str, Any]]] = {}
        for row in answer.items:
            point = {k: v for k, v in row.items() if k != "group"}
            series.setdefault(row["group"], []).append(point)
        return {
            "bucket": bucket,
            "group_by": group_by,
            "series": [{"group": g, "points": pts} for g, pts in series.items()],
            "filters": f.as_dict(),
            "source": answer.source,
        }

    @router.get(
        "/v1/analytics/breakdown",
        response_model=Breakdown,
        dependencies=[Depends(only("by", "metric", "limit", "source"))],
        summary="Counts per faculty, OS, user, host or app",
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def breakdown(
        request: Request,
        f: FiltersDep,
        by: Annotated[Dimension, Query()],
        metric: Annotated[Metric, Query(description="Order by (descending).")] = "users",
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
        format: FormatParam = None,
        source: SourceParam = "auto",
    ) -> Any:
        answer = await _answer(
            lambda: analytics().breakdown(f, by=by, metric=metric, limit=limit, source=source)
        )
        if wants_csv(request, format):
            return csv_response(f"breakdown-{by}", (by, *METRIC_FIELDS), answer.items)
        return {"by": by, "items": answer.items, "filters": f.as_dict(), "source": answer.source}

    @router.get(
        "/v1/processes",
        response_model=ProcessesPage,
        dependencies=[Depends(only("limit", "cursor"))],
        summary="Raw process rows under the filters, keyset-paginated",
        description=(
            "Rows in (collected_at, snapshot, listing order) order. Pass `next_cursor` back as"
            " `cursor` for the next page. `include_system=false` (default) leaves system"
            " processes out, like every analytics endpoint."
        ),
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def processes(
        request: Request,
        f: FiltersDep,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        format: FormatParam = None,
    ) -> Any:
        rows, next_cursor = await _answer(
            lambda: analytics().processes(f, limit=limit, cursor=cursor)
        )
        if wants_csv(request, format):
            columns = tuple(rows[0]) if rows else ("collected_at", "snapshot_id")
            response = csv_response("processes", columns, rows)
            if next_cursor:
                response.headers["X-Next-Cursor"] = next_cursor
            return response
        return {"items": rows, "next_cursor": next_cursor, "filters": f.as_dict()}

    def picker(path: str, dimension: str, plural: str) -> None:
        @router.get(
            path,
            response_model=Values,
            dependencies=[Depends(only("q", "limit"))],
            summary=f"The {plural} seen under the filters (for pickers)",
            name=f"list_{plural}",
            responses={200: {"content": {"text/csv": {}}}},
        )
        async def values(
            request: Request,
            f: FiltersDep,
            q: Annotated[
                str | None, Query(max_length=256, description="Case-insensitive prefix.")
            ] = None,
            limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
            format: FormatParam = None,
        ) -> Any:
            answer = await _answer(
                lambda: analytics().breakdown(f, by=dimension, metric=None, limit=limit, prefix=q)
            )
            if wants_csv(request, format):
                return csv_response(plural, (dimension, *METRIC_FIELDS), answer.items)
            return {"items": answer.items, "filters": f.as_dict()}

    picker("/v1/users", "user", "users")
    picker("/v1/faculties", "faculty", "faculties")
    picker("/v1/hosts", "host", "hosts")
    return router


def router_for(dream: Dream) -> APIRouter:
    """The analytics router over ``dream``'s connection pool (what ``create_app`` mounts)."""
    return analytics_router(lambda: analytics_for(dream))


def analytics_for(dream: Dream) -> Analytics:
    """Analytics over ``dream``'s analytics pool, the raw fallback bounded by its settings."""
    window = timedelta(days=dream.settings.raw_window_max_days)
    return Analytics(dream.analytics_db.pool, raw_window_max=window)
