"""The rows of a snapshot the database cannot hold, set aside so that the rest is stored.

A few values parse and still fit no column: a PID beyond ``integer``, a %CPU beyond ``real``,
text with a NUL or an unpaired surrogate (escapes inside a JSON listing), a program name
longer than any file system allows (the sessions' key and the apps' indexes hold it, and an
index entry has room for ~2.7 kB), a memory size of more than a pebibyte (each fits ``bigint``,
and their sums in the rollups would not). PostgreSQL refused the whole snapshot for one such
row, and every good row of it was lost with it.

Checking every row before every write would cost the hot path for what a real listing never
holds, so the writer asks only once PostgreSQL has refused a snapshot written alone
(``writer._write_isolating``): the rows this module finds become skipped rows, reported as a
parser reports its own, and the snapshot is written again, once. Their "line" is the row's
position among the listing's processes, as for the items of a JSON listing: a parsed row does
not keep its line.
"""

from __future__ import annotations

import math

import psycopg

from dream.snapshots import MAX_SKIPPED_KEPT, PROCESS_COLUMNS, PROCESS_FIELDS, ProcessedSnapshot
from dream.snapshots import ProcessRecord, SkippedRow
from dream.storage.copying import FLOAT4_MAX, column_types
from dream.storage.errors import storage_errors

MAX_NAME = 255  # characters: a file name's limit on Linux, macOS and Windows alike
MAX_SIZE_KB = 2**40  # a pebibyte: no machine's memory, and room for the rollups' sums
_SIZES = ("rss_kb", "vsz_kb")
_INTEGERS = {21: ("smallint", 2**15), 23: ("integer", 2**31), 20: ("bigint", 2**63)}  # by oid
_REAL = 700
_COLUMNS = tuple(zip(PROCESS_FIELDS, PROCESS_COLUMNS, strict=True))


def why_unstorable(record: ProcessRecord, types: dict[str, int]) -> str | None:
    """Why the database cannot hold ``record`` (``types``: the ``processes`` columns' type
    oids), or None. Names the column, never the value of a text: rows name users' files."""
    for field, column in _COLUMNS:
        value = getattr(record, field)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            kind, bound = _INTEGERS.get(types.get(column, 0), ("", 0))
            if bound and not -bound <= value < bound:
                return f"its {column} {value} is out of range for the database's {kind}"
            if field in _SIZES and value > MAX_SIZE_KB:
                return f"its {column} {value} is more than a pebibyte"
        elif isinstance(value, float):
            if not math.isfinite(value) or (types.get(column) == _REAL and abs(value) > FLOAT4_MAX):
                return f"its {column} {value!r} is out of range for the database"
        elif isinstance(value, str) and ("\x00" in value or _unencodable(value)):
            return f"its {column} holds a NUL or an unpaired surrogate, which text cannot"
    for field in ("name", "app"):
        value = getattr(record, field)
        if value is not None and len(value) > MAX_NAME:
            return (f"its program name is {len(value)} characters long; no file system"
                    f" allows more than {MAX_NAME}")  # fmt: skip
    return None


def _unencodable(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def set_aside(conn: psycopg.Connection, item: ProcessedSnapshot) -> int:
    """Move the rows of ``item`` the database cannot hold to its skipped rows, each warned
    about; how many. None is moved if that would leave no row (the snapshot then stays
    refused whole, as a listing with no readable row fails)."""
    if item.status != "stored" or not item.processes:
        return 0
    with storage_errors("could not read the processes table's columns"):  # (away: retried)
        types = column_types(conn, "processes")
    kept: list[ProcessRecord] = []
    aside: list[SkippedRow] = []
    for position, record in enumerate(item.processes, 1):
        why = why_unstorable(record, types)
        if why is None:
            kept.append(record)
        else:
            aside.append(SkippedRow(position, f"process {why} (line is its position among the"
                                              " listing's processes)"))  # fmt: skip
    if not aside or not kept:
        return 0
    item.processes = kept
    item.warnings = [*item.warnings, *(row.warning for row in aside[:MAX_SKIPPED_KEPT])]
    if len(aside) > MAX_SKIPPED_KEPT:  # as a parse bounds its own (worker/processing.py)
        item.warnings.append(f"{len(aside) - MAX_SKIPPED_KEPT} more rows set aside: only the"
                             f" first {MAX_SKIPPED_KEPT} are listed")  # fmt: skip
    item.skipped = [*item.skipped, *aside][:MAX_SKIPPED_KEPT]
    item.skipped_count += len(aside)
    return len(aside)
