"""``dream gc``: raw outputs past ``DREAM_RAW_RETENTION_DAYS`` leave the blob store.

1. Final snapshots received before the cutoff forget their raw output (the ``raw_*`` reference,
   and the text of rows from before the blob store). Their parsed rows stay.
2. Objects older than the cutoff that no snapshot references any more are deleted. That covers
   the objects of step 1 and orphans: bytes stored by a worker (or by the api, for a large
   output) that crashed before its database commit. Objects younger than the cutoff are kept,
   referenced or not — they may belong to a snapshot still travelling through Kafka.

Content addressing means one object can serve several snapshots: it goes only when the last
reference has. A pack (blobs/packs.py) goes when no snapshot points into it any more. A put of bytes already stored refreshes the object's time (blobs/store.py), and an
object's time is checked again just before it is deleted, so an object a new snapshot has just
started to use is not deleted under it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from dream.blobs import query
from dream.blobs.raw import RawOutputs
from dream.blobs.store import StoredBlob
from dream.storage.database import Database

_BATCH = 500


@dataclass(slots=True)
class GcResult:
    cutoff: datetime
    references_forgotten: int = 0
    objects_deleted: int = 0
    objects_kept: int = 0  # young, or still referenced
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cutoff"] = self.cutoff.isoformat()
        return d


def collect_garbage(
    db: Database,
    raw: RawOutputs,
    retention_days: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> GcResult:
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    result = GcResult(cutoff=cutoff, dry_run=dry_run)
    if not dry_run:
        with db.pool.connection() as conn:
            result.references_forgotten = conn.execute(
                query("gc_forget_expired"), {"cutoff": cutoff}
            ).rowcount
    store = raw.store
    objects = iter(store.list())
    while batch := list(islice(objects, _BATCH)):
        old = [o for o in batch if o.last_modified < cutoff]
        result.objects_kept += len(batch) - len(old)
        if not old:
            continue
        with db.pool.connection() as conn:
            rows = conn.execute(query("gc_referenced"), {"hashes": [o.sha256 for o in old]})
            referenced = {r[0] for r in rows}
            packs = [o.url for o in old if not o.sha256]
            if packs:
                rows = conn.execute(query("gc_packs_referenced"), {"urls": packs})
                referenced |= {r[0] for r in rows}
        for obj in old:
            if (obj.sha256 or obj.url) in referenced or not _still_old(store, obj, cutoff):
                result.objects_kept += 1
                continue
            if not dry_run:
                store.delete(obj.url)
            result.objects_deleted += 1
    return result


def _still_old(store: Any, obj: StoredBlob, cutoff: datetime) -> bool:
    """Re-read the object's time: a put may have refreshed it since the listing."""
    modified = store.modified(obj.url)
    return modified is not None and modified < cutoff
