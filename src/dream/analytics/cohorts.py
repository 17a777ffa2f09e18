"""Cohorts: whose use an answer counts, by the user's directory membership (``cohort=user``) or
the machine's faculty (``cohort=host``), and each cohort's active users, the denominator of a
share. Read from process sessions joined to the directory as of each session's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from psycopg import sql

from dream.analytics.calendar import CALENDAR_BUCKETS, WHOLE_RANGE, label_of
from dream.analytics.filters import Filters, FilterError
from dream.analytics.queries import Analytics, Answer
from dream.analytics.questions.cohorts import Cohort, CohortBy
from dream.analytics.sql import Fetch, equal
from dream.analytics.sql import fragment as analytics_fragment
from dream.storage.queries import NamedQueries

ALL = "all"  # the one cohort of a question that names none: every user under the filters

_SQL = NamedQueries("dream.analytics", "cohorts.sql")
_COLUMN = {"os": "s.os", "programme": "d.programme", "role": "d.role", "year": "d.year::text"}
_DIRECTORY = ("programme", "role", "year")  # cohorts only the directory draws


def cohort_column(by: CohortBy | None, cohort: Cohort) -> sql.Composable:
    """The SQL giving a session's cohort: ``by`` the host's or the user's (directory) value."""
    if by is None:
        return sql.SQL("%(all)s::text")
    if by == "faculty":
        return sql.SQL("s.faculty" if cohort == "host" else "d.faculty")
    return sql.SQL(_COLUMN[by])


def _parts(filters: Filters, cohort: Cohort, by: CohortBy | None,
           cohorts: Sequence[str] | None) -> tuple[dict[str, sql.Composable], dict[str, Any]]:  # fmt: skip
    """The placeholders of ``cohort_sessions`` and the parameters they bind."""
    params: dict[str, Any] = {"from": filters.start, "to": filters.end, "all": ALL}
    who = equal(filters, params, ("os", "user", "host"))
    where: list[sql.Composable] = []
    if filters.faculty is not None:
        params["faculty"] = list(filters.faculty)
        where.append(_SQL.fragment("host_faculty" if cohort == "host" else "user_faculty"))
    directory = cohort == "user" or by in _DIRECTORY  # else the join reads nothing
    sessions = _SQL.fragment("cohort_sessions").format(
        cohort=cohort_column(by, cohort), who=sql.SQL(" ").join(who),
        where=sql.SQL(" ").join(where),
        directory=_SQL.fragment("directory_join") if directory else sql.SQL(""),
    )  # fmt: skip
    chosen = sql.SQL("")
    if cohorts is not None:
        params["cohorts"] = list(cohorts)
        chosen = _SQL.fragment("cohort_in")
    return {"sessions": sessions, "cohorts": chosen}, params


def active_users(fetch: Fetch, filters: Filters, *, cohort: Cohort = "host",
                 by: CohortBy | None = None, cohorts: Sequence[str] | None = None
                 ) -> dict[str, int]:  # fmt: skip
    """Each cohort's active users: distinct users with any session in the range under the
    filters naming who and where (``app`` does not narrow it). ``by=None``: one cohort, ALL."""
    parts, params = _parts(filters, cohort, by, cohorts)
    rows = fetch(_SQL.fragment("cohort_active").format(**parts), params)
    return {r["cohort"]: int(r["active_users"]) for r in rows}


def app_users(fetch: Fetch, filters: Filters, *, cohort: Cohort = "host",
              by: CohortBy | None = None, cohorts: Sequence[str] | None = None,
              each: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Per cohort and app (``each``; else the matching apps together, as one): ``users``,
    ``hosts``, ``hours``, ``launches`` of matching sessions (``app``, ``product``,
    ``category`` and ``include_system`` apply)."""
    parts, params = _parts(filters, cohort, by, cohorts)
    app = sql.SQL("app" if each else "''::text")
    q = _SQL.fragment("cohort_apps").format(app=app, used=_used(filters, params), **parts)
    return [{**r, "users": int(r["users"]), "hosts": int(r["hosts"]),
             "hours": round(float(r["hours"] or 0), 4), "launches": int(r["launches"])}
            for r in fetch(q, params)]  # fmt: skip


def user_hours(fetch: Fetch, filters: Filters, *, cohort: Cohort, by: CohortBy,
               cohorts: Sequence[str]) -> dict[str, list[float]]:  # fmt: skip
    """Per cohort, each active user's hours of the matching apps in the range (0: none)."""
    parts, params = _parts(filters, cohort, by, cohorts)
    q = _SQL.fragment("cohort_user_hours").format(used=_used(filters, params), **parts)
    out: dict[str, list[float]] = {}
    for r in fetch(q, params):
        out.setdefault(r["cohort"], []).append(float(r["hours"]))
    return out


def _used(filters: Filters, params: dict[str, Any]) -> sql.Composable:
    """The conditions on a session of a matching app: ``app``/``product``/``category`` and,
    unless ``include_system``, not a system process."""
    used: list[sql.Composable] = []
    if filters.app_filtered:
        used.append(analytics_fragment("filter_app"))
        params["app"] = list(filters.apps or ())
    if not filters.include_system:
        used.append(analytics_fragment("filter_not_system"))
    return sql.SQL(" ").join(used)


def share(users: int, active: int) -> float | None:
    """``users`` of ``active``; None without active users (no denominator)."""
    return None if active <= 0 else users / active


_SESSION_METRICS = ("users", "hosts", "hours", "launches")  # what sessions count per app


def _from_sessions(rows: list[dict[str, Any]], key: str, metric: str,
                   limit: int) -> Answer:  # fmt: skip
    """Answer items from ``app_users`` rows (``key``: the column naming each, ``app`` or the
    cohort), ranked by ``metric``; what sessions do not keep (snapshots, processes, averages)
    is null."""
    if metric not in _SESSION_METRICS:
        raise FilterError("metric", f"cohort=user ranks by {', '.join(_SESSION_METRICS)}"
                          " (from sessions)", metric)  # fmt: skip
    rows.sort(key=lambda r: (-r[metric], r[key].encode()))
    return Answer([{"value": r[key], "users": r["users"], "hosts": r["hosts"], "snapshots": None,
                    "processes": None, "avg_cpu_percent": None, "avg_rss_kb": None,
                    "hours": r["hours"], "launches": r["launches"]}
                   for r in rows[:limit]], "sessions")  # fmt: skip


def _named(answer: Answer, name: str) -> Answer:
    for item in answer.items:
        item[name] = item.pop("value")
    return answer


def top_apps(analytics: Analytics, filters: Filters, *, cohort: Cohort, metric: str, limit: int,
             source: str) -> Answer:  # fmt: skip
    """``top-apps`` with each app's share of the cohort's active users. ``cohort=host``: the
    usual answer (rollups or raw rows); ``cohort=user``: from sessions, the ``faculty`` filter
    reading the users' directory faculty as of each session's start."""
    active = active_users(analytics._fetch, filters, cohort=cohort).get(ALL, 0)
    if cohort == "host":
        answer = analytics.top_apps(filters, metric=metric, limit=limit, source=source)
    else:
        rows = app_users(analytics._fetch, filters, cohort="user")
        answer = _named(_from_sessions(rows, "app", metric, limit), "app")
    for item in answer.items:
        item["active_users"] = active
        item["share_users"] = share(item["users"], active)
    return answer


def breakdown(analytics: Analytics, filters: Filters, *, by: str, metric: str, limit: int,
              source: str, cohort: Cohort = "host") -> Answer:  # fmt: skip
    """``breakdown`` with each value's share of active users: per faculty or OS, of that
    faculty's (OS's) active users; per app, of all active users under the filters; per user or
    host none (a person or a machine is no cohort). ``cohort=user``: per the users' directory
    faculty (``by=faculty``) and with ``faculty`` read so, from sessions."""
    fetch = analytics._fetch
    if cohort == "host":
        answer = analytics.breakdown(filters, by=by, metric=metric, limit=limit, source=source)
    elif by in ("faculty", "os"):
        rows = app_users(fetch, filters, cohort="user", by=cast(CohortBy, by), each=False)
        answer = _named(_from_sessions(rows, "cohort", metric, limit), by)
    elif by == "app":
        answer = _named(_from_sessions(app_users(fetch, filters, cohort="user"), "app", metric,
                                       limit), by)  # fmt: skip
    else:
        raise FilterError("by", "cohort=user breaks down by faculty, os or app", by)
    counts: list[int | None] = [None] * len(answer.items)
    if by in ("faculty", "os"):
        per_value = active_users(fetch, filters, cohort=cohort, by=cast(CohortBy, by))
        counts = [per_value.get(item[by], 0) for item in answer.items]
    elif by == "app":
        counts = [active_users(fetch, filters, cohort=cohort).get(ALL, 0)] * len(answer.items)
    for item, n in zip(answer.items, counts, strict=True):
        item["active_users"] = n
        item["share_users"] = None if n is None else share(item["users"], n)
    return answer


def usage_shares(analytics: Analytics, filters: Filters, answer: Answer, *, bucket: str,
                 group_by: str | None) -> Answer:  # fmt: skip
    """``usage`` with each point's share of the bucket's active users (any snapshot in it: the
    rollups' users of every process, whatever ``app``, ``product``, ``category`` or
    ``include_system`` say): per faculty or OS of that value's, per app or without ``group_by``
    of all under the filters, per user or host none (as ``breakdown``). A calendar bucket's
    active users are those over its campus days."""
    if group_by in ("user", "host"):  # a person or a machine is no cohort
        for item in answer.items:
            item["active_users"] = item["share_users"] = None
        return answer
    by = group_by if group_by in ("faculty", "os") else None
    every = filters.model_copy(update={"app": None, "apps": None, "product": None,
                                       "category": None, "include_system": True})  # fmt: skip
    counts: dict[tuple[str, Any], int] = {}
    if bucket in CALENDAR_BUCKETS and analytics.calendar is not None:
        for label, start, end in analytics.calendar.buckets(bucket, filters.start, filters.end):
            part = every.model_copy(update={"from_": start, "to": end})
            for r in analytics.usage(part, bucket=WHOLE_RANGE, group_by=by, users_only=True).items:
                counts[r["group"] if by else ALL, label] = int(r["users"])
    else:
        for r in analytics.usage(every, bucket=bucket, group_by=by, users_only=True).items:
            counts[r["group"] if by else ALL, r["bucket"]] = int(r["users"])
    for item in answer.items:
        active = counts.get((item["group"] if by else ALL, label_of(item, bucket)), 0)
        item["active_users"], item["share_users"] = active, share(item["users"], active)
    return answer
