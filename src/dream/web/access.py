"""Who may ask what of the analytics: the role a question or a filter needs, and the
k-anonymity floor a caller's answers are held to.

A `query` key reads aggregates only: rows (``/v1/processes``, ``/v1/sessions``, their exports)
and the filters that single people or machines out (``user=``, ``host=``) need `steward` (or
`admin`), and every answer row it is shown counts at least DREAM_MIN_GROUP_USERS distinct users
(the questions' ``Disclosure``, applied where every door asks: ``Question.ask``). A key with
``dp_epsilon`` (differential privacy) spends that much of its monthly budget on each answer,
here, before it is answered; once the budget is gone it is refused with 429 until the month
ends, and ``Question.ask`` noises what it is answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import HTTPException, Request

from dream.analytics.questions import BY_NAME, QUESTIONS, Question
from dream.analytics.questions.base import DISCLOSURE, Disclosure
from dream.security.auth import Authenticator
from dream.security.budget import BudgetSpent, PrivacyBudget
from dream.security.keys import Principal

STEWARD_FILTERS = ("user", "host")  # filters that single a person or a machine out
EXPORT_PATH = "/v1/export"
_BY_PATH: dict[str, Question[Any]] = {q.path: q for q in QUESTIONS}


def _question(request: Request) -> Question[Any] | None:
    if request.url.path == EXPORT_PATH:
        return BY_NAME.get(request.query_params.get("query", ""))
    return _BY_PATH.get(request.url.path)


def _refused(what: str, principal: Principal) -> HTTPException:
    return HTTPException(
        403, f"{what} needs the `steward` role (or `admin`); a `{principal.role}` key reads"
        " aggregates only, each row counting enough distinct users",
    )


def analytics_access(auth: Authenticator, min_group_users: int, budget: PrivacyBudget | None = None,
                     ) -> Callable[[Request], Awaitable[Principal]]:  # fmt: skip
    """The dependency of the analytics and export routes: a `query` key (at least), the role the
    asked question and the filters given need, and the caller's floor in ``request.state``; a
    DP key's answer paid from its privacy ``budget``."""
    require_query = auth.require("query")

    async def dependency(request: Request) -> Principal:
        principal = await require_query(request)
        whole = principal.may("steward")
        question = _question(request)
        if not whole:
            if question is not None and question.role == "steward":
                raise _refused(f"`{question.path}` (rows)", principal)
            for name in STEWARD_FILTERS:
                if name in request.query_params:
                    raise _refused(f"the `{name}` parameter", principal)
        if principal.dp_epsilon is not None and question is not None and not question.noised:
            raise HTTPException(403, f"`{question.name}` is not answered under differential"
                                " privacy (a DP key): its shares and tests are of exact counts")
        floor = None if whole else min_group_users
        shown = Disclosure(min_users=floor)
        if budget is not None and principal.dp_epsilon is not None:
            try:
                spent = await anyio.to_thread.run_sync(budget.spend, principal)
            except BudgetSpent as exc:
                wait = max(1, int((exc.renews - datetime.now(UTC)).total_seconds()))
                raise HTTPException(429, str(exc), headers={"Retry-After": str(wait)}) from None
            if spent is not None:
                shown.epsilon = spent.epsilon
                shown.spending = {"spent": spent.spent, "budget": spent.budget,
                                  "period": f"{spent.period:%Y-%m}"}  # fmt: skip
        setattr(request.state, DISCLOSURE, shown)
        return principal

    return dependency


__all__ = ["STEWARD_FILTERS", "analytics_access"]
