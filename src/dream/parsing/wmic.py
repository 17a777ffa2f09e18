"""``wmic process``: its table (``get Name,ProcessId,...``, ``list brief``) and its ``Key=Value``
list (``list full``, ``get ... /format:list``). Both carry Win32_Process properties, read by the
same mapping as PowerShell's objects (``powershell.from_object``): ExecutablePath and
CommandLine included. (``/format:csv`` is a CSV of the same properties, read as one.)

wmic pads every column to its widest value and left-aligns it, so a table is cut at the
header's word starts; it writes UTF-16 with ``\\r\\r\\n`` line ends, which the decoder and the
line splitter leave as a trailing ``\\r`` stripped here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dream.parsing.model import ProcessRecord
from dream.parsing.powershell import from_object
from dream.parsing.rows import finish
from dream.parsing.values import skip_row

_PROPERTY = re.compile(r"[A-Z][A-Za-z]+")
_ENTRY = re.compile(r"([A-Z][A-Za-z]+)=(.*)")


def is_table_header(line: str) -> bool:
    """A wmic table header: Win32_Process property names only, ProcessId among them."""
    words = line.split()
    return "ProcessId" in words and all(_PROPERTY.fullmatch(word) for word in words)


def is_list(rows: list[str]) -> bool:
    """Whether non-blank ``rows`` begin a ``Key=Value`` listing that has a ProcessId."""
    return bool(rows) and _ENTRY.fullmatch(rows[0].strip()) is not None and any(
        row.startswith("ProcessId=") for row in rows)


def parse_table(lines: Iterable[tuple[int, str]], header: str,
                warnings: list[str]) -> list[ProcessRecord]:
    """The rows under a wmic table header."""
    spans = [(m.group(), m.start()) for m in _PROPERTY.finditer(header)]
    starts = [start for _, start in spans] + [None]
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for lineno, line in lines:
        line = line.rstrip("\r")
        if not line.strip():
            continue
        item = {name: line[start:starts[i + 1]].strip() for i, (name, start) in enumerate(spans)}
        record = from_object(item)
        if record is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "wmic row without a ProcessId")
            continue
        records.append(record)
    return finish(records, warnings, first_bad, "wmic")


def parse_list(lines: Iterable[tuple[int, str]], warnings: list[str]) -> list[ProcessRecord]:
    """``Key=Value`` blocks separated by blank lines."""
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    block: dict[str, str] = {}
    block_line = 0
    for lineno, line in [*lines, (0, "")]:  # a last blank line ends the last block
        line = line.rstrip("\r")
        match = _ENTRY.fullmatch(line.strip()) if line.strip() else None
        if match is not None:
            block_line = block_line or lineno
            block[match.group(1)] = match.group(2).strip()
            continue
        if line.strip():
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "not a wmic Key=Value line")
            continue
        if "ProcessId" in block:
            record = from_object(block)
            if record is not None:
                records.append(record)
            else:
                first_bad = first_bad or block_line
                skip_row(warnings, block_line, "wmic entry with an unreadable ProcessId")
        block, block_line = {}, 0
    return finish(records, warnings, first_bad, "wmic list")
