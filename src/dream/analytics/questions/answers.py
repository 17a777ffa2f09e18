"""The JSON answers' models, with the examples the OpenAPI documentation shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from dream.analytics.products import GroupFields, ProductFields


class Metrics(BaseModel):
    users: int = Field(description="Distinct users of the matching snapshots.")
    hosts: int = Field(description="Distinct hosts of the matching snapshots.")
    snapshots: int | None = Field(description="Snapshots in which a matching process appeared"
                                  " (null: answered from sessions, which do not keep it,"
                                  " or withheld from a differentially private key).")
    processes: int | None = Field(description="Matching process rows (null: as `snapshots`).")
    avg_cpu_percent: float | None = Field(description="Mean %CPU over processes reporting it.")
    avg_rss_kb: float | None = Field(description="Mean resident memory (KiB) per process.")
    hours: float = Field(description="Hours of use: the matching sessions' time in the range.")
    launches: int | None = Field(description="Matching sessions that started in the range"
                                 " (null: as `snapshots`).")


class TopApp(Metrics, GroupFields):
    app: str
    active_users: int | None = Field(default=None, description="Users of the cohort the"
                                     " filters name with any session in the range.")
    share_users: float | None = Field(default=None, description="users / active_users.")
    share_ci95_lo: float | None = Field(default=None, description="The share's 95% Wilson"
                                        " interval: its lower end (null: no share).")
    share_ci95_hi: float | None = Field(default=None, description="Its upper end.")


class Coverage(BaseModel):
    """What the data covers, so that missing data can be told from no use."""

    hosts: int = Field(description="Hosts that reported (a stored snapshot) in the range, under"
                       " the filters naming who and where (not `app`).")  # fmt: skip
    median_cadence_s: float | None = Field(
        description="Their median sampling interval (s): each host's declared interval, else the"
        " median gap between its snapshots, else the default (DREAM_DEFAULT_CADENCE_S); null"
        " without hosts. Hours of use are exact to one interval per session."
    )


class Privacy(BaseModel):
    """A differentially private answer's cost (docs/security.md, "Differential privacy")."""

    epsilon: float = Field(description="The privacy loss this answer spent.")
    mechanism: str = Field(description="How the counts and hours were noised.")
    spent: float = Field(description="The key's epsilon spent this month, this answer's included.")
    budget: float = Field(description="The key's epsilon budget a month.")
    period: str = Field(description="The month (UTC) the budget is for, YYYY-MM.")


class Disclosed(BaseModel):
    """What the k-anonymity floor withheld from this answer (docs/security.md)."""

    suppressed: int = Field(
        default=0, description="Rows withheld: each counted fewer distinct users than"
        " `min_group_users` (a `query` key's floor, DREAM_MIN_GROUP_USERS)."
    )
    min_group_users: int | None = Field(
        default=None, description="The floor this answer was held to; null: none (a `steward`"
        " or `admin` key sees every row)."
    )
    privacy: Privacy | None = Field(
        default=None, description="A differentially private key's answer: its noise and cost;"
        " null for the other keys (exact answers)."
    )


def _coverage() -> Any:
    return Field(default=None, description="Hosts that reported in the range, and how often.")


_METRICS_EXAMPLE = {"users": 41, "hosts": 23, "snapshots": 1180, "processes": 1432,
                    "avg_cpu_percent": 3.125, "avg_rss_kb": 184220.5, "hours": 312.25,
                    "launches": 97}  # fmt: skip
_COVERAGE_EXAMPLE = {"hosts": 212, "median_cadence_s": 300.0}
_FILTERS_EXAMPLE = {"faculty": "law", "os": "windows", "user": None, "host": None, "app": None,
                    "from": "2026-11-01T00:00:00+00:00", "to": None, "include_system": False}  # fmt: skip


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class TopApps(Disclosed):
    model_config = _examples(
        {"items": [{"app": "winword", **_METRICS_EXAMPLE}], "filters": _FILTERS_EXAMPLE,
         "source": "rollup", "coverage": _COVERAGE_EXAMPLE}
    )  # fmt: skip

    items: list[TopApp]
    group_by: str = Field(default="product", description="product | executable | version |"
                          " faculty | os.")
    filters: dict[str, Any]
    source: Literal["rollup", "raw", "sessions"] = Field(
        description="What answered: rollups, raw rows or sessions (`group_by=executable|version`"
        " with hours at either end or naming who or where, `cohort=user`).")
    coverage: Coverage | None = _coverage()


class UsagePoint(Metrics):
    bucket: datetime | str = Field(description="The bucket's start; a calendar bucket's label"
                                   " (`2026-autumn`, `2026-autumn w3`).")
    active_users: int | None = Field(default=None, description="Users of the group (per faculty"
                                     " or OS; else all under the filters) with any snapshot in"
                                     " the bucket; null per user or host.")  # fmt: skip
    share_users: float | None = Field(default=None, description="users / active_users.")


class UsageSeries(ProductFields):
    group: str | None = Field(description="The `group_by` value; null without `group_by`.")
    points: list[UsagePoint]


class Usage(Disclosed):
    model_config = _examples(
        {"bucket": "week", "group_by": "faculty", "metric": "users",
         "series": [{"group": "engineering",
                     "points": [{"bucket": "2026-11-02T00:00:00Z", **_METRICS_EXAMPLE}]}],
         "filters": {**_FILTERS_EXAMPLE, "app": "matlab", "faculty": None, "os": None},
         "source": "rollup"}
    )  # fmt: skip

    bucket: str
    group_by: str | None
    metric: str | None = Field(description="What the series are ordered by (descending); null:"
                               " by group.")
    series: list[UsageSeries]
    filters: dict[str, Any]
    source: Literal["rollup", "raw"]
    coverage: Coverage | None = _coverage()


class Breakdown(Disclosed):
    model_config = _examples(
        {"by": "os", "items": [{"os": "windows", **_METRICS_EXAMPLE}],
         "filters": _FILTERS_EXAMPLE, "source": "rollup"}
    )  # fmt: skip

    by: str
    items: list[dict[str, Any]] = Field(description="`{<by>: value, users, hosts, ...}` rows.")
    filters: dict[str, Any]
    source: Literal["rollup", "raw", "sessions"]
    coverage: Coverage | None = _coverage()


class ProcessesPage(Disclosed):
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
    coverage: Coverage | None = _coverage()


class SessionsPage(Disclosed):
    model_config = _examples(
        {"items": [{"host": "eng-lx-4", "user": "frank", "app": "matlab", "pid": 48213,
                    "name": "MATLAB", "os": "linux", "faculty": "engineering",
                    "started": "2026-11-27T09:02:00Z", "ended": "2026-11-27T11:47:00Z",
                    "duration_s": 9900.0, "samples": 34, "cpu_seconds": 2210.5}],
         "next_cursor": "WyIyMDI2LTExLTI3VDA5OjAyOjAwKzAwOjAwIiwgImVuZy1seC00Il0",
         "filters": _FILTERS_EXAMPLE}
    )  # fmt: skip

    items: list[dict[str, Any]] = Field(
        description="Sessions: in use over [started, ended); duration_s = ended - started;"
        " cpu_seconds = CPU time used in between (null when the listing gives none)."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")
    filters: dict[str, Any]
    coverage: Coverage | None = _coverage()


class Values(Disclosed):
    model_config = _examples(
        {"items": [{"user": "jdoe", **_METRICS_EXAMPLE}], "filters": _FILTERS_EXAMPLE}
    )

    items: list[dict[str, Any]]
    filters: dict[str, Any]
    coverage: Coverage | None = _coverage()


class Rows(Disclosed):
    """The answer of a question that needs no model of its own: its rows (the columns the
    question lists), the filters and what answered."""

    items: list[dict[str, Any]]
    filters: dict[str, Any]
    source: Literal["rollup", "raw", "sessions"] = Field(
        description="What answered: rollups, raw rows or process sessions."
    )
    coverage: Coverage | None = _coverage()


def rows_model(name: str, example: dict[str, Any] | None) -> type[Rows]:
    """``Rows`` named for a question (``<name>Answer``), with ``example`` as its one row."""
    model = create_model(f"{name}Answer", __base__=Rows)
    if example is not None:
        model.model_config.update(
            _examples({"items": [example], "filters": _FILTERS_EXAMPLE, "source": "rollup",
                       "coverage": _COVERAGE_EXAMPLE})  # fmt: skip
        )
        model.model_rebuild(force=True)
    return model
