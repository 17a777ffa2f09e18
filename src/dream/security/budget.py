"""A differentially private key's privacy budget: what its answers spent, per calendar month.

Each answer to a DP key spends the key's epsilon (sequential composition: the privacy loss of
k answers is at most the sum of their epsilons); once a month's spending would pass the key's
budget, answers are refused until the next month (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from dream.errors import DreamError
from dream.security.keys import Principal
from dream.storage.database import Database
from dream.storage.errors import storage_errors
from dream.storage.queries import NamedQueries

_q = NamedQueries("dream.security").query


class BudgetSpent(DreamError):
    """The key's privacy budget for this month is used up; ``renews`` is when it is whole."""

    def __init__(self, message: str, renews: datetime) -> None:
        super().__init__(message)
        self.renews = renews


@dataclass(frozen=True, slots=True)
class Spent:
    """One answer's privacy cost: its epsilon, and the month's spending and budget after it."""

    epsilon: float
    spent: float
    budget: float
    period: date


def _month(now: datetime) -> tuple[date, datetime]:
    start = now.astimezone(UTC).date().replace(day=1)
    renews = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    return start, renews


class PrivacyBudget:
    """Spends DP keys' budgets in PostgreSQL (``dp_spent``, migration 0020)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def spend(self, principal: Principal, now: datetime | None = None) -> Spent | None:
        """Spend one answer's epsilon of ``principal``'s budget (None: not a DP key), or raise
        BudgetSpent when the month's budget cannot pay for it."""
        if principal.dp_epsilon is None or principal.dp_budget is None:
            return None
        eps, budget = principal.dp_epsilon, principal.dp_budget
        period, renews = _month(now or datetime.now(UTC))
        with storage_errors("could not spend the privacy budget"), self._db.pool.connection() as conn:
            row = conn.execute(_q("spend_budget"), {"key_id": principal.key_id, "period": period,
                                                    "epsilon": eps, "budget": budget}).fetchone()  # fmt: skip
        if row is None:
            raise BudgetSpent(
                f"this key's privacy budget for {period:%Y-%m} is spent (epsilon {budget:g} a"
                f" month, {eps:g} an answer); it renews on {renews:%Y-%m-%d}", renews,
            )  # fmt: skip
        return Spent(eps, float(row[0]), budget, period)


__all__ = ["BudgetSpent", "PrivacyBudget", "Spent"]
