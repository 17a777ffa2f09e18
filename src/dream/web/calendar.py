"""``GET /v1/calendar``: the academic calendar the api answers in (``DREAM_CALENDAR_FILE``), so a
client (the dashboard's Term filter and calendar buckets) offers only the terms that exist, and
nothing when no calendar is configured."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dream.analytics.calendar import Calendar, Term


class CalendarOut(BaseModel):
    """The campus time zone and the terms in order; ``tz`` null and no terms without a calendar."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "tz": "Europe/London",
        "terms": [{"id": "2026-autumn", "start": "2026-09-28", "end": "2026-12-18",
                   "teaching_weeks": 10, "exam_weeks": 1,
                   "holidays": [{"name": "reading week", "start": "2026-11-02",
                                 "end": "2026-11-06"}]}],
    }]})  # fmt: skip

    tz: str | None = Field(description="The campus time zone (IANA name) calendar buckets use",
                           examples=["Europe/London"])  # fmt: skip
    terms: list[Term] = Field(description="The terms, in time order: the values of `term=`")


def calendar_router(calendar: Calendar | None) -> APIRouter:
    """The one read-only route over ``calendar`` (loaded and checked at start-up)."""
    router = APIRouter()

    @router.get("/v1/calendar", response_model=CalendarOut,
                summary="The academic calendar: the campus time zone and its terms")  # fmt: skip
    async def get_calendar() -> CalendarOut:
        if calendar is None:
            return CalendarOut(tz=None, terms=[])
        return CalendarOut(tz=calendar.tz, terms=list(calendar.terms))

    return router
