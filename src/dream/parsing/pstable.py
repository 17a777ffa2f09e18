"""PowerShell ``Get-Process`` tables: the default view (5.1 and 7), ``-IncludeUserName``, a
remote session's ``PSComputerName``, ``Format-Table -AutoSize`` and a narrow console's; and
``Get-CimInstance Win32_Process``'s table (ProcessId, Name, ..., sizes in bytes).

A table is cut at its ``----`` underline. Numbers are right-aligned to their underline's end
(CPU(s) is blank for processes the caller may not inspect, so splitting on spaces would shift
columns); names and users are left-aligned from their underline's start to the next column
and may hold spaces (``NT AUTHORITY\\SYSTEM``). A console narrower than a header wraps it over
lines (``ProcessN`` / ``ame``) and cuts long values with ``...`` (5.1) or ``…`` (7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dream.parsing.model import ProcessRecord
from dream.parsing.powershell import process_record
from dream.parsing.rows import finish
from dream.parsing.values import grouped_decimal, skip_row, to_int

_DASHES = re.compile(r"-+")
_UNDERLINE = re.compile(r"[- ]*-[- ]*")
# A cell: no plain space or tab inside, but a no-break space (U+00A0, U+202F) may group digits.
_TOKEN = re.compile(r"[^ \t]+")
_ELLIPSES = ("...", "\u2026")
# Header -> (field, factor to KiB or None). Left-aligned text columns are in _TEXT.
_NUMBERS: dict[str, tuple[str, float | None]] = {
    "WS(K)": ("rss_kb", 1), "WS(M)": ("rss_kb", 1024), "VM(M)": ("vsz_kb", 1024),
    "VM(K)": ("vsz_kb", 1), "CPU(S)": ("cpu_seconds", None), "ID": ("pid", None),
    "SI": ("session", None),
    # Get-CimInstance Win32_Process's table: sizes in bytes.
    "PROCESSID": ("pid", None), "WORKINGSETSIZE": ("rss_kb", 1 / 1024),
    "VIRTUALSIZE": ("vsz_kb", 1 / 1024),
    # `Format-Table Id,CPU,WS,...`: the properties themselves (bytes, seconds).
    "CPU": ("cpu_seconds", None), "WS": ("rss_kb", 1 / 1024), "VM": ("vsz_kb", 1 / 1024),
    "SESSIONID": ("session", None),
}
_TEXT: dict[str, str] = {
    "PROCESSNAME": "name", "USERNAME": "user", "PSCOMPUTERNAME": "", "MACHINENAME": "",
    "NAME": "name", "PATH": "path", "EXECUTABLEPATH": "path", "COMMANDLINE": "command",
    "STARTTIME": "started", "COMPANY": "", "DESCRIPTION": "", "PRODUCT": "",
    "MAINWINDOWTITLE": "window_title",
}
HEADER_ROWS = 4  # header lines a narrow console may wrap one header over, plus the underline


@dataclass(slots=True)
class Table:
    """A table's columns: upper-cased header names and their underline spans."""

    names: list[str]
    spans: list[tuple[int, int]]


def find_table(rows: list[str]) -> tuple[Table, int] | None:
    """The table whose header starts ``rows`` (non-blank lines) and the underline's index."""
    for index in range(1, min(len(rows), HEADER_ROWS + 1)):
        if not _UNDERLINE.fullmatch(rows[index].strip()):
            continue
        spans = [(m.start(), m.end()) for m in _DASHES.finditer(rows[index])]
        last = len(spans) - 1
        names = ["".join(h[s: None if i == last else e].strip() for h in rows[:index]).upper()
                 for i, (s, e) in enumerate(spans)]
        if {"ID", "PROCESSID"} & set(names) and ("PROCESSNAME" in names or "NAME" in names):
            return Table(names, spans), index
        return None
    return None


def parse_table(lines: Iterable[tuple[int, str]], table: Table,
                warnings: list[str]) -> list[ProcessRecord]:
    """The rows under the underline."""
    text_columns = [(i, _TEXT[n]) for i, n in enumerate(table.names) if n in _TEXT]
    number_columns = [(i, _NUMBERS.get(n, ("", None))) for i, n in enumerate(table.names)
                      if n not in _TEXT]
    factors = {field: factor or 1 for _, (field, factor) in number_columns}
    text_indexes = {index for index, _ in text_columns}
    starts = [s for s, _ in table.spans]
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for lineno, line in lines:
        if not line.strip():
            continue
        texts: dict[str, str] = {}
        numeric = line
        for index, field in text_columns:
            stop = _text_end(line, table, index, text_indexes)
            texts[field] = line[starts[index]: stop].strip()
            numeric = numeric[:starts[index]] + " " * (stop - starts[index]) + numeric[stop:]
        cells = _numeric_cells(numeric, table, number_columns)
        values = _values(cells, factors)
        pid = to_int(cells.get("pid", ""))
        if pid is None or values is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "malformed Get-Process row")
            continue
        name = texts.get("name") or None
        if name is not None and name.endswith(_ELLIPSES):
            warnings.append(f"line {lineno}: process name cut by the console's width")
        cpu, rss, vsz, session = values
        record = process_record(pid, _uncut(name), texts.get("path") or None,
                                texts.get("command") or None, cpu, rss, vsz, session,
                                texts.get("user") or None, texts.get("started") or None,
                                texts.get("window_title") or None, None, None, None)
        record.name = name  # as printed; the app is the uncut part's
        records.append(record)
    return finish(records, warnings, first_bad, "Get-Process")


def _text_end(line: str, table: Table, index: int, text_indexes: set[int]) -> int:
    """Where text column ``index`` ends in ``line``: at the next column's start, or earlier
    where a right-aligned number of the next column, wider than its header, begins."""
    if index + 1 >= len(table.spans):
        return len(line)
    stop, next_end = table.spans[index + 1]
    if index + 1 not in text_indexes:
        for m in _TOKEN.finditer(line, table.spans[index][0]):
            if m.start() >= stop:
                break
            if m.end() > stop and m.end() <= next_end:  # a number running into the column
                return m.start()
    return stop


def _uncut(name: str | None) -> str | None:
    """A name without the ellipsis a narrow console put in place of its end."""
    if name is None:
        return None
    for mark in _ELLIPSES:
        if name.endswith(mark):
            return name[: -len(mark)].rstrip() or None
    return name


def _numeric_cells(line: str, table: Table, columns: list[tuple[int, tuple[str, float | None]]]
                   ) -> dict[str, str]:
    """Cells of the columns that are not text: each token belongs to the column whose underline
    it overlaps most (a value wider than its header overflows left if right-aligned, right if
    left-aligned, as Get-CimInstance prints numbers), else to the first one ending after it."""
    cells: dict[str, str] = {}
    spans = [(table.spans[i], field) for i, (field, _) in columns]
    for m in _TOKEN.finditer(line):
        start, end = m.span()
        best, field_of = 0, None
        for (a, b), field in spans:
            overlap = min(b, end) - max(a, start)
            if overlap > best:
                best, field_of = overlap, field
        if field_of is None:
            field_of = next((field for (_, b), field in spans if end <= b), None)
        if field_of:
            cells[field_of] = m.group()
    return cells


def _values(cells: dict[str, str], factors: dict[str, float]
            ) -> tuple[float | None, int | None, int | None, int | None] | None:
    """CPU(s), WS, VM and SI of a row, in the culture's digit grouping (``17,848.02``)."""
    sizes: dict[str, int | None] = {}
    for field in ("rss_kb", "vsz_kb"):
        raw = cells.get(field)
        factor = factors.get(field, 1)
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
