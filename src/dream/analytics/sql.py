"""The named queries and fragments of ``dream/analytics/queries.sql``."""

from __future__ import annotations

from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.analytics")
query = _SQL.query  # a complete named query, as bytes
fragment = _SQL.fragment  # composable SQL, for ``{placeholders}`` to be filled in
