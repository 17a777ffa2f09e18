"""The parsed form of a process listing: what every parser produces.

The single source of a process row's fields: the writer's COPY, the api's response model, the
exports and the SQL select lists (held to it by tests/test_process_columns.py) all derive from
``ProcessRecord``. It lives in parsing, the lowest domain layer, so every layer above can use it.
"""

from __future__ import annotations

import typing
import types
from dataclasses import dataclass, field, fields
from typing import NamedTuple


@dataclass(slots=True)
class ProcessRecord:
    """One process as a listing describes it; ``None`` where the format does not carry a field."""

    pid: int | None = None
    ppid: int | None = None
    user: str | None = None
    name: str | None = None
    command: str | None = None
    app: str | None = None
    is_system: bool = False
    cpu_percent: float | None = None
    mem_percent: float | None = None
    rss_kb: int | None = None
    vsz_kb: int | None = None
    state: str | None = None
    tty: str | None = None
    started: str | None = None
    cpu_seconds: float | None = None
    threads: int | None = None
    session: int | None = None
    session_name: str | None = None
    status: str | None = None
    window_title: str | None = None
    # The product's version where the catalog reads one in the name or path (``R2023b``, ``16``):
    # set with ``app`` by dream.parsing.apps.name_products, else None.
    version: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PROCESS_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProcessRecord))
# The same fields as stored and exported: a row there also carries its snapshot's ``user`` (who
# ran the collector), so the process's own user is ``process_user``.
PROCESS_COLUMNS: tuple[str, ...] = tuple(
    "process_user" if name == "user" else name for name in PROCESS_FIELDS
)
# Each field's annotation (``int | None``, ``bool``...), for models and typed exports.
PROCESS_TYPES: dict[str, object] = typing.get_type_hints(ProcessRecord)


def value_type(annotation: object) -> type:
    """The value type of a field's annotation: ``int`` for ``int | None``."""
    if isinstance(annotation, types.UnionType):
        (inner,) = (a for a in typing.get_args(annotation) if a is not type(None))
        return value_type(inner)
    assert isinstance(annotation, type)
    return annotation


# Each stored column's value type, for exports typed without looking at the values.
COLUMN_TYPES: dict[str, type] = {
    column: value_type(PROCESS_TYPES[name])
    for column, name in zip(PROCESS_COLUMNS, PROCESS_FIELDS, strict=True)
}


class SkippedRow(NamedTuple):
    """A line (or JSON item) the parser could not read, and why: no row is dropped in silence."""

    line: int
    reason: str

    @property
    def warning(self) -> str:
        """The warning that says so, by line number and reason, never the row's text."""
        return f"line {self.line}: skipped {self.reason}"


class Notes(list[str]):
    """A parse's warnings, plus the rows it skipped as data (each also warned about)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: list[SkippedRow] = []


@dataclass(slots=True)
class ParseResult:
    """A parsed listing: the detected ``format`` and ``os``, its processes, any warnings, and
    every row that could not be read (``skipped``: line number and reason)."""

    format: str
    os: str | None
    processes: list[ProcessRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
