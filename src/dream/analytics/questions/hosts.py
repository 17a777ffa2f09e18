"""``GET /v1/hosts``: the hosts picker with each host's fleet health beside its counts — when
the api last heard from it, which agent it runs, its cadence and clock skew, and whether it is
``reporting``, ``late`` or ``silent`` (thresholds from its cadence: docs/agent.md, "Fleet
health"). Its query needs the database driver, imported when the question runs (the client
reads this registry too)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model

from dream.analytics.questions.base import Question

if TYPE_CHECKING:
    from dream.analytics.filters import Filters
    from dream.analytics.queries import Analytics, Answer

# The fleet facts of a host (storage/fleet.sql selects them), null for a host never heard since
# fleet health was recorded.
FLEET_FIELDS = ("last_seen", "last_collected_at", "agent", "cadence_s", "clock_skew_s", "status",
                "snapshots_received", "spool_evicted")  # fmt: skip
# The facts of those the api's clock gives (when it heard from the host, hence its cadence, skew
# and status): two apis, or the same data ingested twice, differ on them whatever the data.
API_CLOCK_FIELDS = ("last_seen", "status", "cadence_s", "clock_skew_s")

DESCRIPTION = (
    "Each host seen under the filters, with its counts and its fleet health: `last_seen` (the"
    " api's clock), `last_collected_at` (the host's), `agent` (its User-Agent's product/version),"
    " `cadence_s` (the median of its recent intervals between snapshots), `clock_skew_s` (its"
    " Date header minus the api's clock), `status`: `reporting` within 2 cadences of"
    " `last_seen`, `late` within 6, `silent` beyond; `spool_evicted`: the snapshots its"
    " collector's full spool evicted unsent, ever. *Which lab machines stopped reporting*:"
    " `hosts?faculty=law`, then `status`."
)


def without(fields: tuple[str, ...], answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` (a JSON answer) with ``fields`` left out of its items, so that answers from
    two sites or two ingests compare on what the data decides."""
    items = answer.get("items")
    if not isinstance(items, list):
        return answer
    kept = [{k: v for k, v in i.items() if k not in fields} if isinstance(i, dict) else i
            for i in items]  # fmt: skip
    return {**answer, "items": kept}


Status = Literal["reporting", "late", "silent"]


def with_fleet_health(picker: Question[Any]) -> Question[Any]:
    """The ``hosts`` picker, its rows joined with the hosts' fleet facts; ``status=`` keeps
    the hosts in that status."""
    hosts_params = create_model(
        "HostsParams", __base__=picker.params,
        status=(Status | None, Field(default=None, description="Only the hosts in this status.")),
    )  # fmt: skip

    def run(analytics: Analytics, filters: Filters, params: Any) -> Answer:
        from dream.storage.fleet import of_hosts  # the database side: server only

        answer = picker.run(analytics, filters, params)
        with analytics.pool.connection() as conn:
            facts = of_hosts(conn, [row["host"] for row in answer.items])
        empty = dict.fromkeys(FLEET_FIELDS)
        rows = [{**row, **facts.get(row["host"], empty)} for row in answer.items]
        answer.items = [r for r in rows if params.status in (None, r["status"])]
        return answer

    columns = picker.columns
    return replace(picker, params=hosts_params, run=run, columns=lambda p: (*columns(p), *FLEET_FIELDS),
                   summary="The hosts seen under the filters, with their fleet health",
                   description=DESCRIPTION)  # fmt: skip
