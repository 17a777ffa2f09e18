"""Rollup maintenance (same transaction, replay-safe), the migration's backfill, and retention."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

import analytics_dataset as ds
from dream.analytics.filters import Filters
from dream.analytics.queries import Analytics
from dream.storage.retention import prune_raw, raw_partitions
from dream.errors import StorageError
from dream.storage.migrate import available_migrations
from dream.storage.partitions import PartitionManager
from dream.storage.writer import SnapshotWriter

ROLLUP_SNAPSHOT = {
    "usage_hourly": "SELECT * FROM usage_hourly ORDER BY bucket, app, os, faculty, user_name, host",
    "usage_daily": "SELECT * FROM usage_daily ORDER BY bucket, app, os, faculty, user_name, host",
    "usage_daily_apps": "SELECT * FROM usage_daily_apps ORDER BY bucket, app, os, faculty",
    "usage_presence": "SELECT * FROM usage_presence ORDER BY block, app, os, faculty, dim, who",
}


def rollup_tables(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {t: conn.execute(q).fetchall() for t, q in ROLLUP_SNAPSHOT.items()}  # type: ignore[arg-type]


def test_rollups_add_up_to_the_raw_rows(database_url: str, rows: list[ds.Row]) -> None:
    with psycopg.connect(database_url) as conn:
        raw = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT is_system) FROM processes WHERE app <> ''"
        ).fetchone()
        for table in ("usage_hourly", "usage_daily"):
            totals = conn.execute(
                f"SELECT sum(processes), sum(u_processes), sum(snapshots) FROM {table}"
                " WHERE app = ''"
            ).fetchone()
            assert (totals[0], totals[1]) == raw
            stored = conn.execute("SELECT count(*) FROM snapshots WHERE status = 'stored'")
            assert totals[2] == stored.fetchone()[0]  # every snapshot once, the failed one not
    assert raw[0] == len(ds.select(rows, {"include_system": True}))


def test_replaying_everything_changes_no_rollup(database_url: str, rows: list[ds.Row]) -> None:
    items, _ = ds.generate()
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = rollup_tables(conn)
        summary = SnapshotWriter(PartitionManager()).write(conn, items)
        assert summary.snapshots_written == 0 and summary.process_rows == 0
        assert rollup_tables(conn) == before


def test_a_failed_write_leaves_no_rollup_behind(database_url: str) -> None:
    items, _ = ds.generate()
    writer = SnapshotWriter(PartitionManager())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE usage_daily ADD CONSTRAINT boom CHECK (processes < 0) NOT VALID")
        with pytest.raises(StorageError):
            writer.write(conn, items[:5])
        assert conn.execute("SELECT count(*) FROM usage_hourly").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM processes").fetchone()[0] == 0
        conn.execute("ALTER TABLE usage_daily DROP CONSTRAINT boom")
        assert writer.write(conn, items[:5]).snapshots_written == 5
        assert (
            conn.execute("SELECT sum(snapshots) FROM usage_hourly WHERE app = ''").fetchone()[0]
            == 5
        )


def test_migration_backfill_equals_what_the_writer_maintains(
    database_url: str, rows: list[ds.Row]
) -> None:
    by_name = {m.name: m.sql for m in available_migrations()}
    backfills = [by_name["usage_rollups"][by_name["usage_rollups"].index("INSERT INTO usage_hourly"):],
                 by_name["lean_rollups"][by_name["lean_rollups"].index("INSERT INTO usage_daily_apps"):]]
    with psycopg.connect(database_url, autocommit=True) as conn:
        maintained = rollup_tables(conn)
        with conn.transaction():
            conn.execute("TRUNCATE usage_hourly, usage_daily, usage_daily_apps, usage_presence")
            for backfill in backfills:
                conn.execute(backfill.encode())
        rebuilt = rollup_tables(conn)
    assert rebuilt["usage_presence"] == maintained["usage_presence"]
    assert len({row[0] for row in rebuilt["usage_presence"]}) >= 2  # the data spans two blocks
    for table in ("usage_hourly", "usage_daily", "usage_daily_apps"):
        assert len(rebuilt[table]) == len(maintained[table])
        cpu = (8, 14) if table != "usage_daily_apps" else (6, 12)  # float sums: approximately
        for a, b in zip(rebuilt[table], maintained[table], strict=True):
            assert [v for i, v in enumerate(a) if i not in cpu] == \
                [v for i, v in enumerate(b) if i not in cpu]
            assert [a[i] for i in cpu] == pytest.approx([b[i] for i in cpu])


def test_retention_drops_old_raw_months_and_rollups_still_answer(
    database_url: str, rows: list[ds.Row]
) -> None:
    march = Filters.model_validate({"from": "2026-03-01T00:00:00Z", "to": "2026-03-11T00:00:00Z"})
    everything = Filters()
    with ConnectionPool(database_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        analytics = Analytics(pool)
        before = analytics.top_apps(march, limit=50).items
        before_all = analytics.breakdown(everything, by="faculty").items
        assert analytics.top_apps(march, limit=50, source="raw").items == before
        with pool.connection() as conn:
            assert set(raw_partitions(conn)) == {"processes_2026_03", "processes_2026_04"}
            cache = PartitionManager()
            now = datetime(2026, 4, 20, tzinfo=UTC)
            dry = prune_raw(conn, 15, now=now, dry_run=True)
            assert dry.dropped == ["processes_2026_03"] and dry.kept == ["processes_2026_04"]
            assert set(raw_partitions(conn)) == {"processes_2026_03", "processes_2026_04"}
            # April 1st is 19 days before `now`, but April is not over: only March goes.
            result = prune_raw(conn, 15, now=now, partitions=cache)
            assert result.dropped == ["processes_2026_03"]
            assert set(raw_partitions(conn)) == {"processes_2026_04"}
            assert prune_raw(conn, 15, now=now).dropped == []
        assert analytics.top_apps(march, limit=50).items == before  # from rollups
        assert analytics.breakdown(everything, by="faculty").items == before_all
        # Raw rows gone: no process counts, but sessions still give the hours and launches.
        raw = analytics.top_apps(march, limit=50, source="raw").items
        assert {i["processes"] for i in raw} == {0}
        assert sorted((i["app"], i["hours"], i["launches"]) for i in raw) == sorted(
            (i["app"], i["hours"], i["launches"]) for i in before
        )


def test_a_late_snapshot_for_a_pruned_month_is_stored_after_a_retry(database_url: str) -> None:
    items, _ = ds.generate()
    writer = SnapshotWriter(PartitionManager())  # a worker whose partition cache is stale
    with psycopg.connect(database_url, autocommit=True) as conn:
        writer.write(conn, items[:3])
        prune_raw(conn, 1, now=datetime(2026, 6, 1, tzinfo=UTC))
        assert raw_partitions(conn) == {}
        with pytest.raises(StorageError, match="no partition"):
            writer.write(conn, items[3:5])
        assert writer.write(conn, items[3:5]).snapshots_written == 2  # the retry
