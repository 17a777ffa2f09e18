"""`dream reprocess`: a parser fix reaches stored snapshots; failed ones recover; rollups stay
equal to a from-scratch recomputation; a second run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from unittest import mock
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

import dream.worker.processing as processing
from dream.cli.raw import gc, reprocess
from dream.demo.listings import ps_aux_output
from dream.errors import ParseError
from helpers import direct_client, ps_aux_with_unreadable_lines, snapshot_body
from raw_helpers import (
    make_settings,
    process_rows,
    settings_env,
    settled,
    snapshot_row,
)

# The rollups as migration 0002 computes them from raw rows (its backfill), cpu as stored.
RECOMPUTE_HOURLY = """
SELECT date_trunc('hour', collected_at, 'UTC') AS bucket, coalesce(app, '') AS app, os, faculty,
       user_name, host,
       count(DISTINCT snapshot_id) AS snapshots, count(*) AS processes,
       coalesce(sum(cpu_percent::float8), 0) AS cpu_sum, count(cpu_percent) AS cpu_n,
       coalesce(sum(rss_kb), 0)::bigint AS rss_sum, count(rss_kb) AS rss_n,
       count(DISTINCT snapshot_id) FILTER (WHERE NOT is_system) AS u_snapshots,
       count(*) FILTER (WHERE NOT is_system) AS u_processes,
       coalesce(sum(cpu_percent::float8) FILTER (WHERE NOT is_system), 0) AS u_cpu_sum,
       count(cpu_percent) FILTER (WHERE NOT is_system) AS u_cpu_n,
       coalesce(sum(rss_kb) FILTER (WHERE NOT is_system), 0)::bigint AS u_rss_sum,
       count(rss_kb) FILTER (WHERE NOT is_system) AS u_rss_n
FROM processes
WHERE app <> ''
GROUP BY date_trunc('hour', collected_at, 'UTC'), os, faculty, user_name, host,
         GROUPING SETS ((app), ())
"""
RECOMPUTE_DAILY = f"""
SELECT date_trunc('day', bucket, 'UTC'), app, os, faculty, user_name, host,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM ({RECOMPUTE_HOURLY}) h
GROUP BY 1, 2, 3, 4, 5, 6
"""


def _normalise(rows: list[tuple]) -> list[tuple]:
    """Counters as numbers (sums come back as Decimal), sums of floats to 3 decimals."""

    def value(v: object) -> object:
        if isinstance(v, float):
            return round(v, 3)
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else round(float(v), 3)
        return v

    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


RECOMPUTE_DAILY_APPS = f"""
SELECT bucket, app, os, faculty,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM ({RECOMPUTE_DAILY}) d (bucket, app, os, faculty, user_name, host, snapshots, processes,
                           cpu_sum, cpu_n, rss_sum, rss_n, u_snapshots, u_processes, u_cpu_sum,
                           u_cpu_n, u_rss_sum, u_rss_n)
GROUP BY 1, 2, 3, 4
"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def presence_of(daily: list[tuple]) -> list[tuple]:
    """usage_presence as its definition says, from usage_daily rows (computed here, in Python)."""
    bits: dict[tuple, list[int]] = {}
    for bucket, app, os_, faculty, user, host, snapshots, *rest in daily:
        block, bit = divmod((bucket - EPOCH).days, 64)
        mask = 1 << bit
        for dim, who in (("u", user), ("h", host)):
            acc = bits.setdefault((block, app, os_, faculty, dim, who), [0, 0])
            acc[0] |= mask if snapshots > 0 else 0
            acc[1] |= mask if rest[5] > 0 else 0  # u_snapshots
    signed = lambda m: m - (1 << 64) if m >= 1 << 63 else m  # noqa: E731
    return [(*key, signed(a), signed(u)) for key, (a, u) in bits.items()]


def assert_rollups_match_recomputation(url: str) -> None:
    with psycopg.connect(url) as conn:
        for table, recompute in (("usage_hourly", RECOMPUTE_HOURLY), ("usage_daily", RECOMPUTE_DAILY),
                                 ("usage_daily_apps", RECOMPUTE_DAILY_APPS)):  # fmt: skip
            have = conn.execute(f"SELECT * FROM {table}").fetchall()
            want = conn.execute(recompute).fetchall()
            assert _normalise(have) == _normalise(want), table
        presence = conn.execute("SELECT block, app, os, faculty, dim, who, days, u_days"
                                " FROM usage_presence").fetchall()  # fmt: skip
        assert sorted(presence) == sorted(presence_of(conn.execute(RECOMPUTE_DAILY).fetchall()))
    assert_sessions_match_recomputation(url)


def assert_sessions_match_recomputation(url: str) -> None:
    """The sessions (and usage_hours_daily) equal those built from scratch from the process
    rows now stored: a reprocess rebuilt the ones around the snapshots it rewrote."""
    from dream.storage.sessions import SESSION_COLUMNS, HoursDelta, Session, merge_runs

    with psycopg.connect(url) as conn:
        rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(
            "SELECT s.host, s.collected_at, s.interval_s, s.user_name, s.os, s.faculty, p.pid,"
            " p.name, p.app, p.is_system, p.process_user, p.cpu_seconds, p.rss_kb, p.version"
            " FROM processes p JOIN snapshots s USING (snapshot_id)"
        ).fetchall()
        stored = conn.cursor(row_factory=psycopg.rows.class_row(Session)).execute(
            f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions").fetchall()  # fmt: skip
        hours = conn.execute("SELECT * FROM usage_hours_daily").fetchall()
    per_key: dict = {}
    for r in rows:
        obs = Session.from_row(r, r["host"], 300.0)
        per_key.setdefault(obs.key, []).append(obs)
    want = sorted((s for runs in per_key.values() for s in merge_runs(runs)), key=lambda s: s.pk)
    assert sorted(stored, key=lambda s: s.pk) == want
    delta = HoursDelta()
    for s in want:
        delta.add(s, 1)
    assert sorted(hours) == sorted((*k, *v) for k, v in delta.rows.items())


def invoke(settings, *args: str):
    """The commands in this process (the monkeypatched parser applies). Logging is left as it
    is: configured onto CliRunner's stderr, it would write to a closed file afterwards."""
    app = typer.Typer()
    app.command()(reprocess)
    app.command()(gc)
    with mock.patch("dream.cli.wiring.configure_logging"):
        return CliRunner().invoke(app, list(args), env=settings_env(settings))


def run_cli(settings, *args: str) -> dict:
    result = invoke(settings, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def broken_parser(monkeypatch: pytest.MonkeyPatch):
    """The parse function the worker uses, broken (a parser regression), until .fix()."""
    original = processing.parse

    def broken(text, **kwargs):
        raise ParseError("deliberately broken parser")

    class Switch:
        def fix(self) -> None:
            monkeypatch.setattr(processing, "parse", original)

    monkeypatch.setattr(processing, "parse", broken)
    return Switch()


def test_failed_snapshot_recovers_with_the_fixed_parser(
    database_url: str, tmp_path: Path, store_settings: dict, broken_parser
) -> None:
    settings = make_settings(database_url, tmp_path, store_settings)
    output = ps_aux_output(60, user="msmith")  # the user snapshot_body sends owns the processes
    failed = snapshot_body(output)
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=failed).status_code == 202
        state = settled(client, failed["snapshot_id"])
        assert state["status"] == "failed" and "deliberately broken" in state["error"]
        assert process_rows(database_url, failed["snapshot_id"]) == []

        broken_parser.fix()
        # The control: the same listing posted under the fixed parser, the ordinary way.
        control = snapshot_body(output, collected_at=failed["collected_at"])
        assert client.post("/v1/snapshots", json=control).status_code == 202
        assert settled(client, control["snapshot_id"])["status"] == "stored"

    summary = run_cli(settings, "reprocess", "--failed-only")
    assert summary["reprocessed"] == 1 and summary["stored"] == 1 and summary["failed"] == 0

    row = snapshot_row(database_url, failed["snapshot_id"])
    assert row["status"] == "stored" and row["error"] is None
    assert row["format"] == "ps-aux" and row["process_count"] == 60
    # Same rows as the control (user names pseudonymized once, not twice).
    assert process_rows(database_url, failed["snapshot_id"]) == process_rows(
        database_url, control["snapshot_id"]
    )
    assert row["user_name"] == snapshot_row(database_url, control["snapshot_id"])["user_name"]
    assert_rollups_match_recomputation(database_url)

    again = run_cli(settings, "reprocess", "--failed-only")  # nothing failed any more
    assert again["selected"] == 0 and again["reprocessed"] == 0
    assert_rollups_match_recomputation(database_url)


def test_reprocess_keeps_the_lines_the_parser_skipped(
    database_url: str, tmp_path: Path, store_settings: dict, broken_parser
) -> None:
    settings = make_settings(database_url, tmp_path, store_settings)
    body = snapshot_body(ps_aux_with_unreadable_lines(good=4, bad=2))  # lines 6 and 7 unread
    with direct_client(settings) as (client, _):
        assert client.post("/v1/snapshots", json=body).status_code == 202
        assert settled(client, body["snapshot_id"])["status"] == "failed"
    assert snapshot_row(database_url, body["snapshot_id"])["skipped_count"] == 0

    broken_parser.fix()
    summary = run_cli(settings, "reprocess", "--failed-only")
    assert summary["reprocessed"] == 1 and summary["stored"] == 1

    row = snapshot_row(database_url, body["snapshot_id"])
    assert row["status"] == "stored" and row["process_count"] == 4
    assert row["skipped_count"] == 2
    assert [skipped["line"] for skipped in row["skipped_rows"]] == [6, 7]
    assert all(skipped["reason"].startswith("malformed row") for skipped in row["skipped_rows"])


def test_parser_upgrade_replaces_rows_and_keeps_rollups_consistent(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    original = processing.parse

    def old_parser(text, **kwargs):
        # "Version 1": loses every third process and misnames an application.
        result = original(text, **kwargs)
        kept = [p for i, p in enumerate(result.processes) if i % 3]
        for p in kept:
            if p.app == "mozilla-firefox":  # (named by product, as stored)
                p.app = "firefox-old"
        result.processes[:] = kept
        return result

    monkeypatch.setattr(processing, "parse", old_parser)
    bodies = [snapshot_body(ps_aux_output(40 + 7 * i, seed=i), host=f"lab-{i % 2}",
                            collected_at=f"2026-11-2{i % 3}T1{i}:15:00Z") for i in range(5)]  # fmt: skip
    with direct_client(settings) as (client, _):
        for body in bodies:
            assert client.post("/v1/snapshots", json=body).status_code == 202
        for body in bodies:
            assert settled(client, body["snapshot_id"])["status"] == "stored"
    assert_rollups_match_recomputation(database_url)
    before = {b["snapshot_id"]: process_rows(database_url, b["snapshot_id"]) for b in bodies}

    monkeypatch.setattr(processing, "parse", original)  # the upgrade
    summary = run_cli(settings, "reprocess", "--batch-size", "2")
    assert summary["reprocessed"] == 5 and summary["stored"] == 5
    for i, body in enumerate(bodies):
        rows = process_rows(database_url, body["snapshot_id"])
        assert len(rows) == 40 + 7 * i > len(before[body["snapshot_id"]])
        assert snapshot_row(database_url, body["snapshot_id"])["process_count"] == 40 + 7 * i
    assert_rollups_match_recomputation(database_url)

    with psycopg.connect(database_url) as conn:
        rollups = conn.execute("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4, 5, 6").fetchall()
        assert not conn.execute("SELECT 1 FROM usage_hourly WHERE app = 'firefox-old'").fetchall()
    again = run_cli(settings, "reprocess", "--batch-size", "2")  # idempotent
    assert again["reprocessed"] == 5
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT * FROM usage_daily ORDER BY 1, 2, 3, 4, 5, 6").fetchall() == rollups
    assert_rollups_match_recomputation(database_url)

    # Filters: only one day's snapshots, only a format nothing has.
    day = run_cli(settings, "reprocess", "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-22")
    assert day["selected"] == sum(1 for b in bodies if b["collected_at"].startswith("2026-11-21"))
    assert run_cli(settings, "reprocess", "--format", "tasklist")["selected"] == 0


def test_interrupted_run_resumes_after_its_checkpoint(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dream.app import Dream
    from dream.catalog import Catalog
    from dream.reprocess import Filters, Reprocessor

    settings = make_settings(database_url, tmp_path, {"blob_dir": tmp_path / "blobs"})
    bodies = [snapshot_body(ps_aux_output(10, seed=i)) for i in range(6)]
    with direct_client(settings) as (client, _):
        for body in bodies:
            client.post("/v1/snapshots", json=body)
        for body in bodies:
            settled(client, body["snapshot_id"])

    dream = Dream(settings).open()
    try:
        reprocessor = Reprocessor(dream.db, dream.raw_outputs, scrubber=dream.scrubber, batch_size=2)
        calls = {"n": 0}
        original = Reprocessor._rewrite

        def crash_on_second_batch(self, *args):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("killed")
            return original(self, *args)

        monkeypatch.setattr(Reprocessor, "_rewrite", crash_on_second_batch)
        with pytest.raises(RuntimeError):
            reprocessor.run(Filters())
        monkeypatch.setattr(Reprocessor, "_rewrite", original)
        # Under another catalog the run is another one: it starts over, so no snapshot keeps
        # the products of the catalog the cut-short run began with.
        local = tmp_path / "local.toml"
        local.write_text('[products.lab-tool]\nname = "Lab tool"\nvendor = "Lab"\n'
                         'category = "science"\nlinux = ["labtool"]\nexamples = ["labtool"]\n')  # fmt: skip
        other = Reprocessor(dream.db, dream.raw_outputs, scrubber=dream.scrubber, batch_size=2,
                            catalog=Catalog.load(local))  # fmt: skip
        assert other.remaining(Filters()) == 6
        assert reprocessor.remaining(Filters()) == 4
        resumed = reprocessor.run(Filters())
        assert resumed.resumed and resumed.selected == 4 and resumed.reprocessed == 4
        assert reprocessor.remaining(Filters()) == 6  # finished: the next run starts over
    finally:
        dream.close()
    assert_rollups_match_recomputation(database_url)


def test_reprocess_without_raw_outputs_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, {}, store_raw=False)
    result = invoke(settings, "reprocess")
    assert result.exit_code == 2
    assert "DREAM_STORE_RAW=false" in result.output
