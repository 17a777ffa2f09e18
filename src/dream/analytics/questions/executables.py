"""The executables question: *the average file size of non-system executables on macOS* is
``GET /v1/analytics/executables?os=macos`` (``include_system=false`` is the default).

Its queries need the database driver, which the question registry (read by the Python client
too) never imports: they are imported when the question runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from dream.analytics.questions.answers import Coverage
from dream.analytics.questions.base import ExportLimit, Question

if TYPE_CHECKING:
    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics, Answer


class ExecutablesParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: Annotated[int, Field(ge=1, le=10_000, description="Files listed in `items`.")] = 100


class ExecutableItem(BaseModel):
    path: str
    sha256: str
    app: str = Field(description="The app its processes count as (the file's name, as parsed).")
    size_bytes: int
    signer: str | None = Field(description="Signature authority, Authenticode signer or package.")
    hosts: int = Field(description="Hosts that ran this file (path and content).")
    users: int = Field(description="Distinct users of the snapshots that listed it.")


class Executables(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "files": 2, "avg_size_bytes": 31457280.0, "median_size_bytes": 31457280.0,
        "total_size_bytes": 62914560, "avg_size_bytes_per_host": 41943040.0,
        "items": [{"path": "/Applications/Stata/StataMP.app/Contents/MacOS/StataMP",
                   "sha256": "9f" * 32, "app": "statamp", "size_bytes": 52428800,
                   "signer": "Developer ID Application: StataCorp LLC (7X8Y9Z)",
                   "hosts": 2, "users": 3}],
        "filters": {"os": "macos", "include_system": False}}]})  # fmt: skip

    files: int = Field(description="Distinct files (path and content): each counts once.")
    avg_size_bytes: float | None = Field(description="Mean size of those files (bytes).")
    median_size_bytes: float | None = None
    total_size_bytes: int
    avg_size_bytes_per_host: float | None = Field(
        description="Mean size weighted by installations: a file on 10 hosts counts 10 times."
    )
    items: list[ExecutableItem]
    filters: dict[str, Any]
    coverage: Coverage | None = Field(default=None, description="Hosts that reported in the range.")


@dataclass(slots=True)
class _Answer:
    items: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    source: str = "executables"
    next_cursor: str | None = None
    coverage: dict[str, Any] | None = None


def _run(analytics: Analytics, filters: Filters, params: ExecutablesParams) -> Answer:
    from dream.analytics.executables import executables  # the database side: server only

    summary, items = executables(analytics._fetch, filters, params.limit)
    return _Answer(items, summary)  # type: ignore[return-value]


def _body(answer: Any, filters: Filters, params: ExecutablesParams) -> dict[str, Any]:
    return {**answer.summary, "items": answer.items, "filters": filters.as_dict(),
            "coverage": answer.coverage}


EXECUTABLES: Question[ExecutablesParams] = Question(
    name="executables",
    path="/v1/analytics/executables",
    params=ExecutablesParams,
    run=_run,
    columns=lambda p: ("path", "sha256", "app", "size_bytes", "signer", "hosts", "users"),
    response_model=Executables,
    summary="Sizes of the executables the hosts ran: mean, median, total, and the files",
    description=(
        "From the executables' facts agents send (path, size, sha256, signer). A file (path"
        " and content) counts once however many hosts ran it (`avg_size_bytes`);"
        " `avg_size_bytes_per_host` weights by installations. `include_system=false` (default)"
        " leaves the operating system's files out: signer or package first, path second"
        " (docs/agent.md); `app` keeps the files its processes count as. *The average file"
        " size of non-system executables on macOS*:"
        " `executables?os=macos`."
    ),
    title="Executables",
    export=ExportLimit(100, cap=10_000),
    body=_body,
)
