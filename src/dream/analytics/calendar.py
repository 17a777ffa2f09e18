"""The academic calendar (``DREAM_CALENDAR_FILE``): terms, teaching weeks and the campus time
zone, and the questions asked in them (``term=`` filter, ``usage`` by term or teaching week).

Universities think in terms and teaching weeks, not UTC days and ISO weeks. A term's edges are
local midnights on campus; in UTC they fall on whole hours (every zone a campus keeps does), so
the rollups answer each calendar bucket exactly, as one range: the distinct users of a term are
those of the term, not a sum over its days.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dream.analytics.filters import FilterError, Filters
from dream.errors import ConfigurationError

if TYPE_CHECKING:
    from dream.analytics.queries import Analytics, Answer

CalendarBucket = Literal["term", "teaching_week", "week_of_term"]
CALENDAR_BUCKETS: tuple[str, ...] = ("term", "teaching_week", "week_of_term")
# ``week_of_term``: the teaching weeks again, one series per term, each point labelled by its
# week's number alone (``w3``), so the terms' weeks line up (week 3 of autumn against spring's).
WEEK_OF_TERM = "week_of_term"
WEEK = timedelta(weeks=1)
# ``usage`` per calendar bucket asks the existing series for one bucket spanning the whole
# range (PostgreSQL's ``date_trunc`` unit that no term crosses: 2001-01-01 to 3001-01-01).
WHOLE_RANGE = "millennium"
_ZERO = {"users": 0, "hosts": 0, "snapshots": 0, "processes": 0, "avg_cpu_percent": None,
         "avg_rss_kb": None, "hours": 0.0, "launches": 0}  # fmt: skip


class CalendarError(ConfigurationError):
    """A calendar file that cannot be read or does not hold together (refused at start-up)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Holiday(_Strict):
    """Days off within a term, ``start`` to ``end`` (both included). A week of the term that
    falls wholly in holidays is no teaching week: it is skipped when counting them."""

    name: str = ""
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.end < self.start:
            raise ValueError(f"holiday {self.name!r}: end {self.end} is before start {self.start}")
        return self


class Term(_Strict):
    """A term: ``start`` to ``end`` (both included, campus days), its teaching weeks (counted
    from ``start``, seven days each, holiday weeks skipped), then its exam weeks."""

    id: Annotated[str, Field(pattern=r"^\d{4}-[a-z][a-z0-9-]*$", examples=["2026-autumn"])]
    start: date
    end: date
    teaching_weeks: Annotated[int, Field(ge=1, le=52)]
    exam_weeks: Annotated[int, Field(ge=0, le=52)] = 0
    holidays: tuple[Holiday, ...] = ()

    def _weeks(self) -> Iterator[date]:
        """The first day of each week of the term not wholly in holidays, in order."""
        first = self.start
        while first <= self.end:
            days = [first + timedelta(days=i) for i in range(7)]
            if not all(any(h.start <= d <= h.end for h in self.holidays) for d in days):
                yield first
            first += WEEK

    @property
    def teaching(self) -> list[date]:
        """The first day of teaching weeks 1, 2, … (as many as the term holds)."""
        return list(self._weeks())[: self.teaching_weeks]

    @model_validator(mode="after")
    def _fits(self) -> Term:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        for h in self.holidays:
            if h.start < self.start or h.end > self.end:
                raise ValueError(f"holiday {h.name!r} ({h.start} to {h.end}) is outside the term")
        weeks = list(self._weeks())
        needed = self.teaching_weeks + self.exam_weeks
        if len(weeks) < needed:
            raise ValueError(f"{self.teaching_weeks} teaching and {self.exam_weeks} exam weeks"
                             f" do not fit: the term has {len(weeks)} weeks outside holidays")  # fmt: skip
        return self


class Calendar(_Strict):
    """The calendar file: the campus time zone and the terms, in order, none overlapping."""

    tz: str
    terms: tuple[Term, ...] = Field(min_length=1)

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as"
                             " 'Europe/London')") from None  # fmt: skip
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Calendar:
        for before, after in zip(self.terms, self.terms[1:], strict=False):
            if after.id == before.id:
                raise ValueError(f"term {after.id!r} is listed twice")
            if after.start <= before.end:
                raise ValueError(f"term {after.id!r} starts {after.start}, before term"
                                 f" {before.id!r} ends ({before.end}): list terms in order,"
                                 " not overlapping")  # fmt: skip
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def instant(self, day: date) -> datetime:
        """The campus midnight starting ``day``, in UTC."""
        return datetime.combine(day, time(), self.zone).astimezone(UTC)

    def term(self, term_id: str) -> Term:
        """The term ``term_id``, or a FilterError (a 422) naming the known ones."""
        for t in self.terms:
            if t.id == term_id:
                return t
        known = ", ".join(t.id for t in self.terms)
        raise FilterError("term", f"unknown term {term_id!r}; known: {known}", term_id)

    def range_of(self, term_id: str) -> tuple[datetime, datetime]:
        """``[from, to)`` of a term in UTC: its first campus midnight to the one after its end."""
        t = self.term(term_id)
        return self.instant(t.start), self.instant(t.end + timedelta(days=1))

    def buckets(
        self, kind: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """``(label, from, to)`` of each term (``2026-autumn``) or teaching week
        (``2026-autumn w3``) overlapping ``[start, end)``, clipped to it, in time order."""
        found = []
        kind = "teaching_week" if kind == WEEK_OF_TERM else kind
        for t in self.terms:
            if kind == "term":
                edges = [(t.id, t.start, t.end + timedelta(days=1))]
            else:
                edges = [(f"{t.id} w{n}", first, first + WEEK)
                         for n, first in enumerate(t.teaching, start=1)]  # fmt: skip
            for label, lo, hi in edges:
                lo_at, hi_at = max(self.instant(lo), start), min(self.instant(hi), end)
                if lo_at < hi_at:
                    found.append((label, lo_at, hi_at))
        return found


def _where(at: tuple[int | str, ...], data: Any) -> str:
    """Where a validation error is: ``terms[1] (2026-spring) end``, or the top-level key."""
    loc = list(at)
    if len(loc) >= 2 and loc[0] == "terms" and isinstance(loc[1], int):
        terms = data.get("terms") if isinstance(data, dict) else None
        term = terms[loc[1]] if isinstance(terms, list) and loc[1] < len(terms) else None
        name = f" ({term['id']})" if isinstance(term, dict) and "id" in term else ""
        return " ".join([f"terms[{loc[1]}]{name}", *map(str, loc[2:])])
    return ".".join(map(str, loc)) or "calendar"


def load_calendar(path: Path | None) -> Calendar | None:
    """The calendar in ``path`` (TOML), None without one; a CalendarError naming the file and
    what is wrong (the line of a TOML syntax error, the term and field of a bad value)."""
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(f"DREAM_CALENDAR_FILE {path}: cannot read it: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"DREAM_CALENDAR_FILE {path}: not valid TOML: {exc}") from None
    try:
        return Calendar.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'], data)}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())  # fmt: skip
        raise CalendarError(f"DREAM_CALENDAR_FILE {path}: {problems}") from None


def with_term(calendar: Calendar | None, filters: dict[str, Any]) -> dict[str, Any]:
    """The filters with ``term`` read as its ``from``/``to`` (campus midnights, in UTC)."""
    term = filters.get("term")
    if term is None:
        return filters
    if calendar is None:
        raise FilterError("term", "no academic calendar is configured (DREAM_CALENDAR_FILE)", term)
    if filters.get("from") is not None or filters.get("to") is not None:
        raise FilterError("term", "give either `term` or `from`/`to`, not both", term)
    start, end = calendar.range_of(term)
    return {**filters, "from": start, "to": end}


def label_of(row: dict[str, Any], bucket: str) -> Any:
    """A usage row's bucket as ``Calendar.buckets`` names it: a ``week_of_term`` row's term
    and week together (``2026-autumn w3``), any other's ``bucket`` as it is."""
    return f"{row['group']} {row['bucket']}" if bucket == WEEK_OF_TERM else row["bucket"]


def usage(analytics: Analytics, filters: Filters, *, bucket: str, group_by: str | None,
          source: str) -> Answer:  # fmt: skip
    """``usage`` per term or teaching week: each bucket asked as one range (distinct users over
    it), every group in every bucket (0 where it had no use), labelled buckets in time order.
    ``week_of_term``: the teaching weeks, the term as the group and ``w3`` as the bucket."""
    from dream.analytics.queries import Answer  # the class only; queries imports this module

    calendar = analytics.calendar
    if calendar is None:
        raise FilterError("bucket", "no academic calendar is configured (DREAM_CALENDAR_FILE)",
                          bucket)  # fmt: skip
    if bucket == WEEK_OF_TERM and group_by is not None:
        raise FilterError("group_by", "bucket=week_of_term groups by term: give no group_by",
                          group_by)  # fmt: skip
    used = analytics.choose_source(filters, source)
    found: dict[tuple[str | None, str], dict[str, Any]] = {}
    labels: list[str] = []
    for label, start, end in calendar.buckets(bucket, filters.start, filters.end):
        part = filters.model_copy(update={"from_": start, "to": end})
        labels.append(label)
        if group_by is None:
            rows = analytics.usage(part, bucket=WHOLE_RANGE, source=used).items
        else:
            rows = [{**r, "group": r[group_by]} for r in analytics.breakdown(
                part, by=group_by, metric=None, limit=1_000_000, source=used).items]  # fmt: skip
        for r in rows:
            found[r["group"], label] = {k: r[k] for k in _ZERO}
    groups = sorted({g for g, _ in found}, key=lambda g: (g is not None, g or "")) or [None]
    items = [{"group": g, "bucket": label, **found.get((g, label), _ZERO)}
             for g in groups for label in labels]  # fmt: skip
    if bucket == WEEK_OF_TERM:  # "2026-autumn w3" → group 2026-autumn, bucket w3
        for item in items:
            item["group"], item["bucket"] = item["bucket"].rsplit(" ", 1)
    return Answer(items, used)
