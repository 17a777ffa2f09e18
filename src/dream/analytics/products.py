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
from typing import Any

from pydantic import BaseModel, Field, create_model

from dream.catalog import CATEGORIES, Catalog, builtin

PRODUCT_FIELDS = ("product", "vendor", "category")


class ProductFields(BaseModel):
    """What the catalog says of an item's ``app`` (``null``: an executable it does not know)."""

    product: str | None = Field(default=None, description="The product's display name.")
    vendor: str | None = None
    category: str | None = Field(default=None, description="One of the catalog's categories.")


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


def enrich(body: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """A JSON answer with the product beside every ``app`` (items of top-apps, breakdown by
    app, the sessions and processes lists, the app picker; usage's series grouped by app) and
    the ``catalog`` version that named them."""
    for item in body.get("items") or ():
        if isinstance(item, dict) and "app" in item:
            item.update(describe(catalog, item["app"]))
    if body.get("group_by") == "app":
        for series in body.get("series") or ():
            series.update(describe(catalog, series.get("group")))
    body["catalog"] = catalog.version
    return body


@cache
def with_catalog(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with the ``catalog`` field every JSON answer carries (the response model keeps
    only the keys it declares)."""
    return create_model(
        model.__name__, __base__=model, __module__=model.__module__,
        catalog=(str | None, Field(default=None, description="The catalog version (its rules'"
                                   " digest) that named the products: dream catalog match.")),
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
