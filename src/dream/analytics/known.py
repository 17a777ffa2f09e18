"""Filter values nothing holds are refused, naming the closest known ones: ``faculty=laww``
answers 422 (``closest known: law``) rather than 200 and nothing; ``os=linx`` likewise
(``closest known: linux``: api.py); ``app=matlb`` too (``closest known: matlab``).

The known faculties are those machines reported (``host_days``) and those on the managed list
(migration 0019); the known apps those the rollups hold, those executables' facts name and the
catalog's products. Each list is read once and again only when a value is not among it, so a
value that just appeared is found and a typo costs one query. ``user`` and ``host`` are not
checked: they are pseudonyms, and naming the closest known ones would list other people's
(docs/analytics.md).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from dream.analytics.filters import Filters, FilterError
from dream.catalog import Catalog, builtin
from dream.storage.directory import close_names
from dream.storage.queries import NamedQueries

if TYPE_CHECKING:
    from dream.analytics.queries import Analytics, Answer
    from dream.analytics.questions.base import Disclosure, Question

_SQL = NamedQueries("dream.analytics", "cohorts.sql")
_LOCK = threading.Lock()
_KNOWN: dict[tuple[int, str], frozenset[str]] = {}  # per pool and filter: the values last read


def check_known(analytics: Analytics, filters: Filters, catalog: Catalog | None = None) -> None:
    """FilterError (422) for a ``faculty`` value no machine reported and no list holds, or an
    ``app`` no rollup holds and no product of ``catalog`` (the api's, else the built-in) is."""
    if filters.faculty:
        known = _known(analytics, "faculty", "known_faculties", filters.faculty, ())
        for value in filters.faculty:
            if value not in known:
                raise FilterError("faculty", unknown_value(value, known), value)
    if filters.app is not None:  # lowercased, as the parsers store apps
        known = _known(analytics, "app", "known_apps", (filters.app,),
                       (catalog or builtin()).products.keys())  # fmt: skip
        if filters.app not in known:
            raise FilterError("app", unknown_value(filters.app, known), filters.app)


def _known(analytics: Analytics, column: str, query: str, values: tuple[str, ...],
           also: Iterable[str]) -> frozenset[str]:  # fmt: skip
    """The known values of ``column`` (and ``also``: a product no one has run yet is no typo):
    those last read, or read again (``query``) when they do not hold all ``values``."""
    key = (id(analytics.pool), column)
    known = _KNOWN.get(key, frozenset())
    if set(values) <= known:
        return known
    known = frozenset(row[column] for row in analytics._fetch(_SQL.fragment(query), {}))
    known |= frozenset(also)
    with _LOCK:
        _KNOWN[key] = known
    return known


def unknown_value(value: str, known: Collection[str]) -> str:
    """What refusing ``value`` says: the known values closest to it (difflib), so a typo reads
    as a suggestion ("unknown value 'linx'; closest known: linux")."""
    near = close_names(value, sorted(known))
    return f"unknown value {value!r}" + (f"; closest known: {', '.join(near)}" if near else "")


def asked(question: Question[Any], analytics: Analytics, filters: Filters, params: Any,
          shown: Disclosure, catalog: Catalog | None = None) -> Answer:  # fmt: skip
    """``question.ask`` once the filters' values are known (what the api's doors call)."""
    check_known(analytics, filters, catalog)
    return question.ask(analytics, filters, params, shown)
