"""The cohort questions: ``top-apps`` with shares of active users, by the user's or the machine's
cohort, and ``compare`` (two cohorts' shares, intervals and a test). *Do engineering students
use MATLAB more than science students*: ``compare?app=matlab&by=faculty&a=engineering
&b=science&cohort=user``.

Their queries and statistics need the database driver, scipy and statsmodels, which the
question registry (read by the Python client too) never imports: they are imported when the
question runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dream.analytics.questions.answers import Coverage, Disclosed
from dream.analytics.questions.base import ExportLimit, Question

if TYPE_CHECKING:
    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics, Answer

Cohort = Literal["host", "user"]
# What a cohort is drawn by: the machine's or user's faculty, or a field of the directory.
CohortBy = Literal["faculty", "os", "programme", "role", "year"]
CohortField = Annotated[Cohort, Field(
    description="Whose faculty `faculty` (and `by=faculty`) means: `host`, the machine's (use"
    " of law-faculty machines); `user`, the user's in the directory as of the time of use (law"
    " students on any machine)."
)]  # fmt: skip
# top-apps' group_by giving a ranking per cohort (top_apps_per).
PerCohort = Literal["faculty", "os"]
SHARE_FIELDS = ("active_users", "share_users")  # what top-apps adds to each app's metrics
INTERVAL_FIELDS = ("share_ci95_lo", "share_ci95_hi")  # and the share's 95% Wilson interval


def top_apps(analytics: Analytics, filters: Filters, params: Any) -> Answer:
    """``top-apps`` by ``params.cohort``, each app with its share of active users and that
    share's 95% Wilson interval (a share of 3 users in 5 is no share of 300 in 500)."""
    from dream.analytics.cohorts import top_apps as run  # the database side: server only
    from dream.analytics.compare import wilson

    answer = run(analytics, filters, cohort=params.cohort, metric=params.metric,
                 limit=params.limit, source=params.source)  # fmt: skip
    for item in answer.items:
        users, active = item["users"], item["active_users"]
        ci = wilson(users, active) if active and 0 <= users <= active else None
        item.update(zip(INTERVAL_FIELDS, ci or (None, None), strict=True))
    return answer


def top_apps_per(analytics: Analytics, filters: Filters, params: Any) -> Answer:
    """``top-apps?group_by=faculty`` (``os``): a ranking per value of the dimension the filters
    let through (those ``breakdown`` finds), each exactly the top-apps that value alone as a
    filter answers, its rows carrying the value beside ``app``. One top-apps per value: the
    values are few (faculties, three systems), and each share is of that cohort's active
    users as it is alone."""
    from dream.analytics.cohorts import breakdown as values_of  # the database side: server only
    from dream.analytics.queries import Answer

    by = params.group_by
    found = values_of(analytics, filters, by=by, metric="users", limit=1000, source=params.source,
                      cohort=params.cohort)  # fmt: skip
    items: list[dict[str, Any]] = []
    source = found.source
    for value in sorted(item[by] for item in found.items):
        one = top_apps(analytics, filters.model_copy(update={by: (value,)}), params)
        items += [{**item, by: value} for item in one.items]
        source = one.source
    return Answer(items, source)


def breakdown(analytics: Analytics, filters: Filters, params: Any) -> Answer:
    """``breakdown``, each value with its share of active users (per faculty, OS or app)."""
    from dream.analytics.cohorts import breakdown as run  # the database side: server only

    return run(analytics, filters, by=params.by, metric=params.metric, limit=params.limit,
               source=params.source, cohort=params.cohort)  # fmt: skip


class CompareParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    a: Annotated[str, Field(min_length=1, max_length=256, description="The first cohort.",
                            examples=["engineering"])]  # fmt: skip
    b: Annotated[str, Field(min_length=1, max_length=256, description="The cohort compared.",
                            examples=["science"])]  # fmt: skip
    by: Annotated[
        CohortBy,
        Field(description="What the cohorts are values of (programme, role, year: the"
              " directory's)."),
    ] = "faculty"  # fmt: skip
    cohort: CohortField = "host"
    limit: Annotated[int, Field(ge=1, le=10_000, description="Apps listed without `app`.")] = 100

    @field_validator("a", "b")
    @classmethod
    def _normal(cls, value: str) -> str:
        return value.strip().lower()  # faculties, OS and roles are stored lowercase


# Hours per active user: with `app`/`product` only (a bootstrap per app would be slow).
HOURS_COLUMNS = tuple(f"{side}_{name}" for side in "ab"
                      for name in ("hours_per_active_user", "hours_ci95_lo", "hours_ci95_hi"))
COMPARE_COLUMNS = ("app", *(f"{side}_{name}" for side in "ab" for name in
                           ("users", "active_users", "share", "ci95_lo", "ci95_hi")),
                   "difference", "p_value", "q_value", "test", "warning",
                   *HOURS_COLUMNS)  # fmt: skip


class CompareSide(BaseModel):
    cohort: str
    users: int = Field(description="Active users of the cohort who used the app(s).")
    active_users: int = Field(description="Users of the cohort with any session in the range.")
    share: float | None = Field(description="users / active_users; null without active users.")
    ci95: list[float] | None = Field(description="95% Wilson interval of the share.")
    hours_per_active_user: float | None = Field(
        default=None, description="Mean hours of the app(s) per active user (0 for non-users).")
    hours_ci95: list[float] | None = Field(
        default=None, description="Its 95% bootstrap interval (scipy, percentile method).")


class Compare(Disclosed):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "by": "faculty", "cohort": "user",
        "a": {"cohort": "engineering", "users": 8, "active_users": 10, "share": 0.8,
              "ci95": [0.49, 0.943]},
        "b": {"cohort": "science", "users": 2, "active_users": 10, "share": 0.2,
              "ci95": [0.057, 0.51]},
        "difference": 0.6, "p_value": 0.0073, "test": "two_proportion_z", "warnings": [],
        "items": [], "filters": {"app": "matlab"}}]})  # fmt: skip

    by: str
    cohort: str
    a: CompareSide | None = Field(default=None, description="With `app`/`product`: cohort a.")
    b: CompareSide | None = None
    difference: float | None = Field(default=None, description="a's share minus b's.")
    p_value: float | None = None
    test: Literal["fisher_exact", "two_proportion_z"] | None = Field(
        default=None, description="Fisher's exact where an expected cell is under 5, else the"
        " two-proportion z-test."
    )
    warnings: list[str] = Field(default_factory=list, description="Small cells, empty cohorts.")
    items: list[dict[str, Any]] = Field(
        description="One row per app (the apps of `app`/`product` together: one row), largest"
        " absolute difference first, with Benjamini–Hochberg `q_value`s across the apps."
    )
    filters: dict[str, Any]
    coverage: Coverage | None = Field(default=None, description="Hosts that reported in the range.")


def _single(filters: Filters) -> bool:
    return filters.app is not None or filters.product is not None


def _run(analytics: Analytics, filters: Filters, params: CompareParams) -> Answer:
    from dream.analytics.compare import compare  # scipy, statsmodels: server only
    from dream.analytics.queries import Answer

    rows = compare(analytics._fetch, filters, by=params.by, a=params.a, b=params.b,
                   cohort=params.cohort, each=not _single(filters), limit=params.limit)  # fmt: skip
    return Answer(rows, "sessions")


def _side(row: dict[str, Any], side: str, name: str) -> dict[str, Any]:
    lo, hi = row[f"{side}_ci95_lo"], row[f"{side}_ci95_hi"]
    h_lo, h_hi = row[f"{side}_hours_ci95_lo"], row[f"{side}_hours_ci95_hi"]
    return {"cohort": name, "users": row[f"{side}_users"],
            "active_users": row[f"{side}_active_users"], "share": row[f"{side}_share"],
            "ci95": None if lo is None else [lo, hi],
            "hours_per_active_user": row[f"{side}_hours_per_active_user"],
            "hours_ci95": None if h_lo is None else [h_lo, h_hi]}  # fmt: skip


def _body(answer: Any, filters: Filters, params: CompareParams) -> dict[str, Any]:
    body: dict[str, Any] = {"by": params.by, "cohort": params.cohort, "items": answer.items,
                            "filters": filters.as_dict(), "coverage": answer.coverage,
                            "warnings": sorted({r["warning"] for r in answer.items
                                                if r["warning"]})}  # fmt: skip
    if _single(filters) and answer.items:  # withheld by the floor: no sides
        row = answer.items[0]
        body.update(a=_side(row, "a", params.a), b=_side(row, "b", params.b),
                    difference=row["difference"], p_value=row["p_value"], test=row["test"])
    return body


def _compare_users(analytics: Analytics, filters: Filters, params: Any,
                   rows: list[dict[str, Any]], floor: int) -> list[int]:  # fmt: skip
    """The fewest users a row discloses: either cohort's active users, or its users of the
    app where any used it (a share of 1 in 40 names one person as much as a count of 1)."""
    return [min(r["a_active_users"], r["b_active_users"],
                *(n for n in (r["a_users"], r["b_users"]) if n > 0)) for r in rows]  # fmt: skip


COMPARE: Question[CompareParams] = Question(
    name="compare",
    path="/v1/analytics/compare",
    params=CompareParams,
    run=_run,
    columns=lambda p: COMPARE_COLUMNS,
    response_model=Compare,
    summary="Two cohorts' shares of active users who used an app, with intervals and a test",
    description=(
        "Per cohort (`by`: a faculty, OS, or the directory's programme, role or year; `cohort`:"
        " the machine's faculty or the user's), the active users (any session in the range),"
        " those who used the app, the share and its 95% Wilson interval; the difference and its"
        " p-value (Fisher's exact test where an expected cell is under 5, else the"
        " two-proportion z-test). Without `app` or `product`, every app used in either cohort,"
        " largest absolute difference first, with Benjamini–Hochberg q-values. *Do engineering"
        " students use MATLAB more than science students*: `compare?app=matlab&a=engineering"
        "&b=science&cohort=user`."
    ),
    title="{a} vs {b} by {by}",
    file="compare-by-{by}",  # a and b are free text: no header carries them
    positional=("a", "b"),
    export=ExportLimit(100, cap=10_000),
    body=_body,
    users=_compare_users,
    noised=False,  # exact shares, intervals and p-values: no DP release
)
