"""The product catalog: one application, whatever each OS calls its processes.

``Catalog.load(extra)`` reads ``products.toml`` (shipped in the package, reviewed like code)
and an operator's own file; ``catalog.match(name, command, os)`` gives the ``Match`` (product,
vendor, category, version) or ``None`` for an executable the catalog does not know, which the
caller keeps under its executable name. ``catalog.version`` names the catalog every answer
came from. docs/catalog.md: the format, the taxonomy, what folds into a product.
"""

from dream.catalog.matcher import Catalog, Match, command_head
from dream.catalog.model import CATEGORIES, CatalogError, Product

__all__ = ["CATEGORIES", "Catalog", "CatalogError", "Match", "Product", "command_head"]
