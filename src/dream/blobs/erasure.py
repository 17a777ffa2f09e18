"""``dream erase`` and ``DELETE /v1/users/{user}``: one user's rows removed (one transaction,
``storage.erasure``), then their raw outputs removed from the blob store.

The blob store has no transactions, so it is cleaned after the rows' commit, object by object,
each ticked off the erasure's row as it is dealt with: a run cut short (a crash, the store
away) is resumed by asking again, and starts where it stopped. An object is:

- deleted when no snapshot reads from it any more;
- a pack still holding other snapshots' outputs (a host's hour, when users shared a machine)
  is written again without the erased ones, its remaining members pointed at the new pack,
  and the old one deleted;
- a single object another snapshot shares (content-addressed: the same bytes) is kept: it is
  that snapshot's output too.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from dream.blobs.raw import RawOutputs
from dream.storage.database import Database, raw_ref_from_row
from dream.storage.erasure import Erasure, erase_rows, get_erasure, open_erasure, query

_PACKS = "/packs/"


def erase_user(db: Database, raw: RawOutputs, user: str) -> Erasure:
    """Erase ``user`` (the pseudonym as stored): the rows, then the raw outputs; or finish the
    cleaning of an erasure of theirs cut short."""
    with db.pool.connection() as conn:
        conn.autocommit = True
        erasure = open_erasure(conn, user) or erase_rows(conn, user)
        for url in list(erasure.blobs):
            _clean(conn, raw, url, erasure.id)
        return get_erasure(conn, erasure.id)


def _clean(conn: psycopg.Connection, raw: RawOutputs, url: str, erasure_id: int) -> None:
    readers = (
        conn.cursor(row_factory=dict_row).execute(query("blob_readers"), {"url": url}).fetchall()
    )
    store = raw.store_for(url)
    packed = [r for r in readers if r["raw_compression"] == "zstd-pack"]
    if packed:
        members = [raw.get(ref) for r in packed if (ref := raw_ref_from_row(r)) is not None]
        _, _, tail = url.rpartition(_PACKS)
        name = tail.removesuffix(".zst") + f"-e{erasure_id}"
        refs = store.put_pack(name, members)
        with conn.transaction():
            for row, ref in zip(packed, refs, strict=True):
                conn.execute(query("repoint_member"), {"snapshot_id": row["snapshot_id"],
                                                       "new_url": ref.url, "old_url": row["raw_url"]})  # fmt: skip
    if packed or not readers:
        store.delete(url)
    conn.execute(query("blob_done"), {"id": erasure_id, "url": url})


__all__ = ["erase_user"]
