"""`dream reprocess` past the per-sample rows' retention: sessions and usage_hours_daily are
rebuilt from the raw outputs, equal to a fresh ingest of the same listings under today's parser;
a host whose raw output is gone too is named and left as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import dream.worker.processing as processing
from dream.demo.listings import ps_aux_output
from helpers import direct_client, snapshot_body
from raw_helpers import make_settings, process_rows, settled, snapshot_row
from test_reprocess import run_cli

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CADENCE = timedelta(minutes=5)


@pytest.fixture
def fresh_url(postgres_server_url: str) -> Iterator[str]:
    """A second database: the same listings ingested afresh under today's parser."""
    from dream.storage.migrate import migrate

    name = f"dream_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_conninfo(postgres_server_url, dbname=name)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def listings(host: str, count: int, seed: int, start: datetime = START) -> list[dict]:
    """``count`` snapshots of ``host`` 5 minutes apart: one machine's processes, each missing
    from one listing in seven (so sessions end and start again), every listing's text distinct."""
    header, *lines = ps_aux_output(80, seed=seed).splitlines()
    return [
        snapshot_body(
            "\n".join([header, *(ln for j, ln in enumerate(lines) if (i + j) % 7)]) + "\n",
            host=host, collected_at=(start + i * CADENCE).isoformat(), interval_s=300,
        )  # fmt: skip
        for i in range(count)
    ]


def old_parser(original):
    """"Version 1" of the parser: loses every third process, misnames the first application."""

    def parse(text, **kwargs):
        result = original(text, **kwargs)
        kept = [p for i, p in enumerate(result.processes) if i % 3]
        for p in kept:
            if p.app:
                p.app = f"{p.app}-old"
                break
        result.processes[:] = kept
        return result

    return parse


def ingest(settings, bodies: list[dict]) -> None:
    with direct_client(settings) as (client, _):
        for body in bodies:
            assert client.post("/v1/snapshots", json=body).status_code == 202
        for body in bodies:
            assert settled(client, body["snapshot_id"])["status"] == "stored"


def sessions_of(url: str, hosts: list[str]) -> tuple[list[tuple], list[tuple]]:
    """The hosts' sessions and usage_hours_daily rows, sorted."""
    with psycopg.connect(url) as conn:
        sessions = conn.execute(
            "SELECT * FROM sessions WHERE host = ANY(%s) ORDER BY host, user_name, pid, name,"
            " first_seen", (hosts,)  # fmt: skip
        ).fetchall()
        hours = conn.execute(
            "SELECT * FROM usage_hours_daily WHERE host = ANY(%s) ORDER BY 1, 2, 3, 4, 5, 6",
            (hosts,),
        ).fetchall()
    return sessions, hours


def test_reprocess_rebuilds_sessions_from_raw_outputs_past_the_rows_retention(
    database_url: str, fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = {"blob_dir": tmp_path / "blobs"}
    settings = make_settings(database_url, tmp_path, store, raw_rows_retention_days=0)
    kept, lost = ["lab-0", "lab-1"], "lab-2"
    bodies = [*listings("lab-0", 6, seed=1), *listings("lab-1", 5, seed=2), *listings(lost, 4, seed=3)]
    original = processing.parse
    monkeypatch.setattr(processing, "parse", old_parser(original))
    ingest(settings, bodies)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM processes").fetchone() == (0,)  # none kept
    before_lost = sessions_of(database_url, [lost])
    assert before_lost[0]

    # The control: the same listings (the lost host's too) ingested afresh by today's parser.
    monkeypatch.setattr(processing, "parse", original)  # the upgrade
    ingest(make_settings(fresh_url, tmp_path, store, raw_rows_retention_days=0), bodies)
    want = sessions_of(fresh_url, kept)
    assert sessions_of(database_url, kept) != want  # the old parser's sessions differ

    # One raw output of the lost host is gone (deleted from the blob store).
    sha = snapshot_row(database_url, bodies[-2]["snapshot_id"])["raw_sha256"]
    (tmp_path / "blobs" / "sha256" / sha[:2] / f"{sha}.zst").unlink()

    summary = run_cli(settings, "reprocess", "--batch-size", "4")
    assert summary["selected"] == len(bodies) and summary["no_raw"] == 1
    # No rows to take out of the rollups: those are left; the sessions are rebuilt.
    assert summary["reprocessed"] == 0 and summary["sessions_only"] == len(bodies) - 1
    assert sessions_of(database_url, kept) == want
    assert sessions_of(database_url, [lost]) == before_lost  # left as it was, and said so
    assert any(e.startswith(f"{lost}: sessions not rebuilt: snapshot ") and "raw output" in e
               for e in summary["errors"])  # fmt: skip
    assert not any(e.startswith(tuple(kept)) for e in summary["errors"])

    again = run_cli(settings, "reprocess", "--batch-size", "7")  # other batches, same sessions
    assert again["sessions_only"] == len(bodies) - 1
    assert sessions_of(database_url, kept) == want
    assert sessions_of(database_url, [lost]) == before_lost


def test_reprocess_rebuilds_sessions_from_rows_where_kept_and_raw_outputs_where_not(
    database_url: str, fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions crossing DREAM_RAW_ROWS_RETENTION_DAYS: their older snapshots have no rows (the
    worker wrote none), their newer ones have; the rebuild reads each from where it is."""
    store = {"blob_dir": tmp_path / "blobs"}
    settings = make_settings(database_url, tmp_path, store, raw_rows_retention_days=7)
    # 9 snapshots older than 7 days, 7 newer: the boundary 2.5 minutes from either neighbour.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7, minutes=42, seconds=30)
    bodies = listings("lab-0", 16, seed=4, start=start)
    original = processing.parse
    monkeypatch.setattr(processing, "parse", old_parser(original))
    ingest(settings, bodies)
    with psycopg.connect(database_url) as conn:
        with_rows = conn.execute("SELECT count(DISTINCT snapshot_id) FROM processes").fetchone()
    assert with_rows == (7,)

    monkeypatch.setattr(processing, "parse", original)
    ingest(make_settings(fresh_url, tmp_path, store, raw_rows_retention_days=7), bodies)
    want = sessions_of(fresh_url, ["lab-0"])
    assert sessions_of(database_url, ["lab-0"]) != want

    summary = run_cli(settings, "reprocess", "--batch-size", "5")
    assert summary["reprocessed"] == 7 and summary["sessions_only"] == 9, summary
    assert summary["errors"] == []
    assert sessions_of(database_url, ["lab-0"]) == want
    for body in bodies[9:]:  # the newer snapshots' rows: today's parser's, as a fresh ingest's
        assert process_rows(database_url, body["snapshot_id"]) == process_rows(
            fresh_url, body["snapshot_id"]
        )
