"""Which tool printed this? Decided from the first lines only, so detection is O(1) in size."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from dream.parsing import ps, tasklist, wmic
from dream.parsing.columns import keywords_from_command, ps_columns
from dream.parsing.model import ProcessRecord
from dream.parsing.powershell import is_list
from dream.parsing.pstable import HEADER_ROWS, find_table
from dream.parsing.values import csv_delimiter

FORMATS: tuple[str, ...] = (
    "ps-aux", "ps-ef", "ps-custom", "top", "tasklist", "tasklist-verbose", "tasklist-csv",
    "tasklist-list", "get-process", "get-process-csv", "get-process-json", "get-process-list",
    "wmic", "wmic-list",
)
_HEAD_LINES = 64


@dataclass(slots=True)
class Line:
    """A line of the head: 1-based number, text without EOL, offset where the next line starts."""

    number: int
    text: str
    next_offset: int


def head(text: str, limit: int = _HEAD_LINES) -> list[Line]:
    """The first ``limit`` lines (blank ones included, numbered as an editor would)."""
    lines: list[Line] = []
    pos = 0
    while pos < len(text) and len(lines) < limit:
        end = text.find("\n", pos)
        nxt = len(text) if end < 0 else end + 1
        line = text[pos: len(text) if end < 0 else end]
        lines.append(Line(len(lines) + 1, line[:-1] if line.endswith("\r") else line, nxt))
        pos = nxt
    return lines


def nonblank(lines: list[Line]) -> list[Line]:
    return [line for line in lines if line.text.strip()]


def format_from_command(command: str | None) -> str | None:
    """The format a command line produces (``tasklist /v /fo csv`` → ``tasklist-csv``)."""
    if not command:
        return None
    lowered = command.lower()
    words = lowered.replace("|", " | ").split()
    if not words:
        return None
    if "tasklist" in lowered:
        fo = re.search(r"[/-]fo\s*:?\s*(\w+)", lowered)
        kind = fo.group(1) if fo else "table"
        if kind == "csv":
            return "tasklist-csv"
        if kind == "list":
            return "tasklist-list"
        return "tasklist-verbose" if re.search(r"(?:^|\s)[/-]v(?:\s|$)", lowered) else "tasklist"
    if "wmic" in words[0]:
        if "/format:csv" in lowered:
            return "get-process-csv"
        return "wmic-list" if "/format:list" in lowered or "list full" in lowered else "wmic"
    if "get-process" in lowered or "win32_process" in lowered or words[0] in ("gps",):
        if "convertto-json" in lowered:
            return "get-process-json"
        if "convertto-csv" in lowered or "export-csv" in lowered:
            return "get-process-csv"
        if "format-list" in lowered or re.search(r"\|\s*fl\b", lowered):
            return "get-process-list"
        return "get-process"
    base = words[0].rsplit("/", 1)[-1]
    if base == "top":
        return "top"
    if base == "ps":
        args = words[1:]
        if keywords_from_command(command):
            return "ps-custom"
        flags = "".join(a.lstrip("-") for a in args if a.startswith("-"))
        bsd = "".join(a for a in args if not a.startswith("-"))
        if {"a", "u", "x"} <= set(bsd) or ("aux" in flags and "-" in "".join(args)):
            return "ps-aux"
        if set(flags) <= {"e", "f", "A"} and "f" in flags:
            return "ps-ef"
        return "ps-custom"
    return None


def detect(lines: list[Line]) -> str | None:
    """The format of a listing from its head, or ``None``."""
    rows = nonblank(lines)
    if not rows:
        return None
    first = rows[0].text.strip()
    second = rows[1].text if len(rows) > 1 else ""
    if first[:1] == "{" or first == "[" or first.startswith(("[{", "[ {", "[\t")):
        return "get-process-json"
    if first.startswith("#TYPE"):
        return "get-process-csv"
    if first.startswith('"'):
        return _csv_kind(first)
    if tasklist.SEPARATOR.match(second.strip()):
        return "tasklist"
    if find_table([row.text for row in rows[:HEADER_ROWS + 1]]) is not None:
        return "get-process"
    if tasklist.is_list([row.text for row in rows[:2]]):
        return "tasklist-list"
    if is_list([row.text for row in rows[:_HEAD_LINES]]):
        return "get-process-list"
    if wmic.is_list([row.text for row in rows[:_HEAD_LINES]]):
        return "wmic-list"
    if wmic.is_table_header(rows[0].text):
        return "wmic"
    if "," in first and "ProcessId" in first.split(","):  # wmic /format:csv
        return "get-process-csv"
    if find_top_header(lines) is not None:
        return "top"
    kind = ps_kind(rows[0].text)
    if kind is not None:
        return kind
    if tasklist._NH_ROW.match(rows[0].text):
        return "tasklist"
    return None


def _csv_kind(line: str) -> str | None:
    try:
        cells = next(csv.reader([line], delimiter=csv_delimiter(line)))
    except (csv.Error, StopIteration):
        return None
    if {"Id", "ProcessName", "ProcessId"} & set(cells):
        return "get-process-csv"
    if tasklist.layout_for(cells) is not None and (
        tasklist.HEADER_KEYS.get(cells[0].strip().lower()) == tasklist.IMAGE
        or (len(cells) > 1 and (cells[1].strip().isdigit() or cells[1].strip().upper() == "PID"))
    ):
        return "tasklist-csv"
    return None


def find_top_header(lines: list[Line]) -> Line | None:
    """top's column header, after its summary block (``top - ...``, ``Tasks:``, ``%Cpu(s):``)."""
    rows = nonblank(lines)
    if not rows:
        return None
    summary = rows[0].text.startswith("top - ") or rows[0].text.lstrip().startswith("Tasks:")
    for line in rows[:12]:
        words = line.text.upper().split()
        if "PID" in words and ("COMMAND" in words or "USER" in words):
            if summary or ({"PR", "NI"} <= set(words) and ("RES" in words or "VIRT" in words)):
                return line
            return None
    return None


def ps_kind(header: str) -> str | None:
    """``ps-aux``, ``ps-ef`` or ``ps-custom`` for a ps header line, else ``None``."""
    words = header.split()
    if len(words) == len(ps.AUX_HEADERS) and all(
        w in allowed for w, allowed in zip(words, ps.AUX_HEADERS, strict=False)):
        return "ps-aux"
    if tuple(words) == ps.EF_HEADERS:
        return "ps-ef"
    columns = ps_columns(header)
    if columns is None:
        return None
    fields = {c.field for c in columns}
    if "pid" in fields or ({"command", "name"} & fields and len(columns) > 1):
        return "ps-custom"
    return None


# What only one OS's processes look like, for ps layouts whose header does not say.
_LINUX_TTY = re.compile(r"^(?:pts/\d+|tty\d+|ttyS\d+)$")
_MACOS_TTY = re.compile(r"^(?:ttys\d{3}|s\d{3}|\?\?|con\d*)$")
_LINUX_PATHS = ("/usr/lib/systemd/", "/lib/systemd/", "/sbin/init", "/usr/sbin/NetworkManager",
                "/snap/", "/proc/")
_MACOS_PATHS = ("/System/Library/", "/Applications/", ".app/Contents/", "/Library/Apple/",
                "/usr/libexec/xpcproxy", "/sbin/launchd")
_SAMPLE = 500


def os_from_records(records: list[ProcessRecord]) -> str | None:
    """``linux`` or ``macos`` when the processes plainly belong to one (kernel threads like
    ``[kthreadd]``, ``pts/0`` terminals, systemd; ``??`` terminals, ``_``-accounts, app bundles)
    and nothing points to the other; else ``None``."""
    linux = macos = 0
    for record in records[:_SAMPLE]:
        tty, command, user = record.tty or "", record.command or record.name or "", record.user or ""
        linux += bool(_LINUX_TTY.match(tty)) + (command.startswith("[") and command.endswith("]"))
        linux += any(path in command for path in _LINUX_PATHS)
        macos += bool(_MACOS_TTY.match(tty)) + (user.startswith("_") and len(user) > 1)
        macos += any(path in command for path in _MACOS_PATHS)
    if linux and not macos:
        return "linux"
    if macos and not linux:
        return "macos"
    return None
