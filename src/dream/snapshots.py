"""Dream's model: the snapshot a collector posts, the message that travels through the
pipeline, what parsing made of it (``ProcessedSnapshot``, which the writer stores) and the
process row.

The layers above parsing import all of it from here. ``ProcessRecord`` itself is defined in
``dream.parsing.model``, because the parsers (the lowest domain layer, below this module)
produce it; the stored row adds the snapshot's fields to it here, once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from dream.parsing.model import (
    COLUMN_TYPES,
    PROCESS_COLUMNS,
    PROCESS_FIELDS,
    PROCESS_TYPES,
    ProcessRecord,
    SkippedRow,
)
from dream.text import no_control_characters, storable_text, visible_name

__all__ = [
    "COLUMN_TYPES", "PROCESS_COLUMNS", "PROCESS_FIELDS", "PROCESS_ROW_COLUMNS", "PROCESS_TYPES",
    "ROW_SNAPSHOT_FIELDS", "ClockWindow", "CollectedAt", "ExecutableFact", "Faculty", "Host",
    "MAX_EXECUTABLES", "OperatingSystem",
    "MAX_SKIPPED_KEPT", "OptionalText", "OutputUrl", "ProcessRecord", "ProcessedSnapshot",
    "RawOutput", "RawRef", "SkippedRow", "Snapshot", "SnapshotIn", "SnapshotMetadata", "UserName",
    "iso_8601",
]  # fmt: skip

OperatingSystem = Literal["linux", "windows", "macos"]


@dataclass(frozen=True, slots=True)
class ClockWindow:
    """The ``collected_at`` a deployment accepts (DREAM_MAX_CLOCK_SKEW, DREAM_MAX_SNAPSHOT_AGE).

    Clocks of lab machines drift, so a little future is fine; a spool drained after weeks
    offline or last year's listings imported are old but honest. Beyond that it is a wrong
    clock, refused before it becomes a partition of its own.
    """

    max_skew: timedelta = timedelta(days=1)
    max_age: timedelta = timedelta(days=400)

    def problem(self, collected_at: datetime, now: datetime) -> str | None:
        """Why ``collected_at`` is refused at ``now``, naming the allowed window; None if fine."""
        now = now.astimezone(UTC)
        earliest, latest = now - self.max_age, now + self.max_skew
        window = f"accepted: {earliest:%Y-%m-%dT%H:%M:%SZ} to {latest:%Y-%m-%dT%H:%M:%SZ}"
        if collected_at > latest:
            return f"lies more than {_duration(self.max_skew)} in the future ({window})"
        if collected_at < earliest:
            return f"is more than {_duration(self.max_age)} old ({window})"
        return None


def _duration(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days} day{'s' if span.days != 1 else ''}"
    return f"{span.total_seconds():g} seconds"


# Host and faculty names: NFKC-normalized, invisible characters refused (dream.text).
Host = Annotated[
    str,
    BeforeValidator(visible_name),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
]
UserName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(no_control_characters),
]
Faculty = Annotated[
    str,
    BeforeValidator(visible_name),
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64),
]
OptionalText = (
    Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=1024),
        AfterValidator(no_control_characters),
    ]
    | None
)
RawOutput = Annotated[str, AfterValidator(storable_text)]
# A raw output a collector already uploaded to the object store: s3://bucket/key.
OutputUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^s3://[^/\s]+/\S+$")
]
# A number is not a time: lax pydantic would read `0.5` or "1764000000" as a unix time.
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def iso_8601(value: object) -> object:
    """``value`` unless it is a number (lax pydantic would take it for a unix time)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date or date-time such as 2026-11-01T00:00:00Z,"
                         " not a number")  # fmt: skip
    return value


# Which times are plausible depends on the deployment: the api checks them (ClockWindow).
CollectedAt = Annotated[AwareDatetime, BeforeValidator(iso_8601)]


def _absolute_path(path: str) -> str:
    """A file as the OS names it: /usr/bin/x, C:\\Windows\\x.exe or \\\\server\\share\\x.exe."""
    if not re.match(r"^(/|[A-Za-z]:[\\/]|\\\\)", path):
        raise ValueError(f"{path[:100]!r} is not an absolute path")
    return path


ExecutablePath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096),
    AfterValidator(no_control_characters),
    AfterValidator(_absolute_path),
]
MAX_EXECUTABLES = 10_000


class ExecutableFact(BaseModel):
    """One file a listed process runs (not its argv[0]): size, content hash, and who signed or
    packaged it (macOS signature authority, Authenticode signer, "dpkg:pkg"/"rpm:pkg")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: ExecutablePath = Field(examples=["/Applications/Stata/StataMP.app/Contents/MacOS/StataMP"])
    size_bytes: int = Field(ge=0, le=2**53, examples=[48213504])
    sha256: Annotated[str, StringConstraints(to_lower=True, pattern=r"^[0-9a-fA-F]{64}$")]
    signer: OptionalText = Field(default=None, examples=["Developer ID Application: StataCorp LLC"])


class SnapshotMetadata(BaseModel):
    """Who, where and when: the fields every snapshot carries besides its output."""

    model_config = ConfigDict(extra="forbid")

    host: Host = Field(examples=["law-pc-17"])
    os: OperatingSystem = Field(examples=["windows"])
    os_version: OptionalText = Field(default=None, examples=["10.0.22631"])
    user: UserName = Field(examples=["jdoe"])
    faculty: Faculty = Field(examples=["law"])
    collected_at: CollectedAt = Field(examples=["2026-11-27T10:00:00Z"])
    command: OptionalText = Field(default=None, examples=["tasklist /v"])
    interval_s: float | None = Field(
        default=None, ge=1, le=86400, allow_inf_nan=False, examples=[300],
        description="The collector's sampling interval (seconds, 1 to 86400): how long this"
        " snapshot's processes count as running (hours of use). Unset: the deployment's default.",
    )
    executables: list[ExecutableFact] | None = Field(
        default=None, max_length=MAX_EXECUTABLES,
        description="The distinct files the listed processes run, with their facts (optional).",
    )


class SnapshotIn(SnapshotMetadata):
    """The body of ``POST /v1/snapshots``."""

    spool_evicted: int | None = Field(
        default=None, ge=0, le=2**53, examples=[0],
        description="How many snapshots the collector's bounded spool ever evicted unsent (lost"
        " before any api heard them); fleet health shows it per host (`GET /v1/hosts`).",
    )

    snapshot_id: uuid.UUID | None = Field(
        default=None, description="Client-chosen id; posting the same id again is a no-op."
    )
    output: RawOutput | None = Field(
        default=None, description="The raw text the command printed (or give `output_url`)."
    )
    output_url: OutputUrl | None = Field(
        default=None,
        description="Instead of `output`: s3://bucket/key of the raw output, already uploaded"
        " to Dream's bucket by the collector.",
        examples=["s3://dream-raw/uploads/law-pc-17/2026-11-27T10:00:00Z.txt"],
    )

    @model_validator(mode="after")
    def _one_output(self) -> SnapshotIn:
        if (self.output is None) == (self.output_url is None):
            raise ValueError("give exactly one of `output` and `output_url`")
        return self


class RawRef(BaseModel):
    """Where a raw output lives in the blob store (content-addressed: sha256 of the raw bytes)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0, description="Bytes of the raw output, uncompressed.")
    # zstd-pack: one of several outputs in a pack object; the URL's fragment is its offset.
    compression: Literal["zstd", "gzip", "none", "zstd-pack"]
    url: str = Field(description="The stored object: file:///... or s3://bucket/key.")


class Snapshot(SnapshotMetadata):
    """A snapshot accepted by the api: the message the pipeline carries to the worker."""

    model_config = ConfigDict(extra="ignore")

    snapshot_id: uuid.UUID
    received_at: datetime
    # The raw output travels inline (``output``), or by reference: ``raw`` (the api put it in
    # the blob store: the claim check) or ``output_url`` (the collector uploaded it).
    output: str | None = None
    raw: RawRef | None = None
    output_url: str | None = None

    @model_validator(mode="after")
    def _has_output(self) -> Snapshot:
        if self.output is None and self.raw is None and self.output_url is None:
            raise ValueError("a snapshot needs `output`, `raw` or `output_url`")
        return self

    @property
    def output_bytes(self) -> int:
        """Size of the raw output as far as known here (for logs)."""
        if self.raw is not None:
            return self.raw.size
        return len(self.output) if self.output is not None else 0

    @classmethod
    def accept(cls, incoming: SnapshotIn, *, received_at: datetime | None = None) -> Snapshot:
        """The message for a validated ``incoming`` snapshot (not validated a second time)."""
        fields = {name: getattr(incoming, name) for name in SnapshotMetadata.model_fields}
        return cls.model_construct(
            **fields,
            output=incoming.output,
            output_url=incoming.output_url,
            raw=None,
            snapshot_id=incoming.snapshot_id or uuid.uuid4(),
            received_at=received_at or datetime.now(UTC),
        )


# The snapshot's fields every stored process row repeats (so rows filter and prune partitions
# without a join), then the process's own: a process row as stored and exported, in export order.
ROW_SNAPSHOT_FIELDS: tuple[str, ...] = (
    "collected_at", "snapshot_id", "host", "os", "user", "faculty",
)  # fmt: skip
PROCESS_ROW_COLUMNS: tuple[str, ...] = ROW_SNAPSHOT_FIELDS + PROCESS_COLUMNS


# How many skipped lines a snapshot keeps (the total is kept beside them).
MAX_SKIPPED_KEPT = 1000


@dataclass(slots=True)
class ProcessedSnapshot:
    """A snapshot after parsing: ready to be written, whether parsing succeeded or not."""

    snapshot: Snapshot
    status: Literal["stored", "failed"]
    format: str | None = None
    processes: list[ProcessRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # The rows the parser could not read: the first ``MAX_SKIPPED_KEPT`` of them (one garbage
    # upload must not bloat its snapshot row) and how many there were in all.
    skipped: list[SkippedRow] = field(default_factory=list)
    skipped_count: int = 0
    # The version of the catalog that named its products (``Catalog.version``): stored with it,
    # so an answer can say which catalog produced it. None where no product was named (failed).
    catalog: str | None = None

    def skipped_rows(self) -> list[dict[str, int | str]]:
        """``skipped`` as stored in ``snapshots.skipped_rows`` and answered by the api."""
        return [{"line": row.line, "reason": row.reason} for row in self.skipped]

