"""``dream audit``: the audit trail, straight from the database (as ``dream keys`` reads keys).

Not one of the analytics questions (``dream query``): it is asked of no filters and answered
from the audit log, not the analytics; it is the admin's, on the server, like ``GET /v1/audit``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from dream.cli.output import out
from rich.table import Table

from dream.cli.wiring import dream_for
from dream.security.audit import AuditTrail



def audit(
    key: Annotated[str | None, typer.Option(help="One key's id.")] = None,
    since: Annotated[datetime | None, typer.Option("--from", help="From (inclusive, UTC).")] = None,
    until: Annotated[datetime | None, typer.Option("--to", help="To (exclusive, UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one per entry.")] = False,
) -> None:
    """Who asked what: analytics, export and row requests by key, oldest first."""
    dream = dream_for("dream-audit", log_level="warning").open(analytics=False)
    try:
        dream.migrate()
        rows, _ = AuditTrail(dream.db).page(limit=limit, key_id=key, start=since, end=until)
    finally:
        dream.close()
    if as_json:
        for r in rows:
            print(json.dumps(r, default=str))
        return
    table = Table("at", "key", "role", "path", "parameters", "status", "rows", "withheld")
    for r in rows:
        table.add_row(f"{r['at']:%Y-%m-%d %H:%M:%S}", f"{r['key_name']} ({r['key_id']})",
                      r["role"], r["path"], "&".join(f"{k}={v}" for k, v in r["params"].items()),
                      str(r["status"]), "" if r["rows"] is None else str(r["rows"]),
                      "" if r["suppressed"] is None else str(r["suppressed"]))  # fmt: skip
    out.print(table)
