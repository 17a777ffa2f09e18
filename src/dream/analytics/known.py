"""Filter values nothing holds are refused, naming the closest known ones: ``faculty=laww``
answers 422 (``closest known: law``) rather than 200 and nothing; ``os=linx`` likewise
(``closest known: linux``: api.py); ``app=matlb`` too (``closest known: matlab``).

The known faculties are those machines reported (``host_days``) and those on the managed list
(migration 0019); the known apps those the rollups hold, those executables' facts name and the
catalog's products. Each list is read once and again only when a value is not among it, so a
value that just appeared is found and a typo costs one query. ``user`` and ``host`` are not
checked: they are pseudonyms, and naming the closest known ones would list other people's
(docs/analytics.md).

A caller held to a k-anonymity floor (``Disclosure.floor``) is told of no app fewer users than
the floor ran, unless the catalog names it (a product is public knowledge): such an app is
refused like one nobody ran, and suggested to no one held to the floor. Else a 422 or its
suggestions would say that someone ran a rare program the answers themselves withhold.
"""

from __future__ import annotations

import threading
import time
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
# Per pool: when each app's distinct users were read, and the counts (``known_app_users``).
_USERS: dict[int, tuple[float, dict[str, int]]] = {}
USERS_TTL_S = 60.0  # an app under the floor is counted again after this long (users come)


def check_known(analytics: Analytics, filters: Filters, catalog: Catalog | None = None,
                floor: int | None = None) -> None:  # fmt: skip
    """FilterError (422) for a ``faculty`` value no machine reported and no list holds, or an
    ``app`` no rollup holds and no product of ``catalog`` (the api's, else the built-in) is;
    with ``floor`` (the caller's k-anonymity floor), also an app fewer users ran that the
    catalog does not name (module docstring)."""
    if filters.faculty:
        known = _known(analytics, "faculty", "known_faculties", filters.faculty, ())
        for value in filters.faculty:
            if value not in known:
                raise FilterError("faculty", unknown_value(value, known), value)
    if filters.app is not None:  # lowercased, as the parsers store apps
        products = (catalog or builtin()).products.keys()
        known = _known(analytics, "app", "known_apps", (filters.app,), products)
        if floor is not None:
            known = _ran_by_enough(analytics, known, products, floor, filters.app)
        if filters.app not in known:
            held = "" if floor is None else f" (apps fewer than {floor} users ran are not named)"
            raise FilterError("app", unknown_value(filters.app, known, held), filters.app)


def _ran_by_enough(analytics: Analytics, known: frozenset[str], products: Collection[str],
                   floor: int, asked: str) -> frozenset[str]:  # fmt: skip
    """Of ``known``, the catalog's products and the apps at least ``floor`` users ran. The
    counts are read once, and again when ``asked`` is known, not a product, and not counted
    yet, or counted under the floor longer than ``USERS_TTL_S`` ago (an app not counted yet
    is suggested to no one meanwhile)."""
    key = id(analytics.pool)
    read_at, users = _USERS.get(key, (0.0, None))
    if users is None or (asked in known and asked not in products and (
            asked not in users
            or (users[asked] < floor and time.monotonic() - read_at > USERS_TTL_S))):
        users = {row["app"]: row["users"]
                 for row in analytics._fetch(_SQL.fragment("known_app_users"), {})}  # fmt: skip
        with _LOCK:
            _USERS[key] = (time.monotonic(), users)
    return frozenset(app for app in known if app in products or users.get(app, 0) >= floor)


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


def unknown_value(value: str, known: Collection[str], note: str = "") -> str:
    """What refusing ``value`` says: the known values closest to it (difflib), so a typo reads
    as a suggestion ("unknown value 'linx'; closest known: linux"); ``note`` after the value."""
    near = close_names(value, sorted(known))
    return f"unknown value {value!r}{note}" + (f"; closest known: {', '.join(near)}" if near else "")


def asked(question: Question[Any], analytics: Analytics, filters: Filters, params: Any,
          shown: Disclosure, catalog: Catalog | None = None) -> Answer:  # fmt: skip
    """``question.ask`` once the filters' values are known (what the api's doors call)."""
    check_known(analytics, filters, catalog, shown.floor)
    return question.ask(analytics, filters, params, shown)
