"""What a question is: its name, parameters, answer columns, how it runs and how it answers.

Every door to the analytics (the REST route, ``/v1/export``, CSV, ``dream query``,
``dream.client.Client``) is generated from these entries, so a question is written once. This
module imports no web framework and no database driver: the Python client reads it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from dream.analytics.products import with_catalog
from dream.analytics.questions.answers import rows_model
from dream.analytics.questions.noise import MECHANISM, add_noise, spans

if TYPE_CHECKING:
    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics, Answer

P = TypeVar("P", bound=BaseModel)

# The parameter a paged question is continued with; the export follows it itself.
CURSOR = "cursor"
# The request-state attribute holding a request's Disclosure (set by the web's role check).
DISCLOSURE = "dream_disclosure"

Rows = list[dict[str, Any]]
# The distinct users each row of an answer counts: (analytics, filters, params, rows, floor) →
# counts; a count may stop short of exact where it reaches the floor (a lower bound will do).
UsersOf = Callable[["Analytics", "Filters", Any, Rows, int], list[int]]
# The answer with each row's distinct users counted by the same query, as far as the floor
# (the last argument) needs: (analytics, filters, params, floor) → (answer, counts); counts None
# where that query could not count them (then ``Question.users`` does).
Counted = Callable[["Analytics", "Filters", Any, int], tuple["Answer", list[int] | None]]


def users_column(analytics: Analytics, filters: Filters, params: Any, rows: Rows,
                 floor: int) -> list[int]:  # fmt: skip
    """Each row's ``users``: the distinct users it aggregates, after every filter."""
    return [int(row.get("users") or 0) for row in rows]


@dataclass(slots=True)
class Disclosure:
    """What one request may be shown, and what it was: the k-anonymity floor of its caller
    (``min_users``: None for the roles that see every row) and, once answered, the rows it got
    and those withheld (what the audit trail records)."""

    min_users: int | None = None
    rows: int = 0
    suppressed: int = 0
    # Differential privacy (a DP key's answer): the epsilon it spends, and the key's spending
    # this month after it: {"spent", "budget", "period"} (the web's budget check sets them).
    epsilon: float | None = None
    spending: dict[str, Any] | None = None

    @property
    def floor(self) -> int | None:
        """The least distinct users a row must count to be shown (None: every row is)."""
        return self.min_users if self.min_users is not None and self.min_users > 1 else None

    def apply(self, question: Question[Any], analytics: Analytics, filters: Filters,
              params: Any, answer: Answer, counted: list[int] | None = None) -> Answer:  # fmt: skip
        """``answer`` without the rows counting fewer than ``min_users`` distinct users (each
        row's ``counted``, else ``question.users``). The one place the floor is enforced: every
        door (JSON, CSV, export, CLI, client) asks through ``Question.ask``. A question without
        a user count per row answers nothing under it. A differentially private answer's rows
        are noised after the floor judged them on their exact counts (noisy counts could let a
        row naming one person, a user picker's, through)."""
        floor = self.floor
        if floor is not None and answer.items:
            if counted is None:
                counted = question.users(analytics, filters, params, answer.items, floor)
            kept = [row for row, n in zip(answer.items, counted, strict=True) if n >= floor]
            self.suppressed += len(answer.items) - len(kept)
            answer.items = kept
        if self.epsilon is not None and answer.items:
            bounds = spans(answer.items, getattr(params, "bucket", None), filters.start,
                           filters.end, analytics.calendar)  # fmt: skip
            add_noise(answer.items, self.epsilon, bounds)
        self.rows += len(answer.items)
        return answer

    @classmethod
    def of(cls, state: Any) -> Disclosure:
        """The request's (``state``: its ``request.state``); one seeing everything if none was
        set (the analytics router mounted without the role check)."""
        found = getattr(state, DISCLOSURE, None)
        if found is None:
            found = cls()
            setattr(state, DISCLOSURE, found)
        return found


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
    # Who may ask: `steward` for rows (a `query` key reads aggregates only, see Disclosure).
    role: Literal["query", "steward"] = "query"
    users: UsersOf = users_column  # the distinct users of each answer row (the floor's count)
    counted: Counted | None = None  # the answer and that count at once, where it can be
    # False: no differentially private release (shares and tests of exact counts only): a DP
    # key is refused it (web/access.py) rather than answered exactly.
    noised: bool = True

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

    def ask(self, analytics: Analytics, filters: Filters, params: P,
            disclosure: Disclosure | None = None) -> Answer:  # fmt: skip
        """The question's answer, as much as ``disclosure`` lets its caller see."""
        shown = disclosure or Disclosure()
        counted = None
        if shown.floor is not None and self.counted is not None:
            answer, counted = self.counted(analytics, filters, params, shown.floor)
        else:
            answer = self.run(analytics, filters, params)
        return shown.apply(self, analytics, filters, params, answer, counted)

    def answer(self, answer: Answer, filters: Filters, params: P,
               disclosure: Disclosure | None = None) -> dict[str, Any]:  # fmt: skip
        """The JSON answer: the parameters, rows, filters, source, cursor and coverage (of which
        the response model keeps what it declares), unless the question shapes its own; and
        the rows withheld by the floor, and the floor."""
        if self.body is not None:
            body = self.body(answer, filters, params)
        else:
            body = {**params.model_dump(), "items": answer.items, "filters": filters.as_dict(),
                    "source": answer.source, "next_cursor": answer.next_cursor,
                    "coverage": answer.coverage}  # fmt: skip
        shown = disclosure or Disclosure()
        privacy = None
        if shown.epsilon is not None:
            privacy = {"epsilon": shown.epsilon, "mechanism": MECHANISM, **(shown.spending or {})}
        return {**body, "suppressed": shown.suppressed, "min_group_users": shown.min_users,
                "privacy": privacy}  # fmt: skip
