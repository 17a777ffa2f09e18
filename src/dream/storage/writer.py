"""Writes processed snapshots in one transaction: snapshot rows upserted, their processes merged
into sessions and rollups, and (within DREAM_RAW_ROWS_RETENTION_DAYS) their per-sample rows
COPYed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import psycopg

from dream.errors import StorageError, StorageUnavailable
from dream.snapshots import (
    PROCESS_FIELDS,
    PROCESS_ROW_COLUMNS,
    PROCESS_TYPES,
    ROW_SNAPSHOT_FIELDS,
    ProcessedSnapshot,
    ProcessRecord,
    Snapshot,
)
from dream.parsing.model import value_type
from dream.storage.database import outcome_params, snapshot_params
from dream.storage.errors import refused_data, storage_error, storage_errors
from dream.storage.executables import write_executables
from dream.storage.partitions import PartitionManager
from dream.storage.queries import COPY_ESCAPES, copy_text, query
from dream.storage.rollups import RollupBatch, utc_day, write_catalog_days, write_host_days
from dream.storage.open_sessions import OpenSessions
from dream.storage.sessions import SessionBatch, lock_hosts
from dream.storage.storable import set_aside

# The ``processes`` table's columns: the row's, where the snapshot's ``user`` is ``user_name``.
TABLE_COLUMNS: tuple[str, ...] = tuple(
    "user_name" if c == "user" else c for c in PROCESS_ROW_COLUMNS
)
COPY_PROCESSES = ("COPY processes (" + ", ".join(TABLE_COLUMNS) + ") FROM STDIN").encode()


def _compile_process_row() -> Callable[[Snapshot, ProcessRecord], tuple[object, ...]]:
    """The row function written from the column tuples, as dataclasses write ``__init__``: the
    tuple spelled out runs as fast as one written by hand (``operator.attrgetter`` costs ~40%
    more per row on the COPY's hot path), yet no column is named twice."""
    assert all(name.isidentifier() for name in ROW_SNAPSHOT_FIELDS + PROCESS_FIELDS)
    items = [f"s.{name}" for name in ROW_SNAPSHOT_FIELDS] + [f"p.{name}" for name in PROCESS_FIELDS]
    return cast(Callable[[Snapshot, ProcessRecord], tuple[object, ...]],
                eval(f"lambda s, p: ({', '.join(items)},)"))  # fmt: skip


# One ``processes`` row, in ``TABLE_COLUMNS`` order: process_row(snapshot, record).
process_row = _compile_process_row()


def _compile_process_text() -> Callable[[ProcessRecord], str]:
    """A record's ``PROCESS_FIELDS`` as COPY text, written out per field type as
    ``_compile_process_row`` is: rendering the text here costs a third of psycopg's
    ``write_row`` per row, and the snapshot's columns are rendered once per snapshot."""
    items = []
    for name in PROCESS_FIELDS:
        v = f"p.{name}"
        # Most text needs no escape: two scans in C find that, where translate maps each char.
        value = {str: f"({v} if {v}.isprintable() and '\\\\' not in {v} else {v}.translate(E))",
                 int: f"repr({v})", float: f"repr({v})", bool: f"('t' if {v} else 'f')",
                 }.get(value_type(PROCESS_TYPES[name]), f"c({v})")  # fmt: skip
        items.append(f"'\\\\N' if {v} is None else {value}")
    code = f"lambda p: '\\t'.join(({', '.join(items)},))"
    env = {"E": COPY_ESCAPES, "c": copy_text}
    return cast(Callable[[ProcessRecord], str], eval(code, env))  # fmt: skip


# A record's columns of its ``processes`` row as COPY text (after the snapshot's).
process_text = _compile_process_text()


def copy_processes(
    conn: psycopg.Connection, snapshots: Iterable[tuple[Snapshot, Sequence[ProcessRecord]]]
) -> int:
    """COPY each snapshot's process rows into ``processes``; how many rows."""
    count = 0
    with conn.cursor().copy(COPY_PROCESSES) as copy:
        for snapshot, processes in snapshots:
            head = "\t".join(copy_text(getattr(snapshot, name))
                              for name in ROW_SNAPSHOT_FIELDS) + "\t"  # fmt: skip
            copy.write("".join([head + process_text(p) + "\n" for p in processes]))
            count += len(processes)
    return count


@dataclass(slots=True)
class WriteSummary:
    snapshots_written: int = 0
    snapshots_skipped: int = 0  # already final: a replay or a retry
    process_rows: int = 0
    written_ids: set = field(default_factory=set)  # the snapshots this write made final
    # (index in the batch, why) of snapshots that can never be stored as they are: not written
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _why_refused(exc: Exception) -> str:
    """Why one snapshot was left out: the database's (or the encoding's) word, or the bug."""
    if isinstance(exc, psycopg.Error | ValueError | OverflowError):
        return f"refused by the database: {exc}"
    return f"internal error: {exc!r}"


class SnapshotWriter:
    """Writes batches of processed snapshots idempotently on ``snapshot_id``.

    ``raw_rows_retention_days``: per-sample process rows are written only for snapshots
    collected within that many days (0: none; None: all); every snapshot builds sessions and
    rollups whatever its age.
    """

    def __init__(
        self,
        partitions: PartitionManager | None = None,
        *,
        default_cadence_s: float = 300.0,
        raw_rows_retention_days: int | None = None,
    ) -> None:
        self.partitions = partitions or PartitionManager()
        self.default_cadence_s = default_cadence_s
        self.raw_rows_retention_days = raw_rows_retention_days
        # The open sessions of the hosts this writer wrote (Kafka keys by host: one worker
        # writes a host), so a running session is not read back before each extension.
        self.open_sessions = OpenSessions()

    def rows_kept_since(self, now: datetime | None = None) -> datetime | None:
        """Snapshots collected before this get no per-sample rows (None: all get them)."""
        days = self.raw_rows_retention_days
        if days is None:
            return None
        if days == 0:
            return datetime.max.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - timedelta(days=days)

    def write(self, conn: psycopg.Connection, batch: Sequence[ProcessedSnapshot]) -> WriteSummary:
        """Write ``batch``; ``conn`` must be in autocommit mode.

        A snapshot already final in the database (stored or failed) is left untouched and its
        process rows are not written again: replaying a message changes nothing.

        One snapshot never holds the others back: those that can never be stored (no partition
        for their time; data PostgreSQL refuses; a bug they set off) are left out and listed in
        ``summary.rejected``, the rest is written. Raises StorageError only for what may pass
        (database away, pool exhausted): retrying the whole batch is then safe (idempotent).
        """
        summary = WriteSummary()
        if not batch:
            return summary
        with storage_errors("could not create partitions"):
            refused = self.partitions.ensure(conn, (item.snapshot.collected_at for item in batch))
        storable = []
        for i, item in enumerate(batch):
            why = refused.get(item.snapshot.collected_at)
            if why is None:
                storable.append(i)
            else:
                summary.rejected.append((i, f"collected_at has no partition: {why}"))
        self._write_isolating(conn, batch, storable, summary)
        summary.snapshots_written = len(summary.written_ids)
        summary.snapshots_skipped = len(batch) - len(summary.written_ids) - len(summary.rejected)
        summary.rejected.sort()
        return summary

    def _write_isolating(
        self,
        conn: psycopg.Connection,
        batch: Sequence[ProcessedSnapshot],
        indices: list[int],
        summary: WriteSummary,
    ) -> None:
        """Write ``batch[indices]`` in one transaction; if its data is refused, bisect.

        Each half is its own transaction, so a poison snapshot costs log2(batch) extra
        transactions and every other snapshot is still stored.
        """
        if not indices:
            return
        try:
            written, rows = self._write_once(conn, [batch[i] for i in indices])
        except (StorageError, MemoryError):
            raise  # a step's own verdict (retried or not, as it says); memory is no data fault
        except Exception as exc:  # data refused, or a bug some data sets off: isolated alike
            if isinstance(exc, psycopg.Error) and not refused_data(exc):  # it may pass: retried
                what = f"could not write batch of {len(indices)} snapshots"
                raise storage_error(exc, what) from exc
            if isinstance(exc, psycopg.errors.CheckViolation):  # "no partition ... for row":
                self.partitions.forget()  # dropped by retention; the retry creates it again
                raise StorageUnavailable(f"could not write batch: {exc}") from exc
            if len(indices) == 1:
                if set_aside(conn, batch[indices[0]]):  # its rows the database cannot hold
                    self._write_isolating(conn, batch, indices, summary)  # once: none is left
                    return
                summary.rejected.append((indices[0], _why_refused(exc)))
                return
            half = len(indices) // 2
            self._write_isolating(conn, batch, indices[:half], summary)
            self._write_isolating(conn, batch, indices[half:], summary)
            return
        summary.written_ids |= written
        summary.process_rows += rows

    def _write_once(
        self, conn: psycopg.Connection, batch: Sequence[ProcessedSnapshot]
    ) -> tuple[set, int]:
        """One transaction: the snapshots' rows, their sessions, rollups and process rows."""
        self.open_sessions.begin()
        with conn.transaction():
            lock_hosts(conn, (item.snapshot.host for item in batch))  # before any row lock
            final_now = self._upsert_snapshots(conn, batch)
            to_write = set(final_now)  # a message twice in one batch is written once
            final = []
            for item in batch:
                if item.snapshot.snapshot_id in to_write:
                    to_write.discard(item.snapshot.snapshot_id)
                    final.append(item)
            rollups = RollupBatch()  # usage rollups, kept in this same transaction
            sessions = SessionBatch(self.default_cadence_s, self.open_sessions)
            for item in final:
                rollups.add(item.snapshot, item.processes)
                sessions.add(item.snapshot, item.processes)
            since = self.rows_kept_since()
            rows = [item for item in final if item.processes
                    and (since is None or item.snapshot.collected_at >= since)]  # fmt: skip
            process_rows = (
                copy_processes(conn, [(i.snapshot, i.processes) for i in rows]) if rows else 0
            )
            sessions.write(conn)
            write_host_days(conn, (item.snapshot for item in final))
            write_catalog_days(conn, Counter((utc_day(i.snapshot), i.catalog)
                                             for i in final if i.status == "stored"))  # fmt: skip
            write_executables(conn, final)
            if rollups:
                rollups.write(conn)
        self.open_sessions.commit()  # (only once the transaction committed)
        return final_now, process_rows

    @staticmethod
    def _upsert_snapshots(conn: psycopg.Connection, batch: Sequence[ProcessedSnapshot]) -> set:
        params = []
        for item in batch:
            row = snapshot_params(item.snapshot)
            row.update(outcome_params(item))
            params.append(row)
        cur = conn.cursor()
        cur.executemany(query("upsert_processed_snapshot"), params, returning=True)
        final_now = set()
        while True:
            returned = cur.fetchone()
            if returned is not None:
                final_now.add(returned[0])
            if not cur.nextset():
                break
        return final_now
