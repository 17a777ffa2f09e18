"""The questions. Adding one: an entry here (its parameters, columns, how it runs) and, when it
needs one, its named SQL in ``queries.sql``; routes, export, CSV, CLI and client follow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from dream.analytics import calendar
from dream.analytics.calendar import CALENDAR_BUCKETS, CalendarBucket
from dream.analytics.filters import (
    METRIC_COLUMN,
    METRIC_FIELDS,
    Bucket,
    Dimension,
    FilterError,
    Filters,
    Metric,
    Source,
)
from dream.analytics.products import Grouping, top_apps_by
from dream.analytics.questions.answers import (
    Breakdown,
    ProcessesPage,
    SessionsPage,
    TopApps,
    Usage,
    Values,
)
from dream.analytics.questions.base import ExportLimit, Question
from dream.analytics.questions.cohorts import (
    COMPARE,
    INTERVAL_FIELDS,
    SHARE_FIELDS,
    CohortField,
    PerCohort,
    breakdown,
    top_apps,
    top_apps_per,
)
from dream.analytics.questions.executables import EXECUTABLES
from dream.analytics.questions.hosts import with_fleet_health
from dream.snapshots import PROCESS_ROW_COLUMNS

PROCESS_COLUMNS = PROCESS_ROW_COLUMNS  # the processes question's rows: one stored process each
SESSION_COLUMNS = ("host", "user", "app", "version", "pid", "name", "os", "faculty", "started", "ended",
                   "duration_s", "samples", "cpu_seconds")  # fmt: skip

SourceField = Annotated[
    Source,
    Field(description="`auto` reads rollups when `from`/`to` are whole hours, else raw rows."),
]
MetricField = Annotated[Metric, Field(description="Order by (descending).")]


class Params(BaseModel):
    """A question's own parameters (the filters are every question's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TopAppsParams(Params):
    limit: Annotated[int, Field(ge=1, le=1000, description="How many applications (per"
                                " value of `group_by=faculty|os`).")] = 10  # fmt: skip
    metric: MetricField = "users"
    source: SourceField = "auto"
    group_by: Annotated[Literal[Grouping, PerCohort], Field(
        description="`product` (the catalog's), `executable` (as listed) or `version` (the"
        " product's): the last two answer from sessions; `faculty` or `os`: a ranking of `limit`"
        " products per value seen under the filters, each row naming its value."
    )] = "product"  # fmt: skip
    cohort: CohortField = "host"


def _top_apps(a: Any, f: Filters, p: TopAppsParams) -> Any:
    if p.group_by == "product":
        return top_apps(a, f, p)  # with each product's share of the cohort's active users
    if p.group_by == "faculty" or p.group_by == "os":  # (each compared: mypy narrows)
        return top_apps_per(a, f, p)  # each cohort's ranking, with its shares
    if p.cohort != "host":
        raise FilterError("cohort", f"group_by={p.group_by} answers by the machine's cohort"
                          " only (cohort=host)", p.cohort)  # fmt: skip
    return top_apps_by(a, f, by=p.group_by, metric=p.metric, limit=p.limit)


class UsageParams(Params):
    bucket: Annotated[Literal[Bucket, CalendarBucket], Field(  # one choice (one 422 message)
        description="Time bucket (UTC; weeks start on Monday), or of the academic calendar:"
                    " `term`, `teaching_week` (campus days; labelled `2026-autumn w3`),"
                    " `week_of_term` (the teaching weeks, a series per term, labelled `w3`)."
    )] = "day"  # fmt: skip
    group_by: Annotated[Dimension | None, Field(description="One series per value of this.")] = (
        None
    )
    metric: Annotated[Metric | None, Field(
        description="Order the series by this metric over the whole range, descending (summed"
        " over the points; `cpu` and `memory`: their mean); without it, by group. Every point"
        " carries every metric."
    )] = None  # fmt: skip
    source: SourceField = "auto"


class BreakdownParams(Params):
    by: Annotated[Dimension, Field(description="Count per value of this.")]
    metric: MetricField = "users"
    limit: Annotated[int, Field(ge=1, le=100_000, description="At most this many values.")] = 1000
    source: SourceField = "auto"
    cohort: CohortField = "host"


class PageParams(Params):
    limit: Annotated[int, Field(ge=1, le=10_000, description="Rows per page.")] = 100
    cursor: Annotated[
        str | None, Field(max_length=512, description="A page's `next_cursor`: the next page.")
    ] = None


class PickerParams(Params):
    q: Annotated[str | None, Field(max_length=256, description="Case-insensitive prefix.")] = None
    limit: Annotated[int, Field(ge=1, le=100_000, description="At most this many values.")] = 1000


class AppsParams(Params):
    q: Annotated[str | None, Field(max_length=256, description="Case-insensitive prefix.")] = None
    limit: Annotated[int, Field(ge=1, le=100_000, description="At most this many apps.")] = 1000
    source: SourceField = "auto"


class ConcurrencyParams(Params):
    bucket: Annotated[
        Literal["hour", "day", "week"], Field(description="Time bucket (UTC; weeks on Monday).")
    ] = "day"


def _usage(a: Any, f: Filters, p: UsageParams) -> Any:
    from dream.analytics.cohorts import usage_shares  # the database side: server only

    if p.bucket in CALENDAR_BUCKETS:  # folded from one range per term or teaching week
        answer = calendar.usage(a, f, bucket=p.bucket, group_by=p.group_by, source=p.source)
    else:
        answer = a.usage(f, bucket=p.bucket, group_by=p.group_by, source=p.source)
    return usage_shares(a, f, answer, bucket=p.bucket, group_by=p.group_by)


def _series(answer: Any, filters: Any, p: UsageParams) -> dict[str, Any]:
    """Usage rows as one series of points per group."""
    series: dict[str | None, list[dict[str, Any]]] = {}
    for row in answer.items:
        series.setdefault(row["group"], []).append({k: v for k, v in row.items() if k != "group"})
    ranked = list(series.items())
    if p.metric is not None:
        column = METRIC_COLUMN[p.metric]

        def weight(points: list[dict[str, Any]]) -> float:
            values = [v for point in points if (v := point.get(column)) is not None]
            if p.metric in ("cpu", "memory"):  # averages: their mean, not their sum
                return sum(values) / len(values) if values else 0.0
            return float(sum(values))

        ranked.sort(key=lambda kv: -weight(kv[1]))  # (stable: ties keep the groups' order)
    return {"bucket": p.bucket, "group_by": p.group_by, "metric": p.metric,
            "series": [{"group": g, "points": points} for g, points in ranked],
            "filters": filters.as_dict(), "source": answer.source,
            "coverage": answer.coverage}  # fmt: skip


def _points(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"group": s["group"], **p} for s in body["series"] for p in s["points"]]


_BUCKET = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _bucket_users(a: Any, f: Filters, p: ConcurrencyParams, rows: list[dict[str, Any]],
                  floor: int) -> list[int]:  # fmt: skip
    """Each concurrency bucket's distinct users where the timeline cannot count them (a filter
    it does not keep), as far as the floor needs: its peak (at most as many) where that reaches
    the floor, else also those ``usage`` counts in the bucket under the same filters (its users
    alone), asked only over the buckets in doubt (a session reaching into a bucket it was not
    sampled in is not counted there: the count errs low, never high)."""
    doubt = [row["bucket"] for row in rows if row["peak_users"] < floor]
    users: dict[Any, int] = {}
    if doubt:
        span = {"from_": max(f.start, min(doubt)), "to": min(f.end, max(doubt) + _BUCKET[p.bucket])}
        counted = a.usage(f.model_copy(update=span), bucket=p.bucket, users_only=True)
        users = {r["bucket"]: r["users"] for r in counted.items}
    return [max(row["peak_users"], users.get(row["bucket"], 0)) for row in rows]


def _counted(a: Any, f: Filters, p: ConcurrencyParams, floor: int
             ) -> tuple[Any, list[int] | None]:  # fmt: skip
    """The answer and its buckets' distinct users, in one question where the timeline answers
    (timeline.py: each hour's users kept beside its peaks), else none: ``_bucket_users``."""
    answer = a.concurrency(f, bucket=p.bucket, floor=floor)
    if not answer.items or "users" not in answer.items[0]:
        return answer, None
    return answer, [row.pop("users") for row in answer.items]


def _app_users(a: Any, f: Any, p: AppsParams, rows: list[dict[str, Any]], floor: int) -> list[int]:
    """Each listed application's distinct users, from ``breakdown`` by app under the filters."""
    counted = a.breakdown(f, by="app", metric=None, limit=p.limit, prefix=p.q, source=p.source)
    users = {r["app"]: r["users"] for r in counted.items}
    return [users.get(row["app"], 0) for row in rows]


def picker(dimension: Dimension, plural: str) -> Question[PickerParams]:
    """The values of ``dimension`` seen under the filters, with their metrics (for pickers)."""
    return Question(
        name=plural,
        path=f"/v1/{plural}",
        params=PickerParams,
        run=lambda a, f, p: a.breakdown(f, by=dimension, metric=None, limit=p.limit, prefix=p.q),
        columns=lambda p: (dimension, *METRIC_FIELDS),
        response_model=Values,
        summary=f"The {plural} seen under the filters (for pickers)",
        operation=f"list_{plural}",
        export=ExportLimit(1000),
    )


def paged(name: str, path: str, method: Callable[[Any], Callable[..., Any]],
          columns: tuple[str, ...], page: type[BaseModel], *, summary: str, description: str,
          title: str) -> Question[PageParams]:  # fmt: skip
    """A keyset-paginated list of rows: ``method(analytics)(filters, limit=, cursor=)``."""
    return Question(
        name=name,
        path=path,
        params=PageParams,
        run=lambda a, f, p: method(a)(f, limit=p.limit, cursor=p.cursor),
        columns=lambda p: columns,
        response_model=page,
        summary=summary,
        description=description,
        title=title,
        export=ExportLimit(100_000),
        paged=True,
        role="steward",  # rows: one person's processes and window titles
    )


QUESTIONS: tuple[Question[Any], ...] = (
    Question(
        name="top-apps",
        path="/v1/analytics/top-apps",
        params=TopAppsParams,
        run=_top_apps,
        columns=lambda p: ("app", *(() if p.group_by == "product" else (p.group_by,)),
                           *METRIC_FIELDS, *SHARE_FIELDS, *INTERVAL_FIELDS),
        response_model=TopApps,
        summary="Applications ranked by a metric",
        description=(
            "The most used applications under the filters, ordered by `metric` (default `users`:"
            " distinct users who ran the app). *Most used application by law students on"
            " Windows*: `top-apps?faculty=law&os=windows&limit=1`. Each app's `share_users` is"
            " its users over the `active_users` (any session in the range) of the cohort the"
            " filters name, with its 95% Wilson interval (`share_ci95_lo`, `share_ci95_hi`);"
            " `cohort=user` reads `faculty` as the users' directory faculty. `group_by=faculty`"
            " (`os`): one ranking per value, each row naming it, each as that value alone as a"
            " filter answers. An `app` no data holds and no catalog product is answers 422"
            " naming the closest known apps (`app=matlb`: `closest known: matlab`)."
        ),
        title="Top applications by {metric}",
        export=ExportLimit(10, cap=1000),
    ),
    Question(
        name="usage",
        path="/v1/analytics/usage",
        params=UsageParams,
        run=_usage,
        columns=lambda p: ("group", "bucket", *METRIC_FIELDS, *SHARE_FIELDS),
        response_model=Usage,
        summary="A time series per group",
        description=(
            "Metrics per time bucket (UTC; weeks start on Monday), one series per value of"
            " `group_by`. *MATLAB in engineering by week*:"
            " `usage?app=matlab&faculty=engineering&bucket=week`. Each point's `share_users` is"
            " its users over the bucket's `active_users` (any snapshot in it) of the group"
            " (per faculty or OS) or of all under the filters (per app, or no `group_by`)."
        ),
        title="Usage per {bucket}",
        body=_series,
        rows=_points,
    ),
    Question(
        name="breakdown",
        path="/v1/analytics/breakdown",
        params=BreakdownParams,
        run=breakdown,
        columns=lambda p: (p.by, *METRIC_FIELDS, *SHARE_FIELDS),
        response_model=Breakdown,
        summary="Counts per faculty, OS, user, host or app",
        file="breakdown-{by}",
        title="By {by}",
        positional=("by",),
        export=ExportLimit(1000),
    ),
    paged(
        "processes", "/v1/processes", lambda a: a.processes, PROCESS_COLUMNS, ProcessesPage,
        summary="Raw process rows under the filters, keyset-paginated",
        description=(
            "Rows in (collected_at, snapshot, listing order) order. Pass `next_cursor` back as"
            " `cursor` for the next page. `include_system=false` (default) leaves system"
            " processes out, like every analytics endpoint."
        ),
        title="Processes",
    ),
    Question(
        name="concurrency",
        path="/v1/analytics/concurrency",
        params=ConcurrencyParams,
        run=lambda a, f, p: a.concurrency(f, bucket=p.bucket),
        counted=_counted,
        columns=lambda p: ("bucket", "peak_users", "peak_hosts", "p95_users"),
        summary="Users running at the same instant: the peak and 95th percentile per bucket",
        description=(
            "What licence seats are sized by: per bucket, the most distinct users (and hosts)"
            " running a matching process at one instant (a user on two hosts at once counts"
            " once), and the 95th percentile of that count over the bucket's time. From process"
            " sessions, each in use from its first sighting to its last plus the host's sampling"
            " interval. *Stata seats in use at the peak, per week*:"
            " `concurrency?app=stata&bucket=week`."
        ),
        example={"bucket": "2026-11-23T00:00:00Z", "peak_users": 14, "peak_hosts": 14,
                 "p95_users": 9},  # fmt: skip
        title="Concurrent use per {bucket}",
        users=_bucket_users,
    ),
    paged(
        "sessions", "/v1/sessions", lambda a: a.sessions, SESSION_COLUMNS, SessionsPage,
        summary="Process sessions in use within the range, keyset-paginated",
        description=(
            "One row per process instance: in use over [`started`, `ended`), `ended` being the"
            " last time it was seen plus the host's sampling interval. In (started, host, user,"
            " pid, name) order; pass `next_cursor` back as `cursor` for the next page."
            " *Who ran MATLAB for longest this week*: `sessions?app=matlab&from=2026-11-23`."
        ),
        title="Sessions",
    ),
    EXECUTABLES,
    COMPARE,
    picker("user", "users"),
    picker("faculty", "faculties"),
    with_fleet_health(picker("host", "hosts")),
    Question(
        name="apps",
        path="/v1/apps",
        params=AppsParams,
        run=lambda a, f, p: a.named(
            "apps", f, source=p.source, prefix=("app", p.q), limit=p.limit
        ),
        columns=lambda p: ("app", "first_seen", "last_seen", "snapshots"),
        summary="The applications seen under the filters, with the first and last day each ran",
        description=(
            "By name; `first_seen`/`last_seen` are UTC days, `snapshots` those it ran in."
            " *Which apps did engineering start using this term*: `apps?faculty=engineering"
            "&from=2026-09-01`, then compare `first_seen`."
        ),
        example={"app": "matlab", "first_seen": "2026-09-01T00:00:00Z",
                 "last_seen": "2026-11-27T00:00:00Z", "snapshots": 412},  # fmt: skip
        export=ExportLimit(1000),
        users=_app_users,
    ),
)


def required_params(question: Question[Any], **given: Any) -> dict[str, Any]:
    """Values for the parameters ``question`` cannot be asked without, for a caller asking every
    question (tests, the disaster-recovery drill): ``given``'s where it names one (the cohorts
    its data hold), else the field's first example, else its Literal's first choice."""
    return {name: given[name] if name in given else
            field.examples[0] if field.examples else get_args(field.annotation)[0]
            for name, field in question.fields.items() if field.is_required()}  # fmt: skip
