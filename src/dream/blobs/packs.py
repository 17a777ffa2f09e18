"""``dream pack-raw``: each host's raw outputs of one hour packed into one object.

Successive listings of a machine differ in a few columns (TIME, %CPU, the RSS of some
processes), yet compressed one by one each costs as much as the first: kept that way, the blob store
grows with the sampling rate. One zstd frame over a host's hour of listings stores the repeats
once (measured by ``make bench``'s storage table: 4 h of 200 processes at a 1-minute cadence,
1.44 MB as single objects against ~0.13 MB in packs).

Packing runs after the fact, off the ingest path: the api and worker keep writing single
content-addressed objects (the claim check must be durable before the 202), and this job, run
like ``dream gc`` from cron or a Kubernetes CronJob, packs what was collected before a cutoff:

1. For each (host, hour) with at least two single outputs: read them, write the pack.
2. In one transaction, point each snapshot at its member (its sha256 and size stay; the URL
   becomes ``<pack>#<offset>``), only where the row still points at the object read.
3. Delete the single objects no snapshot references any more, once older than ``grace``: an api
   may just have stored identical bytes for a snapshot still travelling through Kafka (a put
   of bytes already stored refreshes an object older than an hour, so a young time means in use).

A crash between 1 and 2 leaves an unreferenced pack, which ``dream gc`` removes; between 2 and 3,
unreferenced singles, likewise. Reading a member decompresses its pack (about 1.4 MB for an hour
of 200 processes at 1-minute cadence) and checks the member's sha256.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from psycopg.rows import dict_row

from dream.blobs import query
from dream.blobs.raw import RawOutputs
from dream.blobs.store import BlobError
from dream.storage.database import Database, raw_ref_from_row

_PAGE = 2000
_NIL = uuid.UUID(int=0)


@dataclass(slots=True)
class PackResult:
    cutoff: datetime
    packs_written: int = 0
    outputs_packed: int = 0
    bytes_before: int = 0  # the single objects' stored sizes are unknown: raw sizes here
    singles_deleted: int = 0
    singles_kept: int = 0  # still referenced, or too young to delete yet
    unreadable: int = 0  # single objects that could not be read (left as they are)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cutoff"] = self.cutoff.isoformat()
        return d


def pack_raw_outputs(
    db: Database,
    raw: RawOutputs,
    *,
    older_than: timedelta = timedelta(days=1),
    grace: timedelta = timedelta(days=1),
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> PackResult:
    """Pack the single outputs of snapshots collected before ``now - older_than``."""
    now = now or datetime.now(UTC)
    result = PackResult(cutoff=now - older_than)
    for group in _hour_groups(db, result.cutoff):
        if len(group) >= 2:
            _pack(db, raw, group, now - grace, result)
        if progress is not None:
            progress(len(group))
    return result


def _hour_groups(db: Database, cutoff: datetime) -> Iterator[list[dict[str, Any]]]:
    """Candidate rows grouped by (host, UTC hour), page by page in (host, time) order."""
    after: tuple[str, datetime, uuid.UUID] = ("", datetime.min.replace(tzinfo=UTC), _NIL)
    carry: list[dict[str, Any]] = []
    while True:
        with db.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            rows = cur.execute(query("pack_candidates"), {
                "cutoff": cutoff, "after_host": after[0], "after_at": after[1],
                "after_id": after[2], "limit": _PAGE,
            }).fetchall()  # fmt: skip
        if not rows:
            break
        last = rows[-1]
        after = (last["host"], last["collected_at"], last["snapshot_id"])
        groups = [list(g) for _, g in groupby(carry + rows, key=_hour_key)]
        carry = groups.pop()  # the last hour may go on in the next page
        yield from groups
    if carry:
        yield carry


def _hour_key(row: dict[str, Any]) -> tuple[str, datetime]:
    at = row["collected_at"].astimezone(UTC)
    return row["host"], at.replace(minute=0, second=0, microsecond=0)


def _pack(db: Database, raw: RawOutputs, group: list[dict[str, Any]], young: datetime,
          result: PackResult) -> None:  # fmt: skip
    members: list[bytes] = []
    rows: list[dict[str, Any]] = []
    for row in group:
        ref = raw_ref_from_row(row)
        if ref is None:
            continue
        try:
            members.append(raw.get(ref))
        except BlobError:
            result.unreadable += 1
            continue
        rows.append(row)
    if len(rows) < 2:
        return
    host, hour = _hour_key(rows[0])
    digest = hashlib.sha256(b"".join(r["raw_sha256"].encode() for r in rows)).hexdigest()[:16]
    name = f"{hashlib.sha256(host.encode()).hexdigest()[:16]}/{hour:%Y%m%dT%H}-{digest}"
    refs = raw.store.put_pack(name, members)
    with db.pool.connection() as conn, conn.transaction():
        for row, ref in zip(rows, refs, strict=True):
            conn.execute(query("pack_point"), {"snapshot_id": row["snapshot_id"],
                                                "pack_url": ref.url, "single_url": row["raw_url"]})  # fmt: skip
    result.packs_written += 1
    result.outputs_packed += len(rows)
    result.bytes_before += sum(len(m) for m in members)
    _delete_singles(db, raw, rows, young, result)


def _delete_singles(db: Database, raw: RawOutputs, rows: list[dict[str, Any]], young: datetime,
                    result: PackResult) -> None:  # fmt: skip
    with db.pool.connection() as conn:
        still = {r[0] for r in conn.execute(query("gc_referenced"),
                                            {"hashes": [r["raw_sha256"] for r in rows]})}  # fmt: skip
    for url, sha in {(r["raw_url"], r["raw_sha256"]) for r in rows}:
        store = raw.store_for(url)
        modified = store.modified(url)
        if sha in still or modified is None or modified > young:
            result.singles_kept += 1
            continue
        store.delete(url)
        result.singles_deleted += 1


