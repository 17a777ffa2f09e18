"""The connection pool and the few operations the api and worker need from PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
import structlog

from dream.observability.sensors import NULL_SENSOR, Sensor
from dream.snapshots import ProcessedSnapshot, RawRef, Snapshot
from dream.storage.errors import storage_errors
from dream.storage.executables import facts_of, pending_executables
from dream.storage.queries import query

log = structlog.get_logger(__name__)


def in_utc(conninfo: str, *settings: str) -> str:
    """``conninfo`` whose sessions run in UTC (and with ``settings``, each ``-c name=value``),
    keeping the options it names itself (a search_path, say): a day added to a UTC midnight
    must be 24 hours whatever the server's or the database's default time zone
    (docs/analytics.md, "Time zones"). Every Dream connection that writes or reads rollups."""
    given = str(conninfo_to_dict(conninfo).get("options") or "")
    return make_conninfo(conninfo, options=" ".join(filter(None, (given, "-c TimeZone=UTC",
                                                                    *settings))))  # fmt: skip


def snapshot_counts(database_url: str, connect_timeout_s: float = 5.0) -> dict[str, Any]:
    """Snapshots stored, pending and failed, and the last stored time, over a connection of its
    own (``dream status`` must answer quickly when the database is away, not wait for a pool)."""
    with storage_errors(), psycopg.connect(
        database_url, connect_timeout=round(connect_timeout_s), row_factory=dict_row
    ) as conn:
        row = conn.execute(query("snapshot_counts")).fetchone()
    assert row is not None
    return dict(row)


def snapshot_params(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's columns as named query parameters."""
    params = {
        "snapshot_id": snapshot.snapshot_id,
        "host": snapshot.host,
        "os": snapshot.os,
        "os_version": snapshot.os_version,
        "user_name": snapshot.user,
        "faculty": snapshot.faculty,
        "collected_at": snapshot.collected_at,
        "received_at": snapshot.received_at,
        "command": snapshot.command,
        "interval_s": getattr(snapshot, "interval_s", None),
        "raw_output": snapshot.output,
        "executables": pending_executables(snapshot),
        **raw_ref_params(snapshot.raw),
    }
    if snapshot.raw is None and getattr(snapshot, "output_url", None):
        # A pending row of the direct pipeline whose output a collector uploaded: raw_url
        # without raw_sha256 is that upload, which the worker fetches (and stores under its hash).
        params["raw_url"] = snapshot.output_url
    return params


def outcome_params(processed: ProcessedSnapshot) -> dict[str, Any]:
    """What parsing made of a snapshot, as the columns the worker and reprocess both write."""
    stored = processed.status == "stored"
    return {
        "status": processed.status,
        "format": processed.format,
        "process_count": len(processed.processes) if stored else None,
        "warnings": Jsonb(processed.warnings),
        "error": processed.error,
        "skipped_rows": Jsonb(processed.skipped_rows()),
        "skipped_count": processed.skipped_count,
        "catalog": processed.catalog,
    }


def raw_ref_params(ref: RawRef | None) -> dict[str, Any]:
    """A blob reference (or none) as the ``raw_*`` columns."""
    return {
        "raw_sha256": ref.sha256 if ref else None,
        "raw_size": ref.size if ref else None,
        "raw_compression": ref.compression if ref else None,
        "raw_url": ref.url if ref else None,
    }


def raw_ref_from_row(row: dict[str, Any]) -> RawRef | None:
    if not row.get("raw_sha256"):
        return None
    return RawRef(
        sha256=row["raw_sha256"], size=row["raw_size"], compression=row["raw_compression"],
        url=row["raw_url"],
    )  # fmt: skip


class Database:
    """A psycopg connection pool with Dream's queries on it."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = 4,
        name: str = "dream",
        statement_timeout_s: float | None = None,
    ) -> None:
        self.conninfo = conninfo
        settings = []
        if statement_timeout_s is not None:  # PostgreSQL cancels statements running longer
            settings.append(f"-c statement_timeout={int(statement_timeout_s * 1000)}")
        self.pool = ConnectionPool(
            in_utc(conninfo, *settings),
            min_size=1,
            max_size=pool_size,
            name=name,
            open=False,
            # Transactions are always explicit (``with conn.transaction()``), never implicit.
            kwargs={"autocommit": True},
            # A pooled connection may have died with a database restart; check before lending it.
            check=ConnectionPool.check_connection,
        )

    def open(self, wait_s: float = 30.0, *, sensor: Sensor = NULL_SENSOR) -> None:
        """Open the pool; ``sensor`` watches its connections (the ingestion pool's only)."""
        self.pool.open(wait=True, timeout=wait_s)
        sensor.watch_pool(self.pool.get_stats)

    def close(self) -> None:
        self.pool.close()

    def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            with self.pool.connection(timeout=timeout_s) as conn:
                conn.execute(query("ping"))
            return True
        except (psycopg.Error, OSError, TimeoutError):
            return False

    def insert_pending(self, snapshot: Snapshot, timeout_s: float | None = None) -> None:
        """Durably record an accepted snapshot for the direct pipeline (no-op if already there),
        waiting at most ``timeout_s`` (else the pool's default) for a connection."""
        with (
            storage_errors("could not record snapshot"),
            self.pool.connection(timeout=timeout_s) as conn,
        ):
            conn.execute(query("insert_pending_snapshot"), snapshot_params(snapshot))

    def get_snapshot(self, snapshot_id: uuid.UUID) -> dict[str, Any] | None:
        with storage_errors(), self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(query("get_snapshot"), {"snapshot_id": snapshot_id}).fetchone()

    def snapshot_raw(self, snapshot_id: uuid.UUID) -> dict[str, Any] | None:
        """Where a snapshot's raw output is (``raw_ref_from_row``; ``has_raw_text``), or None."""
        with storage_errors("could not read the snapshot"), self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(query("get_snapshot_raw"), {"snapshot_id": snapshot_id}).fetchone()

    def snapshot_raw_text(self, snapshot_id: uuid.UUID) -> str | None:
        """A raw output kept as text in the row (from before the blob store, or pending)."""
        with storage_errors("could not read the raw output"), self.pool.connection() as conn:
            row = conn.execute(query("get_snapshot_raw_text"), {"snapshot_id": snapshot_id})
            found = row.fetchone()
        return found[0] if found else None

    def snapshot_processes(self, snapshot_id: uuid.UUID, limit: int) -> list[dict[str, Any]] | None:
        """The stored process rows of a snapshot, or None if there is no such snapshot."""
        snapshot = self.get_snapshot(snapshot_id)
        if snapshot is None:
            return None
        params = {
            "snapshot_id": snapshot_id,
            "collected_at": snapshot["collected_at"],
            "limit": limit,
        }
        with storage_errors(), self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            return cur.execute(query("snapshot_processes"), params).fetchall()

    def fetch_pending(
        self, limit: int, exclude: list[uuid.UUID] | None = None, max_bytes: int | None = None
    ) -> list[Snapshot]:
        """The oldest pending snapshots, leaving out ``exclude`` (those being written): at most
        ``limit`` and ``max_bytes`` of output (always at least one).

        A row that cannot be read (psycopg refuses its value, e.g. a timestamp before year 1)
        is marked failed with the reason, so it never blocks the queue.
        """
        params = {"limit": limit, "exclude": exclude or [], "max_bytes": max_bytes or 2**62}
        with storage_errors("could not read pending snapshots"), self.pool.connection() as conn:
            ids = [r[0] for r in conn.execute(query("fetch_pending_ids"), params).fetchall()]
            if not ids:
                return []
            cur = conn.cursor(row_factory=dict_row)
            try:
                rows = cur.execute(query("fetch_pending_snapshots"), {"ids": ids}).fetchall()
            except psycopg.DataError:
                rows = self._readable_pending(conn, ids)
        return [_pending_snapshot(r) for r in rows]

    def _readable_pending(
        self, conn: psycopg.Connection[Any], ids: list[uuid.UUID]
    ) -> list[dict[str, Any]]:
        """Read ``ids`` one at a time, marking failed those psycopg cannot read."""
        rows = []
        cur = conn.cursor(row_factory=dict_row)
        for snapshot_id in ids:
            try:
                row = cur.execute(query("fetch_pending_snapshots"), {"ids": [snapshot_id]}).fetchone()
            except psycopg.DataError as exc:
                reason = f"rejected: the stored row is unreadable: {exc}"
                log.error("pending snapshot marked failed", snapshot_id=str(snapshot_id),
                          reason=reason)  # fmt: skip
                conn.execute(
                    query("fail_pending_snapshot"), {"snapshot_id": snapshot_id, "error": reason}
                )
                continue
            if row is not None:
                rows.append(row)
        return rows

    def fail_pending(self, snapshot_id: uuid.UUID, reason: str) -> None:
        """Make a pending snapshot final as ``failed`` with ``reason`` (it can never be stored)."""
        with storage_errors("could not mark the snapshot failed"), self.pool.connection() as conn:
            conn.execute(
                query("fail_pending_snapshot"), {"snapshot_id": snapshot_id, "error": reason}
            )


def _pending_snapshot(r: dict[str, Any]) -> Snapshot:
    return Snapshot.model_construct(
        snapshot_id=r["snapshot_id"],
        host=r["host"],
        os=r["os"],
        os_version=r["os_version"],
        user=r["user_name"],
        faculty=r["faculty"],
        collected_at=r["collected_at"],
        received_at=r["received_at"],
        command=r["command"],
        interval_s=r["interval_s"],
        output=r["raw_output"],
        raw=raw_ref_from_row(r),
        output_url=r["raw_url"] if not r["raw_sha256"] else None,
        executables=facts_of(r["executables"]),
    )


__all__ = ["Database", "Jsonb", "snapshot_params"]
