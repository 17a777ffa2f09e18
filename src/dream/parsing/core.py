"""``parse``: decode, pick a format (forced, hinted by the command line, or detected), dispatch."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

from dream.catalog import Catalog
from dream.errors import ParseError
from dream.parsing import powershell, ps, pstable, tasklist, wmic
from dream.parsing.columns import KEYWORD_FIELDS, Column, header_columns, keywords_from_command, \
    parse_columns, ps_columns
from dream.parsing.detect import FORMATS, Line, detect, find_top_header, format_from_command, \
    head, nonblank, os_from_records, ps_kind
from dream.parsing.apps import name_products
from dream.parsing.model import Notes, ProcessRecord, ParseResult
from dream.parsing.values import numbered
from dream.text import decode_output

OS_NAMES = {"linux": "linux", "windows": "windows", "win32": "windows", "win": "windows",
            "macos": "macos", "darwin": "macos", "osx": "macos", "mac": "macos"}

Parsed = tuple[str, str | None, list[ProcessRecord]]  # format, detected os, records
MAX_SKIPPED_SHARE = 0.5  # more rows than this unreadable: the listing fails


def parse(text: str | bytes, os: str | None = None, command: str | None = None,
          format: str | None = None, catalog: Catalog | None = None) -> ParseResult:
    """Parse one process listing; raises only ``ParseError``.

    ``os`` and ``command`` are hints (``command`` picks the format first when it names a known
    tool); ``format`` forces one of ``FORMATS``. A row that cannot be read is skipped, warned
    about and listed in ``ParseResult.skipped``; when more than ``MAX_SKIPPED_SHARE`` of the
    rows are, the listing fails. Each process's ``app`` is its executable's name or, given a
    ``catalog``, its product's id where the catalog knows it (``apps.name_products``): what the
    worker stores. Without one the parsers' own reading shows (their tests, ``dream parse``).
    """
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise ParseError(f"expected str or bytes, got {type(text).__name__}")
    if os is not None and (not isinstance(os, str) or os.lower() not in OS_NAMES):
        raise ParseError(f"unknown os {os!r}; expected one of linux, windows, macos")
    if format is not None and format not in FORMATS:
        raise ParseError(f"unknown format {format!r}; supported: {', '.join(FORMATS)}")
    os_hint = OS_NAMES[os.lower()] if os is not None else None
    # Parsing allocates millions of small objects that are all still alive at the end; letting
    # the cyclic GC rescan them repeatedly costs ~30% of the time and frees nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = _parse(text, os_hint, command if isinstance(command, str) else None, format)
        if catalog is not None:
            name_products(result.processes, result.os, catalog)
        return result
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError("input nests too deeply to parse") from exc
    except Exception as exc:  # the contract: callers only ever see ParseError
        raise ParseError(f"internal error while parsing ({type(exc).__name__}: {exc})") from exc
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse(data: str | bytes, os: str | None, command: str | None, forced: str | None) -> ParseResult:
    text = decode_output(bytes(data) if isinstance(data, (bytearray, memoryview)) else data)
    if not text or text.isspace():  # (text.strip() would copy a listing of any size)
        raise ParseError("empty input: no process listing to parse")
    lines = head(text)
    candidates: list[str] = []
    failures: list[ParseError] = []
    for name in _candidates(lines, command, forced):
        candidates.append(name)
        warnings = Notes()
        try:
            fmt, detected_os, records = _PARSERS[name](text, lines, os, command, warnings)
            _check_skipped(records, warnings)
        except ParseError as exc:
            failures.append(exc)
            continue
        return ParseResult(fmt, os or detected_os, records, list(warnings), warnings.skipped)
    if not candidates:
        raise ParseError(
            "unrecognised process listing; tried formats: " + ", ".join(FORMATS),
            line=nonblank(lines)[0].number,
        )
    first = failures[0]
    if len(candidates) > 1:
        tried = "; ".join(f"{n}: {e}" for n, e in zip(candidates, failures, strict=False))
        raise ParseError(f"could not parse as {' or '.join(candidates)} ({tried})", line=first.line)
    raise first


def _candidates(lines: list[Line], command: str | None, forced: str | None) -> Iterator[str]:
    """The formats to try, in order: the one forced; else the one the command produces, then
    the one the head looks like. Detection runs only if the command's format did not parse
    (most listings come with their command: ~30 µs a listing saved)."""
    if forced is not None:
        yield forced
        return
    named = format_from_command(command)
    if named is not None:
        yield named
    detected = detect(lines)
    if detected is not None and detected != named:
        yield detected


def _check_skipped(records: list[ProcessRecord], notes: Notes) -> None:
    """A listing most of whose rows cannot be read is not that format, or is damaged: it fails
    whole (its raw output kept by the caller) rather than being stored half."""
    skipped = len(notes.skipped)
    if skipped > MAX_SKIPPED_SHARE * (skipped + len(records)):
        raise ParseError(f"{skipped} of {skipped + len(records)} rows could not be read "
                         f"(first: {notes.skipped[0].reason})", line=notes.skipped[0].line)


def _ps_aux(text: str, lines: list[Line], os: str | None, command: str | None,
            warnings: list[str]) -> Parsed:
    first = nonblank(lines)[0]
    if ps_kind(first.text) == "ps-aux":
        detected = "macos" if "STARTED" in first.text.split() else "linux"
        records = ps.parse_aux(text, first.next_offset, first.number, os or detected, warnings)
        return "ps-aux", detected, records
    if len(first.text.split(None, 10)) == 11 and first.text.split()[1].isdigit():  # `ps auxh`
        start = first.next_offset - len(first.text) - 1
        records = ps.parse_aux(text, max(start, 0), first.number - 1, os, warnings)
        return "ps-aux", os_from_records(records), records
    raise ParseError("not a ps aux header (USER PID %CPU %MEM VSZ RSS TTY STAT START TIME "
                     "COMMAND)", line=first.number)


def _ps_ef(text: str, lines: list[Line], os: str | None, command: str | None,
           warnings: list[str]) -> Parsed:
    first = nonblank(lines)[0]
    if ps_kind(first.text) != "ps-ef":
        return _ps_custom(text, lines, os, command, warnings)
    detected = "macos" if first.text[:1].isspace() else "linux"  # BSD right-aligns numeric UID
    records = ps.parse_ef(text, first.next_offset, first.number, os or detected, warnings)
    return "ps-ef", detected, records


def _ps_custom(text: str, lines: list[Line], os: str | None, command: str | None,
               warnings: list[str]) -> Parsed:
    first = nonblank(lines)[0]
    keywords = keywords_from_command(command)
    columns = ps_columns(first.text, keywords)
    if columns is not None:
        start, lineno = first.next_offset, first.number + 1
    elif keywords:  # --no-headers: the -o list is the layout
        columns = [Column(KEYWORD_FIELDS.get(k.split(":")[0], ""),
                          "STARTED" if k.startswith("lstart") else k.upper(), 0, 0)
                   for k in keywords]
        start, lineno = 0, 1
    else:
        raise ParseError("not a ps header: unknown column name", line=first.number)
    kind = ps_kind(first.text)
    if kind in ("ps-aux", "ps-ef") and keywords is None:
        return (_ps_aux if kind == "ps-aux" else _ps_ef)(text, lines, os, command, warnings)
    records = parse_columns(numbered(text, start, lineno), columns, os, warnings, "ps")
    return "ps-custom", os_from_records(records), records


def _top(text: str, lines: list[Line], os: str | None, command: str | None,
         warnings: list[str]) -> Parsed:
    header = find_top_header(lines)
    if header is None:
        raise ParseError("no top column header (PID USER ... COMMAND) found")
    # top's fields are the user's choice (`f`, toprc): one it has that Dream does not know is
    # cut like the others and ignored.
    columns = header_columns(header.text, top=not (command and " -c" in f" {command}"),
                             lenient=True)
    if columns is None:
        raise ParseError("top header has no columns", line=header.number)
    records = parse_columns(numbered(text, header.next_offset, header.number + 1),
                               columns, os or "linux", warnings, "top")
    return "top", "linux", records


def _tasklist(text: str, lines: list[Line], os: str | None, command: str | None,
              warnings: list[str]) -> Parsed:
    rows = nonblank(lines)
    if len(rows) > 1 and tasklist.SEPARATOR.match(rows[1].text.strip()):
        header, separator = rows[0], rows[1]
        fmt, records = tasklist.parse_table(text, separator.next_offset, separator.number + 1,
                                            header.text, separator.text, warnings)
    elif tasklist.SEPARATOR.match(rows[0].text.strip()):
        fmt, records = tasklist.parse_table(text, rows[0].next_offset, rows[0].number + 1, None,
                                            rows[0].text, warnings)
    else:
        fmt, records = tasklist.parse_table(text, 0, 1, None, None, warnings)
    return fmt, "windows", records


def _tasklist_csv(text: str, lines: list[Line], os: str | None, command: str | None,
                  warnings: list[str]) -> Parsed:
    _, records = tasklist.parse_csv(numbered(text, 0, 1), warnings)
    return "tasklist-csv", "windows", records


def _tasklist_list(text: str, lines: list[Line], os: str | None, command: str | None,
                   warnings: list[str]) -> Parsed:
    _, records = tasklist.parse_list(numbered(text, 0, 1), warnings)
    return "tasklist-list", "windows", records


def _get_process(text: str, lines: list[Line], os: str | None, command: str | None,
                 warnings: list[str]) -> Parsed:
    rows = nonblank(lines)
    found = pstable.find_table([row.text for row in rows[:pstable.HEADER_ROWS + 1]])
    if found is None:
        raise ParseError("not a Get-Process table (Handles ... Id ... ProcessName)",
                         line=rows[0].number)
    table, index = found
    underline = rows[index]
    records = pstable.parse_table(numbered(text, underline.next_offset, underline.number + 1),
                                  table, warnings)
    return "get-process", "windows", records


def _get_process_csv(text: str, lines: list[Line], os: str | None, command: str | None,
                     warnings: list[str]) -> Parsed:
    return "get-process-csv", "windows", powershell.parse_csv(numbered(text, 0, 1), warnings)


def _get_process_list(text: str, lines: list[Line], os: str | None, command: str | None,
                      warnings: list[str]) -> Parsed:
    return "get-process-list", "windows", powershell.parse_list(numbered(text, 0, 1), warnings)


def _get_process_json(text: str, lines: list[Line], os: str | None, command: str | None,
                      warnings: list[str]) -> Parsed:
    return "get-process-json", "windows", powershell.parse_json(text, warnings)


def _wmic(text: str, lines: list[Line], os: str | None, command: str | None,
          warnings: list[str]) -> Parsed:
    rows = nonblank(lines)
    if not wmic.is_table_header(rows[0].text):
        raise ParseError("not a wmic process table (ProcessId ... header)", line=rows[0].number)
    records = wmic.parse_table(numbered(text, rows[0].next_offset, rows[0].number + 1),
                               rows[0].text, warnings)
    return "wmic", "windows", records


def _wmic_list(text: str, lines: list[Line], os: str | None, command: str | None,
               warnings: list[str]) -> Parsed:
    return "wmic-list", "windows", wmic.parse_list(numbered(text, 0, 1), warnings)


_PARSERS: dict[str, Callable[[str, list[Line], str | None, str | None, list[str]], Parsed]] = {
    "ps-aux": _ps_aux, "ps-ef": _ps_ef, "ps-custom": _ps_custom, "top": _top,
    "tasklist": _tasklist, "tasklist-verbose": _tasklist, "tasklist-csv": _tasklist_csv,
    "tasklist-list": _tasklist_list, "get-process": _get_process,
    "get-process-csv": _get_process_csv, "get-process-json": _get_process_json,
    "get-process-list": _get_process_list, "wmic": _wmic, "wmic-list": _wmic_list,
}
