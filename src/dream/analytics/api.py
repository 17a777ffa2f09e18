"""The analytics api, one ``GET`` route per question of the registry (``questions``): the
filters every question takes, its own parameters, its JSON or CSV answer. All filters optional.

The router is given how to reach the analytics (``get_analytics``), not the application: it
needs nothing else, and the database is touched only when a question is first asked.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, get_args

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from dream.analytics.calendar import with_term
from dream.analytics.csv import csv_response, wants_csv
from dream.analytics.filters import Filters, FilterError, Moment, OperatingSystem
from dream.analytics.known import asked, unknown_value
from dream.analytics.products import (
    UnknownCategory,
    app_ids,
    catalog_of,
    enrich,
    enrich_rows,
    stored_catalogs,
    with_product_columns,
)
from dream.analytics.queries import Analytics, Answer
from dream.catalog import Catalog
from dream.analytics.questions import QUESTIONS, Question
from dream.analytics.questions.base import Disclosure
from dream.storage.errors import storage_errors
from dream.text import storable_text

T = TypeVar("T")

FILTER_PARAMS = frozenset(
    {"faculty", "os", "user", "host", "app", "from", "to", "include_system", "format", "product",
     "category", "term"}
)
Format = Literal["json", "csv"]
# A CSV or Parquet answer's rows withheld by the k-anonymity floor (JSON: `suppressed`).
SUPPRESSED_HEADER = "X-Suppressed-Rows"

# The constraints of a parameter's field that its Query() declares (and so documents).
_CONSTRAINTS = ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern")
_FIELD_DEFAULT: Any = object()  # query_param(): the default the field declares


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
    faculty: Annotated[list[str] | None, Query(
        examples=[["law"]], description="Several: any of them (`faculty=law&faculty=engineering`)."
    )] = None,  # fmt: skip
    os: Annotated[list[str] | None, Query(  # each checked by Filters: a 422 naming `os`
        description=f"{' | '.join(get_args(OperatingSystem))}; several: any of them."
    )] = None,  # fmt: skip
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
    product: Annotated[str | None, Query(min_length=1, max_length=256, examples=["MATLAB"],
                                         description="A product's id or name (any case).")] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=64, examples=["statistics"],
                                          description="A catalog category's products.")] = None,
    term: Annotated[str | None, Query(min_length=1, max_length=64, examples=["2026-autumn"],
                                      description="An academic term (DREAM_CALENDAR_FILE): its"
                                      " campus days, instead of `from`/`to`.")] = None,
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
        apps = app_ids(catalog_of(request.app.state), app, product, category)
    except UnknownCategory as exc:
        raise _error("category", str(exc), exc.value) from None
    try:
        return Filters.model_validate(with_term(getattr(request.app.state, "calendar", None), {
            "faculty": faculty, "os": os, "user": user, "host": host, "app": app, "from": from_,
            "to": to, "apps": apps, "include_system": include_system, "product": product,
            "category": category, "term": term}))  # fmt: skip
    except FilterError as exc:
        raise _error(exc.param, exc.message, exc.value) from None
    except ValidationError as exc:  # host/faculty normalization (dream.text), an OS not listed
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else "from"
        value = first.get("input", request.query_params.get(param))
        message = first["msg"]
        if param == "os" and isinstance(value, str) and first["type"] == "literal_error":
            message = f"{unknown_value(value, get_args(OperatingSystem))}; {message}"
        raise _error(param, message, value) from None


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


def query_param(
    name: str, field: FieldInfo, *, annotation: Any = None, default: Any = _FIELD_DEFAULT
) -> inspect.Parameter:
    """A question's parameter as a FastAPI query parameter: its type, default, constraints and
    description as its model declares them (``annotation``/``default`` override them)."""
    constraints = {
        key: getattr(m, key) for m in field.metadata for key in _CONSTRAINTS if hasattr(m, key)
    }
    query = Query(description=field.description, **constraints)
    if default is _FIELD_DEFAULT:
        default = inspect.Parameter.empty if field.is_required() else field.default
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default,
        annotation=Annotated[annotation or field.annotation, query],
    )  # fmt: skip


def signature(*parameters: inspect.Parameter) -> inspect.Signature:
    """The signature FastAPI reads a generated endpoint's parameters from."""
    fixed = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("f", inspect.Parameter.KEYWORD_ONLY, annotation=FiltersDep),
    ]
    return inspect.Signature([*fixed, *parameters], return_annotation=Any)


# Analytics waits in these threads only: slow questions cannot take every worker thread the
# api's other requests need (beyond, they wait without a thread for one of these).
_THREADS = anyio.CapacityLimiter(16)


async def _answer(call: Callable[[], T]) -> T:
    try:
        with storage_errors():  # a cancelled statement: StatementTimeout (the api's 503)
            return await anyio.to_thread.run_sync(call, limiter=_THREADS)
    except FilterError as exc:
        raise _error(exc.param, exc.message, exc.value) from None


# ---------------------------------------------------------------------- the router


def _add_route(router: APIRouter, question: Question[Any], analytics: Callable[[], Analytics]) -> None:
    """``GET question.path``: the question's JSON answer, or its CSV (``Accept``/``format``)."""

    async def endpoint(request: Request, f: Filters, format: Format | None = None,
                       **values: Any) -> Any:  # fmt: skip
        params = question.params.model_validate(values)
        shown = Disclosure.of(request.state)  # the caller's floor (web/access.py)
        catalog = catalog_of(request.app.state)
        if not wants_csv(request, format):
            answer, stored = await _answer(lambda: (_covered(question, f, params, shown, catalog),
                                                    stored_catalogs(analytics(), f)))  # fmt: skip
            body = question.answer(answer, f, params, shown)
            return enrich(body, catalog, stored)
        answer = await _answer(lambda: asked(question, analytics(), f, params, shown, catalog))
        response = csv_response(  # the product's columns beside each app, as in exports
            question.file_name(params), with_product_columns(question.columns(params)),
            enrich_rows(answer.items, catalog),
        )
        if answer.next_cursor:
            response.headers["X-Next-Cursor"] = answer.next_cursor
        response.headers[SUPPRESSED_HEADER] = str(shown.suppressed)
        return response

    def _covered(question: Question[Any], f: Filters, params: Any, shown: Disclosure,
                 catalog: Catalog) -> Answer:  # fmt: skip
        """The answer and its coverage (a JSON answer says it; a CSV file holds rows only)."""
        answer = asked(question, analytics(), f, params, shown, catalog)
        answer.coverage = analytics().coverage(f, getattr(params, "cohort", "host"))
        return answer

    own = [query_param(name, field) for name, field in question.fields.items()]
    format_param = inspect.Parameter(
        "format", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=FormatParam
    )
    endpoint.__signature__ = signature(*own, format_param)  # type: ignore[attr-defined]
    router.add_api_route(
        question.path,
        endpoint,
        methods=["GET"],
        response_model=question.answer_model,
        dependencies=[Depends(only(*question.fields))],
        summary=question.summary,
        description=question.description,
        name=question.route_name,
        responses={200: {"content": {"text/csv": {}}}},
    )


def analytics_router(get_analytics: Callable[[], Analytics]) -> APIRouter:
    """The analytics endpoints over ``get_analytics()`` (called on first use, then cached)."""
    router = APIRouter(tags=["analytics"])
    analytics = cache(get_analytics)  # built on first use: the database is touched only then
    for question in QUESTIONS:
        _add_route(router, question, analytics)
    return router


__all__ = ["FILTER_PARAMS", "SUPPRESSED_HEADER", "FiltersDep", "analytics_router", "filters", "only", "query_param"]
