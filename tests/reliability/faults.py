"""Helpers of the fault-injection tests: real `dream` processes, counting what got stored."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from fastapi.testclient import TestClient

from dream.app import Dream
from dream.web.app import create_app
from dream.settings import Settings

import helpers
from helpers import wait_for


def names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {
        "DREAM_KAFKA_TOPIC": f"faults-{suffix}",
        "DREAM_KAFKA_DLQ_TOPIC": f"faults-{suffix}.dlq",
        "DREAM_KAFKA_GROUP": f"faults-{suffix}",
    }


@contextmanager
def in_process_api(env: dict[str, str], data_dir: Path, partitions: int) -> Iterator[TestClient]:
    """The api in this process over ``env``'s services (Kafka mode: posting never touches the
    database), creating the topic with ``partitions`` partitions."""
    settings = Settings(
        database_url=env["DREAM_DATABASE_URL"],
        kafka_bootstrap=env["DREAM_KAFKA_BOOTSTRAP"],
        kafka_topic=env["DREAM_KAFKA_TOPIC"],
        kafka_dlq_topic=env["DREAM_KAFKA_DLQ_TOPIC"],
        kafka_partitions=partitions,
        data_dir=data_dir,
    )
    dream = Dream(settings).open()
    try:
        with TestClient(create_app(dream, publisher=dream.publisher())) as client:
            yield client
    finally:
        dream.close()


def dream_env(database_url: str, bootstrap: str, **overrides: object) -> dict[str, str]:
    env = {
        **os.environ,
        "DREAM_DATABASE_URL": database_url,
        "DREAM_KAFKA_BOOTSTRAP": bootstrap,
        "DREAM_KAFKA_PARTITIONS": "3",
        "DREAM_LOG_LEVEL": "info",
        "DREAM_METRICS_PORT": "0",
        **names(),
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``python -m dream <args>`` with its stderr (structured logs) in ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "dream", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def start_api(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    import services

    port = services.free_port()
    proc = spawn(["api", "--port", str(port)], env, log)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"api exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{base}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout_s=60, what="the api to be ready")
    return proc, base


def terminate(proc: subprocess.Popen, timeout_s: float = 30) -> int:
    """SIGTERM and wait; the exit code (killing it if it does not exit in time)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(
            f"pid {proc.pid} did not exit within {timeout_s}s of SIGTERM"
        ) from None


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchone()[0]


def stored(url: str) -> int:
    return count(url, "SELECT count(*) FROM snapshots WHERE status <> 'pending'")


def assert_each_snapshot_once(
    url: str, expected: set[str], may_also: set[str] = frozenset()
) -> None:
    """Every id in ``expected`` is final exactly once with its process rows written once, and
    merged into sessions once: their samples add up to the stored snapshots' processes, the
    launches in usage_hours_daily to the sessions.

    ``may_also``: ids the api refused (503) that may nonetheless have reached the broker.
    """
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT snapshot_id::text, status FROM snapshots").fetchall()
        duplicated = conn.execute(
            "SELECT snapshot_id, pid, count(*) FROM processes GROUP BY 1, 2 HAVING count(*) > 1"
        ).fetchall()
        mismatched = conn.execute(
            "SELECT s.snapshot_id, s.process_count, count(p.pid)"
            " FROM snapshots s LEFT JOIN processes p USING (snapshot_id)"
            " WHERE s.status = 'stored'"
            " GROUP BY 1, 2 HAVING s.process_count IS DISTINCT FROM count(p.pid)"
        ).fetchall()
        observed, sampled = conn.execute(
            "SELECT (SELECT coalesce(sum(process_count), 0) FROM snapshots WHERE status = 'stored'),"
            " (SELECT coalesce(sum(samples), 0) FROM sessions)"
        ).fetchone()
        launched, launches = conn.execute(
            "SELECT (SELECT count(*) FROM sessions WHERE app <> ''),"
            " (SELECT coalesce(sum(launches), 0) FROM usage_hours_daily)"
        ).fetchone()
    ids = {r[0] for r in rows}
    assert expected - ids == set(), f"{len(expected - ids)} accepted snapshot(s) lost"
    assert ids - expected <= set(may_also), f"unexpected snapshots: {sorted(ids - expected)[:5]}"
    assert all(status != "pending" for _, status in rows)
    assert duplicated == [], f"process rows written twice: {duplicated[:5]}"
    assert mismatched == [], f"process rows missing or doubled: {mismatched[:5]}"
    assert sampled == observed, f"{observed} processes stored, {sampled} samples in sessions"
    assert launches == launched, f"{launched} sessions with an app, {launches} launches counted"


def group_caught_up(env: dict[str, str], partitions: int = 3) -> bool:
    """The worker group committed offsets up to the end of every partition."""
    return helpers.group_caught_up(env["DREAM_KAFKA_BOOTSTRAP"], env["DREAM_KAFKA_GROUP"],
                                   env["DREAM_KAFKA_TOPIC"], partitions)


def wait_for_log(log: Path, pattern: str, timeout_s: float = 30.0) -> None:
    """Wait until the regular expression ``pattern`` matches a line of ``log``."""
    regex = re.compile(pattern)
    wait_for(
        lambda: log.exists() and regex.search(log.read_text(errors="replace")), timeout_s, pattern
    )


def elapsed(start: float) -> float:
    return time.monotonic() - start
