"""Windows ``tasklist``: fixed-width table (``/v``, ``/nh``), ``/fo csv`` and ``/fo list``.

Columns of the table are cut at the widths of the ``=====`` separator line, never by splitting
on spaces: image names (``Adobe Desktop Service.exe``), statuses (``Not Responding``), users and
window titles contain spaces. Header words vary with the Windows display language, so they are
matched against known translations and otherwise by position (tasklist's column order is fixed).
Table rows go through the C loop (``accel``) when it is built; ``WindowsRows.build`` is the
reference it must agree with.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from unicodedata import east_asian_width

from dream.errors import ParseError
from dream.parsing import accel
from dream.parsing.apps import WINDOWS_SYSTEM_IMAGES, is_system_user, normalize_app
from dream.parsing.model import ProcessRecord
from dream.parsing.rows import FastRows, finish
from dream.parsing.tasklist_words import CPU_TIME, DEFAULT_LAYOUT, HEADER_KEYS, IMAGE, MEM, \
    NOT_AVAILABLE, PID, SERVICES_LAYOUT, SESSION, SESSION_NAME, STATUS, TITLE, USER, \
    VERBOSE_LAYOUT
from dream.parsing.values import csv_rows, duration_seconds, iter_line_chunks, memory_kb, skip_row, to_int

SEPARATOR = re.compile(r"^=+(?: =+)*\s*$")
# Column starts of tasklist's English layout, for /nh output (no header, no separator).
_NH_STARTS = (0, 26, 35, 52, 64, 77, 93, 144, 157)
_NH_ROW = re.compile(r"^.{25} [ \d]{7}\d \S")


def is_list(rows: list[str]) -> bool:
    """Whether the first two non-blank lines begin a ``/fo list`` entry: ``Image Name: x`` in a
    known language, or any key followed by ``PID: <number>`` (the one word no language changes)."""
    keys = [row.partition(":") for row in rows[:2]]
    if not keys or not keys[0][1]:
        return False
    if HEADER_KEYS.get(keys[0][0].strip().lower()) == IMAGE:
        return True
    return len(keys) == 2 and keys[1][0].strip().upper() == "PID" and keys[1][2].strip().isdigit()


def layout_for(headers: list[str]) -> tuple[str, ...] | None:
    """Canonical keys of a header row, by translation or else by tasklist's fixed order."""
    keys = tuple(HEADER_KEYS.get(h.strip().rstrip(":").strip().lower(), "") for h in headers)
    if all(keys) and PID in keys and IMAGE in keys:
        return keys
    return {5: DEFAULT_LAYOUT, 9: VERBOSE_LAYOUT, 3: SERVICES_LAYOUT}.get(len(headers))


def format_name(layout: tuple[str, ...]) -> str:
    return "tasklist-verbose" if STATUS in layout or USER in layout else "tasklist"


class WindowsRows:
    """Turns cells into ProcessRecords, memoising per-image and per-user derivations."""

    def __init__(self, layout: tuple[str, ...]) -> None:
        self.layout = layout
        self.index = {key: layout.index(key) if key in layout else -1 for key in VERBOSE_LAYOUT}
        self.apps: dict[str, tuple[str, bool]] = {}
        self.users: dict[str, tuple[str | None, bool]] = {}
        self.times: dict[str, float | None] = {}
        self.texts: dict[str, str] = {}

    def _app(self, image: str) -> tuple[str, bool]:
        info = self.apps.get(image)
        if info is None:
            info = self.apps[image] = (normalize_app(image), image.lower() in WINDOWS_SYSTEM_IMAGES)
        return info

    def _user(self, user: str) -> tuple[str | None, bool]:
        info = self.users.get(user)
        if info is None:
            value = None if user in NOT_AVAILABLE else user
            info = self.users[user] = (value, is_system_user(value, "windows"))
        return info

    # What the C loop asks (once per distinct text) for the fields ``build`` derives.
    def image(self, image: str) -> tuple[str | None, str | None, bool]:
        app, system = self._app(image)
        return image or None, app or None, system

    def session_name(self, text: str) -> tuple[str, bool]:
        name = self.texts.setdefault(text, text)
        return name, name.lower() == "services"

    def time(self, text: str) -> float | None:
        return self.times[text] if text in self.times else self.times.setdefault(
            text, duration_seconds(text))

    @staticmethod
    def title(text: str) -> str | None:
        return None if text in NOT_AVAILABLE else text

    def fast(self, starts: list[int]) -> FastRows | None:
        """The C loop for table rows cut at ``starts``, if it was built."""
        speedups = accel.SPEEDUPS
        if speedups is None or not 0 < len(starts) <= 16:
            return None
        bounds = tuple(zip(starts, [*starts[1:], -1], strict=True))
        index = tuple(self.index[key] for key in VERBOSE_LAYOUT)
        memo = (self.image, self.session_name, self.texts.setdefault, self._user, self.time,
                self.title)

        def fast(lines: list[str], position: int, out: list[ProcessRecord]) -> int:
            return int(speedups.tasklist_rows(lines, position, out, bounds, index, *memo))

        return fast

    def build(self, cells: list[str] | tuple[str, ...]) -> ProcessRecord | None:
        """One record from stripped cells in layout order, or ``None`` if the PID is not a number."""
        index = self.index
        try:
            pid = int(cells[index[PID]])
        except (ValueError, IndexError):
            return None
        if pid < 0:
            return None
        count = len(cells)
        image = cells[index[IMAGE]] if 0 <= index[IMAGE] < count else ""
        app, system = self._app(image)
        intern = self.texts.setdefault
        session_name = session = mem = status = user = cpu = title = None
        i = index[SESSION_NAME]
        if 0 <= i < count and cells[i]:
            session_name = intern(cells[i], cells[i])
            system = system or session_name.lower() == "services"
        i = index[SESSION]
        if 0 <= i < count:
            session = to_int(cells[i])
            system = system or session == 0
        i = index[MEM]
        if 0 <= i < count:
            mem = memory_kb(cells[i])
        i = index[STATUS]
        if 0 <= i < count and cells[i]:
            status = intern(cells[i], cells[i])
        i = index[USER]
        if 0 <= i < count:
            user, user_system = self._user(cells[i])
            system = system or user_system
        i = index[CPU_TIME]
        if 0 <= i < count:
            text = cells[i]
            cpu = self.times[text] if text in self.times else self.times.setdefault(
                text, duration_seconds(text))
        i = index[TITLE]
        if 0 <= i < count and cells[i] not in NOT_AVAILABLE:
            title = cells[i]
        return ProcessRecord(
            pid, None, user, image or None, None, app or None, system, None, None, mem, None,
            None, None, None, cpu, None, session, session_name, status, title)


_WIDE_PAD = "\0"


def _as_displayed(line: str) -> str:
    """``line`` with a pad after each double-width character (CJK, fullwidth), so that character
    offsets are the console's columns, which tasklist aligns its table to (the C loop leaves
    such lines here)."""
    if line.isascii() or not any(east_asian_width(c) in ("W", "F") for c in line):
        return line
    return "".join(c + _WIDE_PAD if east_asian_width(c) in ("W", "F") else c for c in line)


def _cutter(starts: list[int]) -> Callable[[str], tuple[str, ...]]:
    """Cuts a line at the column ``starts`` (the last column runs to the end of the line);
    tasklist has 3, 5 or 9 columns, so ``itemgetter`` always gives a tuple."""
    return itemgetter(*(slice(a, b) for a, b in zip(starts, starts[1:] + [None], strict=False)))


def _displayed_cells(line: str, cut: Callable[[str], tuple[str, ...]]) -> list[str]:
    """A line's stripped cells, cut at the console columns the table is aligned to."""
    shown = line if line.isascii() else _as_displayed(line)
    if shown is line:
        return [cell.strip() for cell in cut(line)]
    return [cell.replace(_WIDE_PAD, "").strip() for cell in cut(shown)]


def parse_table(text: str, start: int, first_lineno: int, header: str | None,
                separator: str | None, warnings: list[str]) -> tuple[str, list[ProcessRecord]]:
    """The default table from offset ``start`` (line ``first_lineno``) of ``text``.

    With no separator (``/nh``) tasklist's English column widths apply.
    """
    rows: WindowsRows | None = None
    starts: list[int] = []
    layout: tuple[str, ...] = ()
    fast: FastRows | None = None
    cut: Callable[[str], tuple[str, ...]] | None = None
    if separator is not None:
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", separator)]
        starts = [start for start, _ in spans]
        cut = _cutter(starts)
        headers = _displayed_cells(header, cut) if header else []
        found = layout_for(headers) if header else None
        if found is None or len(found) != len(starts):
            found = {5: DEFAULT_LAYOUT, 9: VERBOSE_LAYOUT, 3: SERVICES_LAYOUT}.get(len(starts))
        if found is None:
            raise ParseError(f"tasklist separator has {len(starts)} columns; expected 3, 5 or 9")
        layout = found
        rows = WindowsRows(layout)
        fast = rows.fast(starts)
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for index, lines in iter_line_chunks(text, start):
        position = 0
        while position < len(lines):
            if fast is not None:  # the C loop stops at lines it leaves to the code below
                position = fast(lines, position, records)
                if position == len(lines):
                    break
            line = lines[position]
            lineno = first_lineno + index + position
            position += 1
            if not line.strip():
                continue
            if rows is None:  # /nh: the first row tells the default from the verbose layout
                verbose = len(line) > 80 and line[77:].strip() != ""
                starts = list(_NH_STARTS[:9 if verbose else 5])
                layout = VERBOSE_LAYOUT if verbose else DEFAULT_LAYOUT
                rows = WindowsRows(layout)
            if cut is None:
                cut = _cutter(starts)
            if layout == SERVICES_LAYOUT and not line[:starts[-1]].strip():
                continue  # /svc, /m: the services or modules of the row above, wrapped
            if separator is None and not _NH_ROW.match(line):
                record = None
            else:
                record = rows.build(_displayed_cells(line, cut))
            if record is None:
                first_bad = first_bad or lineno
                skip_row(warnings, lineno, "malformed tasklist row")
                continue
            records.append(record)
    return format_name(layout), finish(records, warnings, first_bad, "tasklist")


def parse_csv(lines: Iterable[tuple[int, str]], warnings: list[str]) -> tuple[str, list[ProcessRecord]]:
    """``/fo csv``: a header row unless ``/nh`` (then the first cell of data is not a PID header)."""
    current = [0]  # line number of the last line the csv reader consumed

    def source() -> Iterator[str]:
        for lineno, line in lines:
            if line.strip():
                current[0] = lineno
                yield line

    reader = csv.reader(source())
    rows: WindowsRows | None = None
    layout: tuple[str, ...] = ()
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for cells in csv_rows(reader, current, warnings):
        lineno = current[0]
        if rows is None:
            if len(cells) > 1 and to_int(cells[1].strip()) is None:
                layout = layout_for(cells) or ()
                if not layout:
                    raise ParseError("CSV header is not a tasklist header", line=lineno)
                rows = WindowsRows(layout)
                continue
            layout = {5: DEFAULT_LAYOUT, 9: VERBOSE_LAYOUT, 3: SERVICES_LAYOUT}.get(len(cells), ())
            if not layout:
                raise ParseError("CSV row does not have tasklist's 3, 5 or 9 columns", line=lineno)
            rows = WindowsRows(layout)
        record = rows.build([c.strip() for c in cells]) if len(cells) == len(layout) else None
        if record is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, f"malformed tasklist CSV row ({len(cells)} fields)")
            continue
        records.append(record)
    if rows is None:
        raise ParseError("empty tasklist CSV")
    return format_name(layout), finish(records, warnings, first_bad, "tasklist CSV")


def parse_list(lines: Iterable[tuple[int, str]], warnings: list[str]) -> tuple[str, list[ProcessRecord]]:
    """``/fo list``: ``Key: value`` blocks separated by blank lines."""
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    block: list[tuple[str, str]] = []
    block_line = 0
    verbose = False

    def flush() -> None:
        nonlocal first_bad, verbose
        if not block:
            return
        keys = tuple(HEADER_KEYS.get(k.lower(), "") for k, _ in block)
        layout = keys if all(keys) and PID in keys else {
            5: DEFAULT_LAYOUT, 9: VERBOSE_LAYOUT, 3: SERVICES_LAYOUT}.get(len(block), ())
        record = WindowsRows(layout).build([v for _, v in block]) if layout else None
        if record is None:
            first_bad = first_bad or block_line
            skip_row(warnings, block_line, "malformed tasklist /fo list entry")
        else:
            verbose = verbose or STATUS in layout
            records.append(record)
        block.clear()

    first_key: str | None = None
    for lineno, line in lines:
        if not line.strip():
            flush()
            continue
        key, colon, value = line.partition(":")
        if not colon:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, "malformed tasklist row")
            continue
        key = key.strip()
        if first_key is None:
            first_key = key
        elif key == first_key:
            flush()
        if not block:
            block_line = lineno
        block.append((key, value.strip()))
    flush()
    return ("tasklist-list", finish(records, warnings, first_bad, "tasklist list"))
