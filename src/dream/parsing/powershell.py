"""PowerShell ``Get-Process``: default table, ``ConvertTo-Csv``/``Export-Csv`` and ``ConvertTo-Json``.

The objects behind all three are the same .NET ``Process`` properties, so CSV and JSON share one
property mapping; the table is cut at its ``----`` underline (CPU(s) is blank for processes the
caller may not inspect, so splitting on spaces would shift columns).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping

from dream.errors import ParseError
from dream.parsing.apps import is_windows_system, normalize_app
from dream.parsing.model import ProcessRecord
from dream.parsing.values import csv_rows, grouped_decimal, skip_row, to_float, to_int

_DASHES = re.compile(r"-+")
# A cell: no plain space or tab inside, but a no-break space (U+00A0, U+202F) may group digits.
_TOKEN = re.compile(r"[^ \t]+")
# Table header -> (field, factor to KiB or None).
_TABLE_COLUMNS: dict[str, tuple[str, float | None]] = {
    "WS(K)": ("rss_kb", 1), "WS(M)": ("rss_kb", 1024), "VM(M)": ("vsz_kb", 1024),
    "VM(K)": ("vsz_kb", 1), "CPU(S)": ("cpu_seconds", None), "ID": ("pid", None),
    "SI": ("session", None), "PROCESSNAME": ("name", None), "HANDLES": ("", None),
    "NPM(K)": ("", None), "NPM(M)": ("", None), "PM(K)": ("", None), "PM(M)": ("", None),
}


def is_table_header(header: str, underline: str) -> bool:
    words = header.upper().split()
    return "PROCESSNAME" in words and "ID" in words and bool(re.fullmatch(r"[- ]+", underline.strip()))


def _record(pid: int, name: str | None, path: str | None, command: str | None,
            cpu: float | None, rss: int | None, vsz: int | None, session: int | None,
            user: str | None, started: str | None, title: str | None, threads: int | None,
            status: str | None, ppid: int | None) -> ProcessRecord:
    image = name + ".exe" if name and not name.lower().endswith(".exe") else name
    app = normalize_app(path) if path else normalize_app(name) if name else None
    system = is_windows_system(image, user, session, None, path)
    return ProcessRecord(
        pid=pid, ppid=ppid, user=user, name=name, command=command or path, app=app,
        is_system=system, rss_kb=rss, vsz_kb=vsz, started=started, cpu_seconds=cpu,
        threads=threads, session=session, status=status, window_title=title)


def parse_table(lines: Iterable[tuple[int, str]], header: str, underline: str,
                warnings: list[str]) -> list[ProcessRecord]:
    """Default ``Get-Process`` table; numbers are right-aligned to their underline's end."""
    spans = [(m.start(), m.end()) for m in _DASHES.finditer(underline)]
    names = [header[s:e].strip().upper() for s, e in spans]
    columns = [_TABLE_COLUMNS.get(n, ("", None)) for n in names]
    if "pid" not in [c[0] for c in columns]:
        raise ParseError("Get-Process table has no Id column")
    last = len(spans) - 1
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for lineno, line in lines:
        if not line.strip():
            continue
        cells: dict[str, str] = {}
        tail_start = spans[last][0]
        for m in _TOKEN.finditer(line[:tail_start].rstrip()):
            end = m.end()
            for index, (_start, stop) in enumerate(spans[:last]):
                if end <= stop and (index == 0 or end > spans[index - 1][1]):
                    cells[columns[index][0]] = m.group()
                    break
        name = line[tail_start:].strip() if columns[last][0] == "name" else cells.get("name")
        values = _table_values(cells, columns)
        pid = to_int(cells.get("pid", ""))
        if pid is None or values is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "malformed Get-Process row")
            continue
        cpu, rss, vsz, session = values
        records.append(_record(pid, name or None, None, None, cpu, rss, vsz, session, None, None,
                               None, None, None, None))
    if not records:
        if first_bad is not None:
            raise ParseError("no Get-Process row could be parsed", line=first_bad)
        raise ParseError("Get-Process header found but no process rows follow")
    return records


def _table_values(cells: dict[str, str], columns: list[tuple[str, float | None]]
                  ) -> tuple[float | None, int | None, int | None, int | None] | None:
    """CPU(s), WS, VM and SI of a row, in the culture's digit grouping (``17,848.02``)."""
    factors = dict(columns)
    sizes: dict[str, int | None] = {}
    for field in ("rss_kb", "vsz_kb"):
        raw = cells.get(field)
        factor = factors.get(field) or 1
        # (K) columns are whole numbers, where "11.424" is de-DE for 11424; (M) ones have decimals.
        number = (to_int(raw) if factor == 1 else grouped_decimal(raw)) if raw else None
        if raw and number is None:
            return None
        sizes[field] = None if number is None else int(round(number * factor))
    raw_cpu = cells.get("cpu_seconds")
    cpu = grouped_decimal(raw_cpu) if raw_cpu else None
    raw_session = cells.get("session")
    session = to_int(raw_session) if raw_session else None
    if (raw_cpu and cpu is None) or (raw_session and session is None):
        return None
    return cpu, sizes["rss_kb"], sizes["vsz_kb"], session


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
    return _record(
        pid, name, _as_text(_pick(item, "Path", "ExecutablePath")),
        _as_text(_pick(item, "CommandLine")),
        _as_float(_pick(item, "CPU", "TotalProcessorTime.TotalSeconds")),
        None if working_set is None else working_set // 1024,
        None if virtual is None else virtual // 1024,
        _as_int(_pick(item, "SessionId", "SI")), _as_text(_pick(item, "UserName")),
        _as_text(_pick(item, "StartTime", "CreationDate")),
        _as_text(_pick(item, "MainWindowTitle")), threads, status, ppid)


def parse_csv(lines: Iterable[tuple[int, str]], warnings: list[str]) -> list[ProcessRecord]:
    """``ConvertTo-Csv``/``Export-Csv`` (``#TYPE`` preamble optional; PowerShell 7 omits it)."""
    current = [0]

    def source() -> Iterator[str]:
        for lineno, line in lines:
            if line.strip() and not (current[0] == 0 and line.startswith("#")):
                current[0] = lineno
                yield line

    reader = csv.reader(source())
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
    if not records:
        if first_bad is not None:
            raise ParseError("no Get-Process CSV row could be parsed", line=first_bad)
        raise ParseError("Get-Process CSV has a header but no rows")
    return records


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
