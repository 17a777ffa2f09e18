"""Raw outputs in object storage: the blob stores, the api's claim check and the worker's side
(raw.py), ``GET /v1/snapshots/{id}/raw`` (api.py), ``dream gc`` (gc.py); ``dream reprocess`` is
dream/reprocess.py. Named SQL: queries.sql beside this file."""

from __future__ import annotations

from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.blobs")
query = _SQL.query
fragment = _SQL.fragment
