"""Answers by product: what the catalog says of each app an answer names, and the filters
that speak of products (``product=``, ``category=``).

Parsing already made a process's ``app`` its product's id where the catalog knows it
(dream.parsing.apps.name_products), so every rollup, session and answer groups by product with
no schema of its own; this module adds, beside each ``app``, the product's display name, vendor
and category, and says which catalog produced the answer. An app the catalog does not know (an
executable under its own name) gets ``null``s: still listed, never dropped.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, create_model

from dream.analytics.filters import FilterError, Filters
from dream.catalog import CATEGORIES, Catalog, builtin

if TYPE_CHECKING:
    from psycopg import sql

    from dream.analytics.queries import Analytics, Answer

PRODUCT_FIELDS = ("product", "vendor", "category")
# What an answer's rows carry beside ``app`` in files (CSV, Parquet): the product's fields and
# its version (null where an answer is not by version, or the catalog read none).
PRODUCT_COLUMNS = (*PRODUCT_FIELDS, "version")
# top-apps' ``group_by``: the catalog's product (the rollups), the executable as listed or the
# product's version (the sessions keep them, ``name`` and ``version``; migration 0025's rollups
# sum them per day).
Grouping = Literal["product", "executable", "version"]
_GROUP_COLUMN = {"executable": "name", "version": "version"}
# What sessions count, so what an answer by executable or version can be ordered by.
SESSION_METRICS = ("users", "hosts", "processes", "hours", "launches")


class ProductFields(BaseModel):
    """What the catalog says of an item's ``app`` (``null``: an executable it does not know)."""

    product: str | None = Field(default=None, description="The product's display name.")
    vendor: str | None = None
    category: str | None = Field(default=None, description="One of the catalog's categories.")


class GroupFields(ProductFields):
    """top-apps' rows: with ``group_by=executable`` the executable as listed, with
    ``group_by=version`` the product's version (null: none shown), with ``group_by=faculty``
    (``os``) the cohort ranked; the others null."""

    executable: str | None = Field(default=None, description="group_by=executable: the"
                                   " process name as listed (WINWORD.EXE, chrome).")  # fmt: skip
    version: str | None = Field(default=None, description="group_by=version: the version the"
                                " catalog read in the name or path (R2023b, 16).")  # fmt: skip
    faculty: str | None = Field(default=None, description="group_by=faculty: the faculty whose"
                                " ranking the row is in.")  # fmt: skip
    os: str | None = Field(default=None, description="group_by=os: the OS whose ranking the row"
                           " is in.")  # fmt: skip


def catalog_of(state: Any) -> Catalog:
    """The catalog the application was opened with (``app.state.catalog``), else the built-in."""
    catalog = getattr(state, "catalog", None)
    return catalog if isinstance(catalog, Catalog) else builtin()


def describe(catalog: Catalog, app: object) -> dict[str, str | None]:
    """``{"product", "vendor", "category"}`` of the product whose id is ``app``, or ``None``s."""
    product = catalog.products.get(app) if isinstance(app, str) else None
    if product is None:
        return dict.fromkeys(PRODUCT_FIELDS)
    return {"product": product.name, "vendor": product.vendor, "category": product.category}


def enrich(body: dict[str, Any], catalog: Catalog,
           stored: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A JSON answer with the product beside every ``app`` (items of top-apps, breakdown by
    app, the sessions and processes lists, the app picker; usage's series grouped by app), the
    ``catalog`` version that names them now and, as ``catalogs``, the versions ``stored`` that
    grouped the stored rows it reads (``stored_catalogs``)."""
    for item in body.get("items") or ():
        if isinstance(item, dict) and "app" in item:
            item.update(describe(catalog, item["app"]))
    if body.get("group_by") == "app":
        for series in body.get("series") or ():
            series.update(describe(catalog, series.get("group")))
    body["catalog"] = catalog.version
    if stored is not None:
        body["catalogs"] = stored
    return body


def stored_catalogs(analytics: Analytics, filters: Filters) -> list[str]:
    """The catalog versions that named the stored listings of the UTC days the range touches
    (the worker and ``dream reprocess`` record them: migration 0026), newest use first. Rows are
    grouped by the catalog of the day they were parsed: one version other than ``catalog``, or
    several, say that part of the range awaits ``dream reprocess``."""
    q = _fragment("stored_catalogs")
    return [row["catalog"] for row in analytics._fetch(q, {"from": filters.start,
                                                          "to": filters.end})]  # fmt: skip


def _fragment(name: str) -> sql.SQL:
    """A query of products.sql, composable."""
    from dream.storage.queries import NamedQueries  # the database side: server only

    return NamedQueries("dream.analytics", "products.sql").fragment(name)


@cache
def with_catalog(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with the ``catalog`` field every JSON answer carries (the response model keeps
    only the keys it declares)."""
    return create_model(
        model.__name__, __base__=model, __module__=model.__module__,
        catalog=(str | None, Field(default=None, description="The catalog version (its rules'"
                                   " digest) that names the products: dream catalog match.")),
        catalogs=(list[str] | None, Field(default=None, description="The catalog versions that"
                  " named the stored rows of the days the range touches (each row keeps the"
                  " catalog it was parsed with until dream reprocess), newest use first.")),
    )  # fmt: skip


class UnknownCategory(ValueError):
    """``category=`` names no category of the taxonomy."""

    def __init__(self, value: str) -> None:
        super().__init__(f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
        self.value = value


def product_id(catalog: Catalog, value: str) -> str:
    """``product=``: a product's id or display name, any case, as its id; anything else is
    taken as an app (an executable the catalog does not know), lowercased as apps are."""
    wanted = value.strip().lower()
    if wanted in catalog.products:
        return wanted
    for product in catalog.products.values():
        if product.name.lower() == wanted:
            return product.id
    return wanted


def app_ids(catalog: Catalog, app: str | None, product: str | None,
            category: str | None) -> tuple[str, ...] | None:  # fmt: skip
    """The apps ``app=``, ``product=`` and ``category=`` together allow (each narrows the
    others), or ``None`` when none is given. ``category`` allows its products and nothing else
    (never an executable the catalog does not know). Raises ``UnknownCategory``."""
    allowed: set[str] | None = None
    if category is not None:
        wanted = category.strip().lower()
        if wanted not in CATEGORIES:
            raise UnknownCategory(category)
        allowed = {p.id for p in catalog.products.values() if p.category == wanted}
    for one in (app.strip().lower() if app else None,
                product_id(catalog, product) if product else None):  # fmt: skip
        if one is not None:
            allowed = {one} if allowed is None else allowed & {one}
    return None if allowed is None else tuple(sorted(allowed))


def top_apps_by(analytics: Analytics, filters: Filters, *, by: Grouping, metric: str,
                limit: int, sessions: bool = False) -> Answer:  # fmt: skip
    """top-apps per app and executable (``by="executable"``) or version: over whole days and
    no user, host, OS or faculty named from the rollups of migration 0025 (analytics.versions),
    else (or with ``sessions``) from the sessions in use within the range (products.sql).
    Sessions count users, hosts, observations, hours and launches, not snapshots, CPU or memory:
    those are null, and ordering by them is refused (422 naming ``metric``)."""
    from psycopg import sql  # the database side: server only (the client imports this module)

    from dream.analytics import versions
    from dream.analytics.queries import Answer
    from dream.analytics.sql import of_sessions

    if metric not in SESSION_METRICS:
        raise FilterError("metric", f"group_by={by} answers from sessions, which count"
                          f" {', '.join(SESSION_METRICS)}; not {metric}", metric)  # fmt: skip
    if not sessions and versions.on_rollups(filters):
        found = versions.top_by_rollup(analytics._fetch, filters, by=by, metric=metric,
                                       limit=limit)  # fmt: skip
        source: Literal["rollup", "sessions"] = "rollup"
    else:
        params: dict[str, Any] = {"from": filters.start, "to": filters.end, "limit": limit}
        q = _fragment("top_apps_by").format(
            group=sql.Identifier(_GROUP_COLUMN[by]), order=sql.Identifier(metric),
            filters=of_sessions(filters, params),
        )  # fmt: skip
        found, source = analytics._fetch(q, params), "sessions"
    rows = [{"app": r["app"], by: r["key"], "users": int(r["users"]), "hosts": int(r["hosts"]),
             "snapshots": None, "processes": int(r["processes"]), "avg_cpu_percent": None,
             "avg_rss_kb": None, "hours": round(float(r["hours"]), 4),
             "launches": int(r["launches"])} for r in found]  # fmt: skip
    return Answer(rows, source)


def with_product_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A file's columns with the product's beside ``app`` (none already there repeated)."""
    if "app" not in columns:
        return columns
    at = columns.index("app") + 1
    added = tuple(c for c in PRODUCT_COLUMNS if c not in columns)
    return (*columns[:at], *added, *columns[at:])


def enrich_rows(rows: list[dict[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """Rows of a file with the product's fields beside each ``app`` (``enrich`` for files)."""
    for row in rows:
        if "app" in row:
            row.update(describe(catalog, row["app"]))
    return rows
