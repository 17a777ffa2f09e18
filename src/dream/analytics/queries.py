"""Answers to research questions, from the rollups when the filters allow, else from raw rows.

Rollups (``usage_hourly``/``usage_daily``) have every filter as a dimension, so they answer any
filter set whose ``from``/``to`` fall on whole hours (UTC), including none; a bound inside an
hour needs the raw ``processes`` rows. Both sources give the same numbers (tests compare them).
Per app, os or faculty with neither a user nor a host filter, the lean rollups
(``usage_daily_apps``, ``usage_presence``) give the same numbers from far fewer rows.

Definitions, the same for both sources (processes of unknown app are left out):
users / hosts: distinct users / hosts of the snapshots in which a matching process appeared;
snapshots: snapshots in which one appeared; processes: matching process rows;
avg_cpu_percent / avg_rss_kb: mean over matching processes that reported the value.
``include_system=false`` (the default) counts non-system processes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from dream.analytics import pages, timeline
from dream.analytics.calendar import Calendar
from dream.analytics.coverage import coverage
from dream.analytics.cursor import decode_cursor, encode_cursor
from dream.analytics.filters import (
    DIMENSION_COLUMN,
    METRIC_COLUMN,
    METRIC_FIELDS,
    Filters,
    FilterError,
    rollup_ranges,
)
from dream.analytics.hours import Keyed, hours_rows, with_hours
from dream.analytics.lean import LEAN_KEYS, is_lean, lean_answer
from dream.analytics.sql import equal, fragment
from dream.settings import Settings

DEFAULT_CADENCE_S: float = Settings.model_fields["default_cadence_s"].default
_SESSION = b"SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"

Apps = Literal["each", "total"]


@dataclass(slots=True)
class Answer:
    """A question's rows, what answered them, and for a page the cursor of the next one."""

    items: list[dict[str, Any]]
    source: Literal["rollup", "raw", "sessions"]
    next_cursor: str | None = None
    coverage: dict[str, Any] | None = None  # see Analytics.coverage


_OF_SESSIONS = frozenset({"hours", "launches"})  # metrics the inner answer does not have


def _descending(metric: str) -> sql.Composable:
    """``ORDER BY`` the metric's column, largest first."""
    return sql.SQL("{} DESC").format(sql.Identifier(METRIC_COLUMN[metric]))


def _inner(metric: str) -> str:
    """The metric the processes' answer is ordered by (it has no hours: any order will do)."""
    return "users" if metric in _OF_SESSIONS else metric


def _ranked(metric: str | None, key: str) -> sql.Composable:
    """Largest ``metric`` first (None: by key), ties by key in byte order."""
    tie = sql.SQL('{} COLLATE "C"').format(sql.Identifier(key))
    if metric is None:
        return tie
    return sql.SQL("{} NULLS LAST, {}").format(_descending(metric), tie)


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    """Counts as ints and averages rounded, so both sources print alike."""
    cpu, rss = row["avg_cpu_percent"], row["avg_rss_kb"]
    return {
        "users": int(row["users"]),
        "hosts": int(row["hosts"]),
        "snapshots": int(row["snapshots"]),
        "processes": int(row["processes"]),
        "avg_cpu_percent": None if cpu is None else round(float(cpu), 3),
        "avg_rss_kb": None if rss is None else round(float(rss), 1),
        "hours": round(float(row["hours"]), 4),
        "launches": int(row["launches"]),
    }


class Analytics:
    """The analytics queries over a connection pool."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        raw_window_max: timedelta | None = None,
        default_cadence_s: float = DEFAULT_CADENCE_S,
        calendar: Calendar | None = None,
    ) -> None:
        self.pool = pool
        self.calendar = calendar  # terms and teaching weeks (DREAM_CALENDAR_FILE), if any
        self.raw_window_max = raw_window_max  # bounds what the automatic raw fallback reads
        self.default_cadence_s = default_cadence_s  # a host's that neither says nor shows one

    @classmethod
    def of(cls, pool: ConnectionPool, raw_window_max_days: float,
           default_cadence_s: float = DEFAULT_CADENCE_S,
           calendar: Calendar | None = None) -> Analytics:  # fmt: skip
        """Analytics over ``pool``, the raw fallback bounded as DREAM_RAW_WINDOW_MAX_DAYS says."""
        return cls(pool, raw_window_max=timedelta(days=raw_window_max_days),
                   default_cadence_s=default_cadence_s, calendar=calendar)  # fmt: skip

    def coverage(self, filters: Filters, cohort: str = "host") -> dict[str, Any]:
        """The hosts that reported in the range and their median cadence (coverage.py)."""
        return coverage(self._fetch, filters, self.default_cadence_s, cohort)

    # ------------------------------------------------------------------ public questions

    def top_apps(
        self, filters: Filters, *, metric: str = "users", limit: int = 10, source: str = "auto"
    ) -> Answer:
        used = self.choose_source(filters, source)
        app = sql.Identifier("app")
        if used == "rollup" and is_lean(filters, "app"):
            q, params = self._lean_answer(filters, key="app", apps="each",
                                          order=_descending(_inner(metric)))  # fmt: skip
            key = "key"
        else:
            rows, params = self._rows(filters, used, apps="each")
            q = self._compose(
                "top_apps", used, filters, rows, keys=app, group_keys=app,
                order=sql.Identifier(METRIC_COLUMN[_inner(metric)]),
            )  # fmt: skip
            key = "app"
        hours, hours_params = hours_rows(filters, lambda t: sql.SQL("app AS {}").format(
            sql.Identifier(key)), lean=True)  # fmt: skip
        found = self._fetch(
            with_hours(q, hours, Keyed([key], [key], _ranked(metric, key))),
            {**params, **hours_params, "limit": None, "outer_limit": limit},
        )
        return Answer([{"app": r[key], **_metrics(r)} for r in found], used)

    def usage(
        self,
        filters: Filters,
        *,
        bucket: str = "day",
        group_by: str | None = None,
        source: str = "auto",
        users_only: bool = False,
    ) -> Answer:
        """One row per (group, bucket): ``group`` is None without ``group_by``. ``users_only``:
        each row's ``users`` alone: no hours of use from sessions and, per app, OS or faculty,
        only the presence bitmaps (the floor's count, questions/registry.py: the same users)."""
        used = self.choose_source(filters, source)
        apps: Apps = "each" if group_by == "app" else "total"
        group = sql.SQL("NULL::text") if group_by is None else self._dim(group_by)
        ts = sql.SQL("date_trunc(%(bucket)s, {}, 'UTC')")
        if used == "rollup" and is_lean(filters, group_by, bucket):
            q, params = self._lean_answer(filters, key=group_by, apps=apps, bucket=bucket,
                                          order=sql.SQL("users DESC"), users_only=users_only)
            q = fragment("lean_usage_users" if users_only else "lean_usage").format(
                group=sql.SQL("NULL::text" if group_by is None else "key"), answer=q)
        else:
            rows, params = self._rows(filters, used, apps=apps, use_days=bucket != "hour")
            r_bucket = sql.SQL("r.bucket")
            q = self._compose(
                "usage", used, filters, rows, group=group,
                keys=sql.SQL("{} AS grp, {} AS ts").format(group, ts.format(r_bucket)),
                group_keys=sql.SQL("{}, {}").format(group, ts.format(r_bucket)),
            )  # fmt: skip
        if users_only:  # a bucket known only from sessions counts no users: not listed
            found = self._fetch(q, {**params, "bucket": bucket, "limit": None})
            return Answer([{"group": r["grp"], "bucket": r["ts"], "users": r["users"]}
                           for r in found], used)  # fmt: skip
        hours, hours_params = hours_rows(
            filters,
            lambda t: sql.SQL("{} AS grp, {} AS ts").format(group, ts.format(t)),
            use_days=bucket != "hour", lean=group_by is None or group_by in LEAN_KEYS,
        )
        keyed = Keyed(["grp", "ts"], ["ts"] if group_by is None else ["grp", "ts"],
                      sql.SQL('grp COLLATE "C", ts'))  # fmt: skip
        found = self._fetch(
            with_hours(q, hours, keyed),
            {**params, **hours_params, "bucket": bucket, "limit": None, "outer_limit": None},
        )
        return Answer(
            [{"group": r["grp"], "bucket": r["ts"], **_metrics(r)} for r in found], used
        )

    def breakdown(
        self,
        filters: Filters,
        *,
        by: str,
        metric: str | None = "users",
        limit: int = 1000,
        prefix: str | None = None,
        source: str = "auto",
    ) -> Answer:
        """Counts per value of ``by``, ordered by ``metric`` (descending) or, with None, by value."""
        used = self.choose_source(filters, source)
        extra, params = self._starting(by, prefix)
        apps: Apps = "each" if by == "app" else "total"
        order = _descending("users")  # the inner answer's: the outer query orders
        if used == "rollup" and is_lean(filters, by):
            q, lean_params = self._lean_answer(filters, key=by, apps=apps, order=order,
                                               extra=extra)  # fmt: skip
            params.update(lean_params)
            key = "key"
        else:
            rows, row_params = self._rows(filters, used, apps=apps, extra=extra)
            params.update(row_params)
            q = self._compose(
                "breakdown", used, filters, rows, dim=self._dim(by), order=order,
                keys=sql.SQL("{} AS value").format(self._dim(by)), group_keys=self._dim(by),
            )  # fmt: skip
            key = "value"
        hours, hours_params = hours_rows(
            filters, lambda t: sql.SQL("{} AS {}").format(self._dim(by), sql.Identifier(key)),
            extra=extra, lean=by in LEAN_KEYS,
        )
        found = self._fetch(
            with_hours(q, hours, Keyed([key], [key], _ranked(metric, key))),
            {**params, **hours_params, "limit": None, "outer_limit": limit},
        )
        return Answer([{by: r[key], **_metrics(r)} for r in found], used)

    def processes(
        self, filters: Filters, *, limit: int = 100, cursor: str | None = None
    ) -> Answer:
        """A page of raw process rows and the cursor of the next page (None after the last)."""
        found, next_cursor = pages.processes(self._fetch, filters, limit=limit, cursor=cursor)
        return Answer(found, "raw", next_cursor)

    def sessions(self, filters: Filters, *, limit: int = 100, cursor: str | None = None) -> Answer:
        """A page of process sessions and the cursor of the next page (None after the last)."""
        found, next_cursor = pages.sessions(self._fetch, filters, limit=limit, cursor=cursor)
        return Answer(found, "raw", next_cursor)

    def concurrency(self, filters: Filters, *, bucket: str = "day",
                    floor: int | None = None) -> Answer:  # fmt: skip
        """Per bucket, the most users and hosts running at one instant and the time-weighted
        95th percentile of users running; with ``floor``, the users (timeline.py)."""
        items = timeline.concurrency(self._fetch, filters, bucket, floor=floor)
        return Answer(items, "rollup" if timeline.on_timeline(filters) else "sessions")

    def named(
        self,
        name: str,
        filters: Filters,
        *,
        source: str = "auto",
        prefix: tuple[str, str | None] | None = None,
        **values: Any,
    ) -> Answer:
        """The question ``name`` of queries.sql over the rows the filters select: its query
        ``<name>_rollup`` or ``<name>_raw`` (whichever source answers), given ``{rows}`` (the
        filtered rows of known apps) and ``{p}`` (the rollup counters' prefix); ``values`` are
        its bound parameters, ``prefix`` (dimension, text) keeps values starting with text."""
        used = self.choose_source(filters, source)
        extra, bound = self._starting(*(prefix or ("app", None)))
        rows, params = self._rows(filters, used, apps="each", extra=extra)
        q = fragment(f"{name}_{used}").format(rows=rows, p=self._prefix(filters))
        return Answer(self._fetch(q, {**params, **bound, **values}), used)

    # ------------------------------------------------------------------ building blocks

    def choose_source(self, filters: Filters, source: str = "auto") -> Literal["rollup", "raw"]:
        if source == "raw":
            return "raw"
        if filters.hour_aligned:
            return "rollup"
        if source == "rollup":
            raise FilterError(
                "source", "rollups answer only when `from` and `to` fall on whole hours (UTC)"
            )
        limit = self.raw_window_max
        # No row lies beyond tomorrow (collected_at is refused further ahead): an open `to`
        # reads up to now.
        end = min(filters.end, datetime.now(UTC) + timedelta(days=1))
        if limit is not None and end - filters.start > limit:
            raise FilterError(
                "from" if filters.from_ is not None and not filters.hour_aligned else "to",
                f"`from`/`to` not on whole hours read raw process rows, at most {limit} apart"
                " (DREAM_RAW_WINDOW_MAX_DAYS): put both on whole hours (UTC) to read the"
                " rollups, or narrow the range",
            )
        return "raw"

    def _starting(
        self, dimension: str, text: str | None
    ) -> tuple[list[sql.Composable], dict[str, Any]]:
        """The filter keeping values of ``dimension`` that start with ``text`` (any case)."""
        if not text:
            return [], {}
        return [fragment("filter_prefix").format(dim=self._dim(dimension))], {"q": text.lower()}

    @staticmethod
    def _prefix(filters: Filters) -> sql.SQL:
        return sql.SQL("" if filters.include_system else "u_")

    def _compose(
        self,
        name: str,
        used: str,
        filters: Filters,
        rows: sql.Composable,
        *,
        keys: sql.Composable,
        group_keys: sql.Composable,
        **parts: sql.Composable,
    ) -> sql.Composable:
        """The named question over ``rows``: per ``keys`` from rollups, or from raw rows."""
        p = self._prefix(filters)
        if used == "rollup":
            pairs = fragment("rollup_pairs").format(
                keys=keys, group_keys=group_keys, rows=rows, p=p
            )
            return fragment(f"{name}_rollup").format(
                pairs=pairs, metrics=fragment("rollup_metrics"), **parts
            )
        return fragment(f"{name}_raw").format(rows=rows, metrics=fragment("raw_metrics"), **parts)

    @staticmethod
    def _dim(name: str) -> sql.Identifier:
        return sql.Identifier(DIMENSION_COLUMN[name])

    def _rows(
        self,
        filters: Filters,
        used: str,
        *,
        apps: Apps,
        use_days: bool = True,
        extra: Sequence[sql.Composable] = (),
    ) -> tuple[sql.Composable, dict[str, Any]]:
        """The filtered source rows (a subquery) and its parameters."""
        parts, params = self._filter_parts(filters, used, apps=apps, extra=extra)
        if used == "raw":
            params.update({"from": filters.start, "to": filters.end})
            return fragment("raw_rows").format(filters=sql.SQL(" ").join(parts)), params
        params.update(rollup_ranges(filters.start, filters.end, use_days=use_days).params())
        return fragment("rollup_rows").format(filters=sql.SQL(" ").join(parts)), params

    def _lean_answer(
        self,
        filters: Filters,
        *,
        key: str | None,
        apps: Apps,
        order: sql.Composable,
        extra: Sequence[sql.Composable] = (),
        bucket: str | None = None,
        users_only: bool = False,
    ) -> tuple[sql.Composable, dict[str, Any]]:
        """Metrics per ``key`` (and ``bucket``) from the lean rollups (lean.py)."""
        parts, params = self._filter_parts(filters, "rollup", apps=apps, extra=extra)
        q, lean_params = lean_answer(filters, parts, key=key, order=order, bucket=bucket,
                                     users_only=users_only)  # fmt: skip
        return q, {**params, **lean_params}

    def _filter_parts(
        self,
        filters: Filters,
        used: str,
        *,
        apps: Apps,
        extra: Sequence[sql.Composable] = (),
    ) -> tuple[list[sql.Composable], dict[str, Any]]:
        """The filters as SQL fragments (``AND ...``) for either source, and their values."""
        params: dict[str, Any] = {}
        parts = equal(filters, params)
        if filters.app_filtered:  # app=, product=, category= (analytics/products.py)
            parts.append(fragment("filter_app"))
            params["app"] = list(filters.apps or ())
        elif apps == "each" or used == "raw":
            parts.append(fragment("filter_any_app"))
        else:
            parts.append(fragment("filter_all_apps_row"))
        parts.extend(extra)
        if used == "raw" and not filters.include_system:
            parts.append(fragment("filter_not_system"))
        return parts, params

    def _fetch(self, q: sql.Composable, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(_SESSION)
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(cast(sql.Composed, q), params).fetchall()


__all__ = ["Analytics", "Answer", "METRIC_FIELDS", "decode_cursor", "encode_cursor"]
