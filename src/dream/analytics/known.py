"""Filter values nothing holds are refused, naming the closest known ones: ``faculty=laww``
answers 422 (``closest known: law``) rather than 200 and nothing; ``os=linx`` likewise
(``closest known: linux``: api.py).

The known faculties are those machines reported (``host_days``) and those on the managed list
(migration 0019), read once and again only when a value is not among them, so a faculty that
just appeared is found and a typo costs one query.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from dream.analytics.filters import Filters, FilterError
from dream.storage.directory import close_names
from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.analytics.queries import Analytics, Answer
    from dream.analytics.questions.base import Disclosure, Question

_SQL = NamedQueries("dream.analytics", "cohorts.sql")
_LOCK = threading.Lock()
_KNOWN: dict[int, frozenset[str]] = {}  # per pool: the faculties last read


def check_known(analytics: Analytics, filters: Filters) -> None:
    """FilterError (422) for a ``faculty`` value no machine reported and no list holds."""
    if not filters.faculty:
        return
    key = id(analytics.pool)
    known = _KNOWN.get(key, frozenset())
    if set(filters.faculty) <= known:
        return
    rows = analytics._fetch(_SQL.fragment("known_faculties"), {})
    known = frozenset(r["faculty"] for r in rows)
    with _LOCK:
        _KNOWN[key] = known
    for value in filters.faculty:
        if value not in known:
            raise FilterError("faculty", unknown_value(value, known), value)


def unknown_value(value: str, known: Collection[str]) -> str:
    """What refusing ``value`` says: the known values closest to it (difflib), so a typo reads
    as a suggestion ("unknown value 'linx'; closest known: linux")."""
    near = close_names(value, sorted(known))
    return f"unknown value {value!r}" + (f"; closest known: {', '.join(near)}" if near else "")


def asked(question: Question[Any], analytics: Analytics, filters: Filters, params: Any,
          shown: Disclosure) -> Answer:  # fmt: skip
    """``question.ask`` once the filters' values are known (what the api's doors call)."""
    check_known(analytics, filters)
    return question.ask(analytics, filters, params, shown)
