"""Executables' facts: what a snapshot's optional ``executables`` says, kept per (host, path,
sha256) with whether the file is the operating system's (``is_system``).

"System" is decided by the signer or owning package first, the path second (docs/agent.md):

- macOS: signed ``Software Signing`` (Apple's platform binaries) is system; any other signer
  (Developer ID, the App Store's ``Apple Mac OS Application Signing``) is not; unsigned or ad
  hoc files are system under /System, /usr/bin, /usr/sbin, /usr/libexec, /usr/lib, /bin, /sbin,
  /Library/Apple.
- Windows: signed ``Microsoft Windows`` (or its Publisher / Hardware Compatibility Publisher)
  is system; another signer is not; an unsigned file is system under C:\\Windows.
- Linux: owned by a package (``dpkg:``/``rpm:``) outside /opt is system (vendors' packages
  install under /opt); an unowned file is system under /usr, /bin, /sbin, /lib (not
  /usr/local).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from dream.parsing.apps import normalize_app
from dream.snapshots import ExecutableFact, ProcessedSnapshot, Snapshot
from dream.storage.queries import NamedQueries

_SQL = NamedQueries("dream.storage", "executables.sql")

_MACOS_SYSTEM_DIRS = ("/System/", "/usr/bin/", "/usr/sbin/", "/usr/libexec/", "/usr/lib/",
                      "/bin/", "/sbin/", "/Library/Apple/")  # fmt: skip
_WINDOWS_SIGNERS = frozenset({"microsoft windows", "microsoft windows publisher",
                              "microsoft windows hardware compatibility publisher"})  # fmt: skip
_LINUX_SYSTEM_DIRS = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/lib32/")


def is_system(os_name: str, path: str, signer: str | None) -> bool:
    """Whether the file belongs to the operating system (see the module's rules)."""
    if os_name == "macos":
        if signer and signer != "adhoc":
            return signer == "Software Signing"
        return path.startswith(_MACOS_SYSTEM_DIRS)
    if os_name == "windows":
        if signer:
            return signer.lower() in _WINDOWS_SIGNERS
        return path.replace("/", "\\").lower().startswith("c:\\windows\\")
    if signer and signer.startswith(("dpkg:", "rpm:")):
        return not path.startswith("/opt/")
    return path.startswith(_LINUX_SYSTEM_DIRS) and not path.startswith("/usr/local/")


def write_executables(conn: psycopg.Connection, items: Iterable[ProcessedSnapshot]) -> None:
    """Upsert the executables of ``items`` (snapshots this transaction made final)."""
    rows: dict[tuple[str, str, str], dict] = {}
    ids = set()
    for item in items:
        s = item.snapshot
        if s.executables:
            ids.add(s.snapshot_id)
        for fact in s.executables or ():
            key = (s.host, fact.path, fact.sha256)
            seen = s.collected_at
            row = rows.get(key)
            if row is None:
                rows[key] = {"host": s.host, "path": fact.path, "sha256": fact.sha256, "os": s.os,
                             "app": normalize_app(fact.path),
                             "faculty": s.faculty, "size_bytes": fact.size_bytes,
                             "signer": fact.signer, "users": [s.user], "first_seen": seen,
                             "last_seen": seen,
                             "is_system": is_system(s.os, fact.path, fact.signer)}  # fmt: skip
            else:
                row["users"] = sorted({*row["users"], s.user})
                row["first_seen"] = min(row["first_seen"], seen)
                row["last_seen"] = max(row["last_seen"], seen)
    if rows:
        ordered = [rows[k] for k in sorted(rows)]  # one lock order for concurrent writers
        conn.execute(_SQL.query("upsert_executables"),
                     {"rows": json.dumps(ordered, default=datetime.isoformat)})  # fmt: skip
        conn.execute(_SQL.query("clear_pending_executables"), {"ids": sorted(ids)})


def pending_executables(snapshot: Snapshot) -> Jsonb | None:
    """A snapshot's executables as the direct pipeline's pending row keeps them."""
    if not snapshot.executables:
        return None
    return Jsonb([fact.model_dump() for fact in snapshot.executables])


def facts_of(stored: list[dict[str, Any]] | None) -> list[ExecutableFact] | None:
    """A pending row's executables as the model's facts (validated when they were posted)."""
    if not stored:
        return None
    return [ExecutableFact.model_construct(**fact) for fact in stored]
