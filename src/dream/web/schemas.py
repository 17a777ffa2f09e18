"""The api's request and response bodies as published in the OpenAPI schema, with examples."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model

from dream.snapshots import MAX_SKIPPED_KEPT, PROCESS_TYPES

EXAMPLE_SNAPSHOT: dict[str, Any] = {
    "host": "law-pc-17",
    "os": "windows",
    "os_version": "10.0.22631",
    "user": "jdoe",
    "faculty": "law",
    "collected_at": "2026-11-27T10:00:00Z",
    "command": "tasklist",
    "output": (
        "\r\nImage Name                     PID Session Name        Session#    Mem Usage\r\n"
        "========================= ======== ================ =========== ============\r\n"
        "System Idle Process              0 Services                   0          8 K\r\n"
        "WINWORD.EXE                   4312 Console                    1    184,220 K\r\n"
    ),
}


READY_EXAMPLE = {
    "status": "ready",
    "checks": {
        "database": {"ok": True},
        "pipeline": {"ok": True, "transport": "kafka", "detail": "1 broker(s), 6 partition(s)"},
    },
}
UNREADY_EXAMPLE = {
    "status": "unavailable",
    "checks": {
        "database": {"ok": True},
        "pipeline": {"ok": False, "transport": "kafka", "detail": "broker unreachable: ..."},
    },
}


class Accepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"snapshot_id": "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10", "status": "accepted"}
            ]
        }
    )

    snapshot_id: uuid.UUID
    # `dropped`: its user or host opted out; nothing of it was kept (docs/security.md).
    status: Literal["accepted", "dropped"] = "accepted"
    reason: str | None = None


class SkippedLine(BaseModel):
    """A line of the listing the parser could not read: never dropped in silence."""

    line: int = Field(description="Its line number in the listing (1-based; for JSON, the "
                      "item's position).")
    reason: str = Field(description="Why it could not be read (never the line's text).")


class SnapshotState(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"snapshot_id": "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10", "status": "stored",
                 "host": "law-pc-17", "os": "windows", "os_version": "10.0.22631",
                 "user": "u_5b1e0c7d9a2f4e6b8c3d", "faculty": "law",
                 "collected_at": "2026-11-27T10:00:00Z",
                 "received_at": "2026-11-27T10:00:02Z", "stored_at": "2026-11-27T10:00:02Z",
                 "command": "tasklist", "format": "tasklist", "process_count": 2,
                 "warnings": ["line 5: skipped malformed tasklist row"], "error": None,
                 "skipped_rows": [{"line": 5, "reason": "malformed tasklist row"}],
                 "skipped_count": 1}
            ]
        }
    )  # fmt: skip

    snapshot_id: uuid.UUID
    status: Literal["pending", "stored", "failed"]
    host: str | None = None
    os: str | None = None
    os_version: str | None = None
    user: str | None = None
    faculty: str | None = None
    collected_at: Any = None
    received_at: Any = None
    stored_at: Any = None
    command: str | None = None
    format: str | None = Field(default=None, description="The listing format the parser detected.")
    process_count: int | None = None
    warnings: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why parsing failed, for failed ones.")
    skipped_rows: list[SkippedLine] = Field(
        default_factory=list,
        description=f"The lines the parser could not read (the first {MAX_SKIPPED_KEPT:,}): "
        "the rest of the listing was stored without them.",
    )
    skipped_count: int = Field(default=0, description="How many lines were skipped in all.")


_PROCESS_EXAMPLE: dict[str, JsonValue] = {
    "pid": 9911, "ppid": None, "user": "ENG-LAB-04\\u_0f9e8d7c6b5a49382716", "name": "matlab.exe",
    "command": None, "app": "matlab", "is_system": False, "cpu_percent": None,
    "mem_percent": None, "rss_kb": 2045112, "vsz_kb": None, "state": None, "tty": None,
    "started": None, "cpu_seconds": 9669.0, "threads": None, "session": 1,
    "session_name": "Console", "status": "Running", "window_title": "MATLAB R2023b - academic use",
}  # fmt: skip
_PROCESS_EXAMPLES: list[JsonValue] = [_PROCESS_EXAMPLE]

# ProcessRecord's fields, each required: the api answers every one, null where unknown.
_ProcessFields: type[BaseModel] = create_model(
    "_ProcessFields",
    **{name: (annotation, ...) for name, annotation in PROCESS_TYPES.items()},  # type: ignore[call-overload]
)


class ProcessRow(_ProcessFields):  # type: ignore[misc,valid-type]
    """One stored process (fields the listing's format does not carry are null)."""

    model_config = ConfigDict(json_schema_extra={"examples": _PROCESS_EXAMPLES})


class SnapshotProcesses(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "snapshot_id": "0b6f7a3e-4c1d-4e59-9a53-2f1f3c9d8e10",
                    "processes": _PROCESS_EXAMPLES,
                    "truncated": False,
                }
            ]
        }
    )

    snapshot_id: uuid.UUID
    processes: list[ProcessRow]
    truncated: bool = Field(description="True when more rows exist than `limit` returned.")
    note: str | None = Field(
        default=None,
        description="Why a stored snapshot's process rows are not here: per-sample rows are"
        " kept only for snapshots within DREAM_RAW_ROWS_RETENTION_DAYS (its sessions and"
        " rollups hold its use, its raw output stays for a reprocess).",
    )


class Problem(BaseModel):
    detail: str
