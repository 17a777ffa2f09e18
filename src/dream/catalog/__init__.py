"""The product catalog: one application, whatever each OS calls its processes.

``Catalog.load(extra)`` reads ``products.toml`` (shipped in the package, reviewed like code)
and an operator's own file; ``catalog.match(name, command, os)`` gives the ``Match`` (product,
vendor, category, version) or ``None`` for an executable the catalog does not know, which the
caller keeps under its executable name. ``catalog.version`` names the catalog every answer
came from. docs/catalog.md: the format, the taxonomy, what folds into a product.
"""

from functools import cache

from dream.catalog.matcher import Catalog, Match, command_head
from dream.catalog.model import CATEGORIES, CatalogError, Product


@cache
def builtin() -> Catalog:
    """The built-in catalog, loaded once per process: what a snapshot's processes are named
    with when no catalog is handed down (a worker or reprocess built without ``Dream``). The
    worker, ``dream reprocess`` and the api are handed the one ``Dream`` loaded with
    ``DREAM_CATALOG_FILE`` (dream.app)."""
    return Catalog.load()


__all__ = ["CATEGORIES", "Catalog", "CatalogError", "Match", "Product", "builtin", "command_head"]
