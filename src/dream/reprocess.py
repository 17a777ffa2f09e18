"""``dream reprocess``: re-parse stored raw outputs with the current parser.

For each selected snapshot (final ones: ``stored`` and ``failed``; ``--failed-only``: failed
ones), in ``(collected_at, snapshot_id)`` order, in batches:

1. its raw output is read from the blob store (rows from before the blob store keep it as text;
   it is moved to the blob store on the way) and parsed — and scrubbed — as the worker would;
2. one transaction per batch locks each snapshot row, subtracts the rollup contribution of its
   current process rows, deletes them (``WHERE collected_at = .. AND snapshot_id = ..``: one
   partition), COPYs the new ones (only within ``DREAM_RAW_ROWS_RETENTION_DAYS``, as the worker
   does), adds their contribution, updates status, format, count,
   warnings, error and skipped rows, drops rollup rows nothing contributes to any more,
   rebuilds the sessions of the batch's hosts around the rewritten snapshots
   (``dream.storage.rebuild``: taking one snapshot's observations out of a session is not
   possible from the session alone), and advances the run's checkpoint
   (``reprocess_checkpoints``).

A stored snapshot whose per-sample rows are gone (``DREAM_RAW_ROWS_RETENTION_DAYS``; 0: never
written) keeps its rows, rollups and row as they are: what it contributed to the rollups cannot
be taken out exactly. Its sessions are rebuilt all the same: the rebuild reads each snapshot's
observations from its rows where they are kept and from its raw output, parsed again, where they
are not (so sessions and ``usage_hours_daily``, the long-term record, follow today's parser). A
host whose sessions hold a snapshot with neither is left as it was, and named in the output.

So a snapshot is never half rewritten, an interrupted run resumes after the last committed batch
(the same filters give the same run key), and running it twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
import structlog
from psycopg import sql
from psycopg.rows import dict_row, kwargs_row
from psycopg.types.json import Jsonb

from dream.blobs import fragment, query
from dream.blobs.raw import RawOutputs
from dream.blobs.store import BlobError, BlobUnavailable
from dream.errors import StorageRefused
from dream.catalog import Catalog, builtin
from dream.security.pii import Scrubber
from dream.snapshots import ProcessedSnapshot, ProcessRecord, RawRef, Snapshot
from dream.storage.database import (
    Database,
    outcome_params,
    raw_ref_from_row,
    raw_ref_params,
)
from dream.storage.errors import storage_errors
from dream.storage.partitions import PartitionManager
from dream.storage.rollups import RollupBatch, utc_day, write_catalog_days
from dream.storage.rebuild import Reparse, rebuild_sessions
from dream.storage.sessions import lock_hosts
from dream.storage.writer import SnapshotWriter, copy_processes
from dream.text import decode_output
from dream.worker.processing import process_snapshot

log = structlog.get_logger(__name__)


@cache
def _selecting(name: str) -> sql.Composed:
    """``reprocess_select`` or ``reprocess_count`` over the run's selection (one WHERE)."""
    return fragment(name).format(selection=fragment("reprocess_selection"))


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    format: str | None = None
    failed_only: bool = False
    # The catalog version the run names products with (the Reprocessor sets it): part of the
    # run key, so a run resumes only under the catalog it began with, never half and half.
    catalog: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "statuses": ["failed"] if self.failed_only else ["stored", "failed"],
            "since": self.since,
            "until": self.until,
            "format": self.format,
        }

    def as_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}

    @property
    def run_key(self) -> str:
        text = json.dumps(self.as_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(slots=True)
class ReprocessResult:
    selected: int = 0  # snapshots looked at in this run
    reprocessed: int = 0  # rewritten
    stored: int = 0  # of which now stored
    failed: int = 0  # of which now failed
    no_raw: int = 0  # no raw output kept (retention, DREAM_STORE_RAW=false, missing object)
    skipped: int = 0  # changed meanwhile
    # per-sample rows pruned: rows, rollups and snapshot row as they were, sessions rebuilt
    sessions_only: int = 0
    resumed: bool = False
    process_rows: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["errors"] = d["errors"][:20]
        return d


@dataclass(slots=True)
class _Item:
    row: dict[str, Any]
    snapshot: Snapshot  # as stored (user already scrubbed), without output
    processed: ProcessedSnapshot
    ref: RawRef | None


class Reprocessor:
    def __init__(
        self,
        db: Database,
        raw: RawOutputs,
        *,
        scrubber: Scrubber | None = None,
        batch_size: int = 100,
        partitions: PartitionManager | None = None,
        default_cadence_s: float = 300.0,
        raw_rows_retention_days: int | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.default_cadence_s = default_cadence_s
        self.catalog = catalog  # today's catalog names the products (None: the built-in one)
        self.db = db
        self.raw = raw
        self.scrubber = scrubber
        self.batch_size = batch_size
        self.partitions = partitions or PartitionManager()
        # The worker's rule for which snapshots keep per-sample rows, applied to the new ones.
        self.kept = SnapshotWriter(self.partitions, raw_rows_retention_days=raw_rows_retention_days)

    # Selection ---------------------------------------------------------------------------------

    def _checkpoint(self, filters: Filters, restart: bool) -> tuple[datetime | None, Any, bool]:
        """(after_at, after_id, resumed): where this run starts."""
        with self.db.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = cur.execute(query("checkpoint_get"), {"run_key": filters.run_key}).fetchone()
            if row is not None and row["finished_at"] is None and not restart:
                return row["last_collected_at"], row["last_snapshot_id"], True
            conn.execute(
                query("checkpoint_start"),
                {"run_key": filters.run_key, "filters": Jsonb(filters.as_json())},
            )
        return None, None, False

    @storage_errors("could not count the snapshots to reprocess")
    def remaining(self, filters: Filters, restart: bool = False) -> int:
        after_at, after_id, _ = self._peek(self._named(filters), restart)
        with self.db.pool.connection() as conn:
            params = {**filters.params(), "after_at": after_at, "after_id": after_id}
            found = conn.execute(_selecting("reprocess_count"), params).fetchone()
        return int(found[0]) if found else 0

    def _named(self, filters: Filters) -> Filters:
        """``filters`` of a run under this reprocessor's catalog (its run key names it)."""
        return replace(filters, catalog=(self.catalog or builtin()).version)

    def _peek(self, filters: Filters, restart: bool) -> tuple[datetime | None, Any, bool]:
        with self.db.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            row = cur.execute(query("checkpoint_get"), {"run_key": filters.run_key}).fetchone()
        if row is not None and row["finished_at"] is None and not restart:
            return row["last_collected_at"], row["last_snapshot_id"], True
        return None, None, False

    # The run -----------------------------------------------------------------------------------

    @storage_errors("could not reprocess")
    def run(
        self,
        filters: Filters,
        *,
        restart: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ReprocessResult:
        result = ReprocessResult()
        filters = self._named(filters)
        after_at, after_id, result.resumed = self._checkpoint(filters, restart)
        while True:
            with self.db.pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                params = {**filters.params(), "after_at": after_at, "after_id": after_id,
                          "limit": self.batch_size}  # fmt: skip
                rows = cur.execute(_selecting("reprocess_select"), params).fetchall()
            if not rows:
                break
            items = [item for item in (self._prepare(r, result) for r in rows) if item is not None]
            last = rows[-1]
            self._rewrite(filters, items, last, result)
            result.selected += len(rows)
            after_at, after_id = last["collected_at"], last["snapshot_id"]
            if progress is not None:
                progress(len(rows))
        with self.db.pool.connection() as conn:
            conn.execute(query("checkpoint_finish"), {"run_key": filters.run_key})
        return result

    @staticmethod
    def _snapshot(row: dict[str, Any]) -> Snapshot:
        """The snapshot as stored (its user already scrubbed), without its output."""
        return Snapshot.model_construct(
            snapshot_id=row["snapshot_id"], host=row["host"], os=row["os"],
            os_version=row["os_version"], user=row["user_name"], faculty=row["faculty"],
            collected_at=row["collected_at"], received_at=row["received_at"],
            command=row["command"], output=None, raw=None, output_url=None,
        )  # fmt: skip

    def _read(self, row: dict[str, Any], *, move: bool) -> tuple[str, RawRef | None] | None:
        """The snapshot's raw output and its reference, or None if none is kept. Raises
        BlobError; ``move``: text from before the blob store is moved there on the way."""
        ref = raw_ref_from_row(row)
        if ref is not None:
            return decode_output(self.raw.get(ref)), ref
        if not row["has_raw_text"]:
            return None
        with self.db.pool.connection() as conn:
            found = conn.execute(query("raw_text"), {"snapshot_id": row["snapshot_id"]}).fetchone()
        if found is None or found[0] is None:
            return None
        text = found[0]
        if move and self.raw.keep:
            ref = self.raw.store.put(text.encode("utf-8"))
        return text, ref

    def _prepare(self, row: dict[str, Any], result: ReprocessResult) -> _Item | None:
        """Raw output in hand and parsed, or None (counted) if it cannot be had."""
        snapshot = self._snapshot(row)
        try:
            read = self._read(row, move=True)
        except BlobUnavailable:
            raise  # transient: the run stops; run it again to resume
        except BlobError as exc:
            result.no_raw += 1
            result.errors.append(f"{row['snapshot_id']}: {exc}")
            return None
        if read is None:
            result.no_raw += 1
            return None
        text, ref = read
        processed = process_snapshot(snapshot.model_copy(update={"output": text}), self.scrubber,
                                     self.catalog)
        # The stored metadata is already scrubbed: keep it as it is (only the rows are new).
        processed.snapshot = snapshot.model_copy(update={"raw": ref})
        return _Item(row, processed.snapshot, processed, ref)

    def _reparser(self, items: list[_Item]) -> Reparse:
        """The session rebuild's source for snapshots without their per-sample rows: the
        batch's own parses, else the raw output parsed again (None: it is not kept)."""
        parsed = {item.snapshot.snapshot_id: item.processed for item in items}

        def reparse(row: dict[str, Any]) -> Sequence[ProcessRecord] | None:
            processed = parsed.get(row["snapshot_id"])
            if processed is None:
                try:
                    read = self._read(row, move=False)
                except BlobUnavailable:
                    raise
                except BlobError:
                    return None
                if read is None:
                    return None
                output = self._snapshot(row).model_copy(update={"output": read[0]})
                processed = process_snapshot(output, self.scrubber, self.catalog)
            return processed.processes if processed.status == "stored" else []

        return reparse

    def _rewrite(
        self, filters: Filters, items: list[_Item], last: dict[str, Any], result: ReprocessResult
    ) -> None:
        with self.db.pool.connection() as conn:
            if items:
                self.partitions.ensure(conn, (i.snapshot.collected_at for i in items))
            try:
                with storage_errors("could not rewrite snapshots"), conn.transaction():
                    done = self._rewrite_in(conn, filters, items, result)
                    conn.execute(
                        query("checkpoint_advance"),
                        {"run_key": filters.run_key, "last_collected_at": last["collected_at"],
                         "last_snapshot_id": last["snapshot_id"], "reprocessed": done},
                    )  # fmt: skip
            except StorageRefused:  # a row "no partition ... for": dropped by retention meanwhile
                self.partitions.forget()
                raise

    def _rewrite_in(
        self, conn: psycopg.Connection, filters: Filters, items: list[_Item],
        result: ReprocessResult,
    ) -> int:  # fmt: skip
        rollups = RollupBatch()
        new_rows: list[tuple[Snapshot, list[ProcessRecord]]] = []
        done = sessions_only = 0
        counts = {"stored": 0, "failed": 0, "rows": 0}
        # Per UTC day and catalog version: each rewritten listing leaves the catalog that named
        # it and counts for the one that names it now (catalog_days, migration 0026).
        named: Counter[tuple[datetime, str | None]] = Counter()
        kept_since = self.kept.rows_kept_since()
        spans: dict[str, tuple[datetime, datetime]] = {}  # per host: the rewritten snapshots
        lock_hosts(conn, (item.snapshot.host for item in items))  # first, as the writer does
        # Lock in snapshot_id order: two runs over overlapping sets cannot deadlock.
        for item in sorted(items, key=lambda i: str(i.snapshot.snapshot_id)):
            key = {"snapshot_id": item.snapshot.snapshot_id,
                   "collected_at": item.snapshot.collected_at}  # fmt: skip
            cur = conn.cursor(row_factory=dict_row)
            now = cur.execute(query("reprocess_lock"), key).fetchone()
            statuses = filters.params()["statuses"]
            if (
                now is None
                or now["status"] not in statuses
                or now["raw_sha256"] != item.row["raw_sha256"]
            ):
                result.skipped += 1  # changed since it was selected
                continue
            if now["status"] == "stored":
                # as much of each stored row as the rollup counters read
                old = conn.cursor(row_factory=kwargs_row(ProcessRecord)).execute(
                    query("reprocess_old_rows"), key
                ).fetchall()
                if len(old) != (now["process_count"] or 0):
                    # Process rows pruned by retention (or never written): the rollups still
                    # hold their contribution, which cannot be subtracted exactly, so its rows,
                    # rollups and row are left alone; its sessions are rebuilt from the parse.
                    sessions_only += 1
                    _widen(spans, item.snapshot)
                    continue
                rollups.add(item.snapshot, old, sign=-1)
                conn.execute(query("reprocess_delete_rows"), key)
                named[(utc_day(item.snapshot), now["catalog"])] -= 1
            p = item.processed
            if p.status == "stored":
                named[(utc_day(item.snapshot), p.catalog)] += 1
                # As the worker adds them. (cpu_percent is a real, but read back as text it
                # gives the parser's decimal again: a later reprocess subtracts the same value.)
                rollups.add(item.snapshot, p.processes)
                if kept_since is None or item.snapshot.collected_at >= kept_since:
                    new_rows.append((item.snapshot, p.processes))
                    counts["rows"] += len(p.processes)
            conn.execute(
                query("reprocess_update_snapshot"),
                {"snapshot_id": item.snapshot.snapshot_id, **outcome_params(p),
                 **raw_ref_params(item.ref)},
            )  # fmt: skip
            counts[p.status] += 1
            done += 1
            _widen(spans, item.snapshot)
        if new_rows:
            copy_processes(conn, new_rows)
        left_alone = rebuild_sessions(conn, spans, self.default_cadence_s, self._reparser(items))
        result.errors.extend(f"{host}: sessions not rebuilt: {why}"
                             for host, why in left_alone.items())  # fmt: skip
        if rollups:
            rollups.write_correction(conn)
        write_catalog_days(conn, named)
        # Counted only once the caller's transaction is about to commit.
        result.reprocessed += done
        result.sessions_only += sessions_only
        result.stored += counts["stored"]
        result.failed += counts["failed"]
        result.process_rows += counts["rows"]
        return done


def _widen(spans: dict[str, tuple[datetime, datetime]], snapshot: Snapshot) -> None:
    """Take ``snapshot`` into its host's span of rewritten snapshots."""
    at = snapshot.collected_at
    lo, hi = spans.get(snapshot.host, (at, at))
    spans[snapshot.host] = (min(lo, at), max(hi, at))
