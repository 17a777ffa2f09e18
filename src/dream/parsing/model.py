"""The parsed form of a process listing: what every parser produces."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


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

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PROCESS_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProcessRecord))


@dataclass(slots=True)
class ParseResult:
    """A parsed listing: the detected ``format`` and ``os``, its processes and any warnings."""

    format: str
    os: str | None
    processes: list[ProcessRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
