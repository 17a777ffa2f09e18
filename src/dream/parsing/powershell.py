"""PowerShell ``Get-Process`` objects: ``ConvertTo-Csv``/``Export-Csv``, ``ConvertTo-Json`` and
``Format-List``.

The objects behind them are the same .NET ``Process`` properties, so CSV and JSON share one
property mapping (``from_object``); the tables are in pstable.py.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain

from dream.errors import ParseError
from dream.parsing.apps import WINDOWS_SYSTEM_IMAGES, is_windows_system, normalize_app
from dream.parsing.model import ProcessRecord
from dream.parsing.rows import finish
from dream.parsing.values import csv_delimiter, csv_rows, skip_row, to_float, to_int

def process_record(pid: int, name: str | None, path: str | None, command: str | None,
                   cpu: float | None, rss: int | None, vsz: int | None, session: int | None,
                   user: str | None, started: str | None, title: str | None,
                   threads: int | None, status: str | None, ppid: int | None) -> ProcessRecord:
    """One Get-Process object, however printed: the app from its path, else its name."""
    image = name + ".exe" if name and not name.lower().endswith(".exe") and \
        name.lower() not in WINDOWS_SYSTEM_IMAGES else name
    app = normalize_app(path) if path else normalize_app(name) if name else None
    system = is_windows_system(image, user, session, None, path)
    return ProcessRecord(
        pid=pid, ppid=ppid, user=user, name=name, command=command or path, app=app,
        is_system=system, rss_kb=rss, vsz_kb=vsz, started=started, cpu_seconds=cpu,
        threads=threads, session=session, status=status, window_title=title)


def _pick(item: Mapping[str, object], *keys: str) -> object:
    for key in keys:
        value = item.get(key)
        if value not in (None, ""):
            return value
    return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str):
        number = to_int(value.strip())
        if number is None:
            as_float = to_float(value.strip())
            return _as_int(as_float) if as_float is not None else None
        return number
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None
    if isinstance(value, str):
        return _as_float(to_float(value.strip())) if to_float(value.strip()) is not None else None
    return None


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def from_object(item: Mapping[str, object]) -> ProcessRecord | None:
    """One ``Process`` (or ``Win32_Process``) object's properties, as CSV or JSON carry them."""
    pid = _as_int(_pick(item, "Id", "ProcessId", "ID", "PID"))
    if pid is None or pid < 0:
        return None
    working_set = _as_int(_pick(item, "WorkingSet64", "WorkingSet", "WorkingSetSize", "WS"))
    virtual = _as_int(_pick(item, "VirtualMemorySize64", "VirtualMemorySize", "VirtualSize", "VM"))
    threads_value = item.get("Threads")
    threads = len(threads_value) if isinstance(threads_value, list) else _as_int(
        _pick(item, "ThreadCount"))
    responding = item.get("Responding")
    if isinstance(responding, str):
        responding = {"true": True, "false": False}.get(responding.strip().lower())
    status = None if not isinstance(responding, bool) else (
        "Running" if responding else "Not Responding")
    parent = item.get("Parent")
    ppid = _as_int(_pick(item, "ParentProcessId", "PPID"))
    if ppid is None and isinstance(parent, Mapping):
        ppid = _as_int(parent.get("Id"))
    name = _as_text(_pick(item, "ProcessName", "Name"))
    cpu = _as_float(_pick(item, "CPU", "TotalProcessorTime.TotalSeconds"))
    kernel, user = _as_int(item.get("KernelModeTime")), _as_int(item.get("UserModeTime"))
    if cpu is None and kernel is not None and user is not None:  # Win32_Process: 100 ns units
        cpu = (kernel + user) / 1e7
    return process_record(
        pid, name, _as_text(_pick(item, "Path", "ExecutablePath")),
        _as_text(_pick(item, "CommandLine")), cpu,
        None if working_set is None else working_set // 1024,
        None if virtual is None else virtual // 1024,
        _as_int(_pick(item, "SessionId", "SI")), _as_text(_pick(item, "UserName")),
        _as_text(_pick(item, "StartTime", "CreationDate")),
        _as_text(_pick(item, "MainWindowTitle")), threads, status, ppid)


def parse_csv(lines: Iterable[tuple[int, str]], warnings: list[str]) -> list[ProcessRecord]:
    """``ConvertTo-Csv``/``Export-Csv`` (``#TYPE`` preamble optional; PowerShell 7 omits it),
    ``-UseCulture``'s ``;`` included, and wmic's ``/format:csv``."""
    current = [0]

    def source() -> Iterator[str]:
        for lineno, line in lines:
            if line.strip() and not (current[0] == 0 and line.startswith("#")):
                current[0] = lineno
                yield line

    rows = source()
    first = next(rows, None)
    if first is None:
        raise ParseError("empty CSV: no Get-Process header")
    reader = csv.reader(chain([first], rows), delimiter=csv_delimiter(first))
    header: list[str] | None = None
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for cells in csv_rows(reader, current, warnings):
        if header is None:
            header = cells
            if not {"Id", "ProcessId"} & set(header):
                raise ParseError("CSV has no Id column: not Get-Process output", line=current[0])
            continue
        record = from_object(dict(zip(header, cells, strict=False))) if len(cells) == len(header) else None
        if record is None:
            first_bad = first_bad or current[0]
            skip_row(warnings, current[0], "malformed Get-Process CSV row")
            continue
        records.append(record)
    return finish(records, warnings, first_bad, "Get-Process CSV")


# `Format-List`'s "Name : value" (the key padded to the longest); a value too long for the
# console goes on over lines indented to the value's column.
_LIST_ENTRY = re.compile(r"([A-Za-z_][\w.]*) *:(?: (.*))?")


def is_list(rows: list[str]) -> bool:
    """Whether non-blank ``rows`` begin a ``Format-List`` of processes (Id and a name)."""
    keys = set()
    for row in rows:
        match = _LIST_ENTRY.fullmatch(row.rstrip())
        if match is None:
            if row[:1].isspace():
                continue
            break
        keys.add(match.group(1))
    return bool({"Id", "ProcessId"} & keys) and bool({"Name", "ProcessName"} & keys)


def parse_list(lines: Iterable[tuple[int, str]], warnings: list[str]) -> list[ProcessRecord]:
    """``Get-Process | Format-List`` (any properties, ``*`` included), or ``Get-CimInstance
    Win32_Process | Format-List``: one block per process."""
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    block: dict[str, str] = {}
    block_line = 0
    last_key: str | None = None

    def flush() -> None:
        nonlocal first_bad
        if block:
            record = from_object(block)
            if record is None:
                first_bad = first_bad or block_line
                skip_row(warnings, block_line, "Format-List entry without a process Id")
            else:
                records.append(record)
        block.clear()

    for lineno, line in lines:
        if not line.strip():
            flush()
            last_key = None
            continue
        match = _LIST_ENTRY.fullmatch(line.rstrip())
        if match is None and line[:1].isspace() and last_key is not None:
            block[last_key] = f"{block[last_key]} {line.strip()}"  # a wrapped value
            continue
        if match is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "not a Format-List line (Name : value)")
            continue
        if not block:
            block_line = lineno
        last_key = match.group(1)
        block[last_key] = (match.group(2) or "").strip()
    flush()
    return finish(records, warnings, first_bad, "Get-Process Format-List")


def parse_json(text: str, warnings: list[str]) -> list[ProcessRecord]:
    """``ConvertTo-Json``: one object or an array of objects."""
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise ParseError("JSON nests too deeply") from exc
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", line=line) from exc
    items = data if isinstance(data, list) else [data]
    records: list[ProcessRecord] = []
    for position, item in enumerate(items, 1):
        record = from_object(item) if isinstance(item, dict) else None
        if record is None:
            skip_row(warnings, position, "JSON value without a process Id (line is its position "
                     "in the array)")
            continue
        records.append(record)
    if not records:
        raise ParseError("JSON holds no object with a process Id")
    return records
