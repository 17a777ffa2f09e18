"""The filters every analytics question takes, validated, and what they allow a query to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dream.snapshots import Faculty, Host, iso_8601

OperatingSystem = Literal["linux", "windows", "macos"]
Metric = Literal["users", "hosts", "snapshots", "processes", "cpu", "memory", "hours", "launches"]
Dimension = Literal["faculty", "os", "user", "host", "app"]
Bucket = Literal["hour", "day", "week", "month"]
Source = Literal["auto", "rollup", "raw"]

METRICS: tuple[str, ...] = get_args(Metric)
METRIC_COLUMN: dict[str, str] = {
    "users": "users",
    "hosts": "hosts",
    "snapshots": "snapshots",
    "processes": "processes",
    "cpu": "avg_cpu_percent",
    "memory": "avg_rss_kb",
    "hours": "hours",  # of use, from sessions (dream.analytics.hours)
    "launches": "launches",
}
# The metric columns every aggregate answer has, in the order answers list them.
METRIC_FIELDS: tuple[str, ...] = tuple(METRIC_COLUMN.values())
# API dimension name → column (rollups and raw rows name them alike).
DIMENSION_COLUMN: dict[str, str] = {
    "faculty": "faculty",
    "os": "os",
    "user": "user_name",
    "host": "host",
    "app": "app",
}

# Stand-ins for an open end of the time range (PostgreSQL timestamptz covers both).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


class FilterError(ValueError):
    """An invalid filter value; ``param`` names the query parameter, ``value`` what was sent."""

    def __init__(self, param: str, message: str, value: Any = None) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
        self.value = value


def utc_in_range(value: datetime) -> datetime:
    """``value`` in UTC (a bare time is read as UTC), or ValueError outside EARLIEST..LATEST."""
    out_of_range = f"must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 lies in year 0 in UTC
        raise ValueError(out_of_range) from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError(out_of_range)
    return value


# `from`/`to`: ISO 8601 only, within the range the queries can compute with (days and weeks
# around the bounds must still be representable).
Moment = Annotated[datetime, BeforeValidator(iso_8601), AfterValidator(utc_in_range)]


def several(value: object) -> object:
    """One value or several (a repeated query parameter, ``faculty=law&faculty=engineering``)
    as a tuple, each once, in the order given; None (or none given) as None."""
    if value is None or isinstance(value, str):
        return value if value is None else (value,)
    if isinstance(value, list | tuple):
        return tuple(dict.fromkeys(value)) or None
    return value


def one_or_several(values: tuple[str, ...] | None) -> str | list[str] | None:
    """A filter as the api echoes it: its value, or the list of them when several."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else list(values)


def _hour_aligned(value: datetime | None) -> bool:
    return value is None or (value.minute, value.second, value.microsecond) == (0, 0, 0)


class Filters(BaseModel):
    """``faculty``, ``os``, ``user``, ``host``, ``app``, ``from`` (inclusive), ``to`` (exclusive),
    ``include_system``, ``product``, ``category``: all optional, all combinable. ``apps`` is what
    ``app``, ``product`` and ``category`` allow together, as the catalog expands them
    (analytics/products.py; ``None``: any app)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    # Host and faculty are normalized as the ingest api stores them (dream.snapshots). Faculty
    # and OS take several values (any of them).
    faculty: Annotated[tuple[Faculty, ...] | None, BeforeValidator(several)] = None
    os: Annotated[tuple[OperatingSystem, ...] | None, BeforeValidator(several)] = None
    user: str | None = Field(default=None, min_length=1, max_length=256)
    host: Host | None = None
    app: str | None = Field(default=None, min_length=1, max_length=256)
    from_: Moment | None = Field(default=None, alias="from")
    to: Moment | None = None
    include_system: bool = False
    product: str | None = Field(default=None, min_length=1, max_length=256)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    # An academic term (analytics/calendar.py): echoed; the api reads it as `from`/`to`.
    term: str | None = Field(default=None, min_length=1, max_length=64)
    apps: tuple[str, ...] | None = None

    @field_validator("app")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        # Stored lowercased by the parsers.
        return value.strip().lower() if value is not None else None

    @model_validator(mode="after")
    def _apps(self) -> Filters:
        # Without the catalog's expansion (a caller in Python), app= alone still filters.
        if self.apps is None and self.app is not None:
            object.__setattr__(self, "apps", (self.app,))
        return self

    @property
    def app_filtered(self) -> bool:
        """Whether ``app``, ``product`` or ``category`` limits the apps (to ``apps``)."""
        return self.apps is not None

    @model_validator(mode="after")
    def _ordered(self) -> Filters:
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise FilterError("from", "must be before `to` (`from` is inclusive, `to` exclusive)")
        return self

    @property
    def start(self) -> datetime:
        return self.from_ or EARLIEST

    @property
    def end(self) -> datetime:
        return self.to or LATEST

    @property
    def hour_aligned(self) -> bool:
        """Rollups answer exactly only when both bounds fall on whole hours (UTC)."""
        return _hour_aligned(self.from_) and _hour_aligned(self.to)

    def as_dict(self) -> dict[str, Any]:
        """The filters as the api echoes them back."""
        return {
            "faculty": one_or_several(self.faculty),
            "os": one_or_several(self.os),
            "user": self.user,
            "host": self.host,
            "app": self.app,
            "from": self.from_.isoformat() if self.from_ else None,
            "to": self.to.isoformat() if self.to else None,
            "include_system": self.include_system,
            **{name: getattr(self, name) for name in ("product", "category", "term")
               if getattr(self, name) is not None},
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RollupRanges:
    """[from, to) cut into whole days (usage_daily) and the hours before and after them."""

    day_from: datetime
    day_to: datetime
    head_from: datetime
    head_to: datetime
    tail_from: datetime
    tail_to: datetime

    def params(self) -> dict[str, datetime]:
        return {
            "day_from": self.day_from, "day_to": self.day_to,
            "head_from": self.head_from, "head_to": self.head_to,
            "tail_from": self.tail_from, "tail_to": self.tail_to,
        }  # fmt: skip


def _floor_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def rollup_ranges(start: datetime, end: datetime, *, use_days: bool = True) -> RollupRanges:
    """Split hour-aligned [start, end) for the rollups; ``use_days=False`` reads hours only."""
    if use_days:
        first_day = _floor_day(start)
        if first_day < start:
            first_day += timedelta(days=1)
        last_day = _floor_day(end)
        if first_day < last_day:
            return RollupRanges(first_day, last_day, start, first_day, last_day, end)
    return RollupRanges(start, start, start, end, end, end)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALL_BITS = (1 << 64) - 1


def _int8(mask: int) -> int:
    """A 64-bit mask as PostgreSQL's signed bigint holds it."""
    return mask - (1 << 64) if mask >= 1 << 63 else mask


def presence_masks(day_from: datetime, day_to: datetime) -> dict[str, int]:
    """The ``usage_presence`` blocks and day masks of the whole UTC days [day_from, day_to).

    Blocks are 64 days since 1970-01-01 (floor division, as the SQL ``usage_block``); the first
    and last block keep only the days inside the range. No days: an empty block range.
    """
    first, end = (day_from - _EPOCH).days, (day_to - _EPOCH).days
    if first >= end:
        return {"block_from": 1, "block_to": 0, "first_mask": 0, "last_mask": 0}
    last = end - 1
    return {
        "block_from": first // 64,
        "block_to": last // 64,
        "first_mask": _int8(_ALL_BITS ^ ((1 << (first % 64)) - 1)),
        "last_mask": _int8((1 << (last % 64 + 1)) - 1),
    }
