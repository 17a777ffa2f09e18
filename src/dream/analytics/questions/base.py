"""What a question is: its name, parameters, answer columns, how it runs and how it answers.

Every door to the analytics (the REST route, ``/v1/export``, CSV, ``dream query``,
``dream.client.Client``) is generated from these entries, so a question is written once. This
module imports no web framework and no database driver: the Python client reads it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from dream.analytics.products import with_catalog
from dream.analytics.questions.answers import rows_model

if TYPE_CHECKING:
    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics, Answer

P = TypeVar("P", bound=BaseModel)

# The parameter a paged question is continued with; the export follows it itself.
CURSOR = "cursor"


def items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a JSON answer that lists them under ``items`` (most questions)."""
    return list(body["items"])


@dataclass(frozen=True, slots=True)
class ExportLimit:
    """``limit`` in ``/v1/export``: its default there and, when the question's own maximum
    must hold in the file too, that cap (larger values are cut to it)."""

    default: int
    cap: int | None = None

    def rows(self, asked: int | None) -> int:
        n = self.default if asked is None else asked
        return n if self.cap is None else min(n, self.cap)


@dataclass(frozen=True, slots=True)
class Question(Generic[P]):
    """One research question, from which every way of asking it is built."""

    name: str  # `/v1/export?query=NAME`, `dream query NAME`
    path: str  # the REST route
    params: type[P]  # its own parameters besides the filters: validation, defaults, help
    run: Callable[[Analytics, Filters, P], Answer]  # the query
    columns: Callable[[P], tuple[str, ...]]  # the answer's columns (CSV, Parquet, tables)
    summary: str
    description: str | None = None
    # The JSON answer; it keeps only the keys it declares. None: the rows, the filters and the
    # source (answers.Rows), documented with ``example``, one row.
    response_model: type[BaseModel] | None = None
    example: dict[str, Any] | None = None
    operation: str | None = None  # the route's name (OpenAPI operationId); default from name
    file: str | None = None  # download name, formatted with the parameters; default name
    title: str | None = None  # the `dream query` table's title, formatted likewise
    method: str | None = None  # the Client method; default name with underscores
    positional: tuple[str, ...] = ()  # Client parameters also given by position
    export: ExportLimit | None = None  # None: the question takes no `limit` in the export
    paged: bool = False  # answers a page and a `next_cursor` to continue from
    body: Callable[[Answer, Filters, P], dict[str, Any]] | None = None  # else the default
    rows: Callable[[dict[str, Any]], list[dict[str, Any]]] = items  # JSON answer → rows

    @property
    def answer_model(self) -> type[BaseModel]:
        name = "".join(part.title() for part in self.name.split("-"))
        return with_catalog(self.response_model or rows_model(name, self.example))

    @property
    def route_name(self) -> str:
        return self.operation or self.name.replace("-", "_")

    @property
    def method_name(self) -> str:
        return self.method or self.name.replace("-", "_")

    @property
    def fields(self) -> dict[str, FieldInfo]:
        return self.params.model_fields

    @property
    def exported(self) -> frozenset[str]:
        """The parameters ``/v1/export?query=NAME`` takes besides the filters."""
        names = set(self.fields) - {CURSOR, "limit"}
        return frozenset(names | ({"limit"} if self.export else set()))

    def file_name(self, params: P) -> str:
        return (self.file or self.name).format(**params.model_dump())

    def table_title(self, params: P) -> str:
        return (self.title or self.summary).format(**params.model_dump())

    def answer(self, answer: Answer, filters: Filters, params: P) -> dict[str, Any]:
        """The JSON answer: the parameters, rows, filters, source, cursor and coverage (of which
        the response model keeps what it declares), unless the question shapes its own."""
        if self.body is not None:
            return self.body(answer, filters, params)
        return {**params.model_dump(), "items": answer.items, "filters": filters.as_dict(),
                "source": answer.source, "next_cursor": answer.next_cursor,
                "coverage": answer.coverage}  # fmt: skip
