"""procps/BSD ``ps`` tables (``aux``, ``-ef``, any ``-o`` list) and ``top -b`` snapshots.

``ps aux`` and ``ps -ef`` get hand-tuned loops (``str.split`` with ``maxsplit``, memoised
per-command work, positional dataclass construction) because they carry the bulk of the
traffic; every other layout goes through the column-driven ``parse_columns`` (columns.py). When the C
accelerator is built (``accel``), its loops take the common rows and these are the reference
for the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from dream.parsing import accel
from dream.parsing.apps import describe_executable, strip_forest
from dream.parsing.model import ProcessRecord
from dream.parsing.rows import NO_TTY, FastRows, RowBuilder, finish
from dream.parsing.values import finite, iter_line_chunks, skip_row, whole

AUX_HEADERS = (
    ("USER",), ("PID",), ("%CPU",), ("%MEM",), ("VSZ",), ("RSS",), ("TTY", "TT"), ("STAT",),
    ("START", "STARTED"), ("TIME",), ("COMMAND",),
)
EF_HEADERS = ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")


class _SlowPath(Exception):
    """A chunk holds a blank or malformed line: redo it line by line with numbering."""


def _parse_chunked(text: str, body_start: int, header_lineno: int, warnings: list[str],
                   chunk: Callable[[list[str], RowBuilder], list[ProcessRecord]],
                   build: RowBuilder, layout: str, what: str,
                   fast: FastRows | None = None) -> list[ProcessRecord]:
    """Parse ~1 MiB chunks of lines; a bad line is redone alone, numbered, and warned about.

    ``fast`` (the C loop, when built) appends what it can and returns where it stopped; that
    line goes through ``chunk``, the reference, and the C loop resumes after it.
    """
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    for index, lines in iter_line_chunks(text, body_start, 1 << 18):
        if fast is None:
            try:
                records.extend(chunk(lines, build))
                continue
            except _SlowPath:
                pass
        position = 0
        while position < len(lines):
            if fast is not None:
                position = fast(lines, position, records)
                if position == len(lines):
                    break
            line = lines[position]
            if line.strip():
                try:
                    records.extend(chunk([line], build))
                except _SlowPath:
                    lineno = header_lineno + 1 + index + position
                    first_bad = first_bad or lineno
                    skip_row(warnings, lineno, f"malformed row (expected {layout})")
            position += 1
    return finish(records, warnings, first_bad, what)


def _fast_rows(build: RowBuilder, ef: bool) -> FastRows | None:
    """The C loop for ``ps aux`` (or ``-ef``) bound to this parse's memo, if it was built."""
    speedups = accel.SPEEDUPS
    if speedups is None:
        return None
    rows = speedups.ef_rows if ef else speedups.aux_rows
    memo = (build.user, build.texts.setdefault, build.time, build.command, describe_executable)

    def fast(lines: list[str], position: int, out: list[ProcessRecord]) -> int:
        return int(rows(lines, position, out, *memo))

    return fast


def parse_aux(text: str, body_start: int, header_lineno: int, os: str | None,
              warnings: list[str]) -> list[ProcessRecord]:
    """``ps aux``/``axu``/``auxww`` (procps and BSD): 11 columns, COMMAND is the rest of the line."""
    build = RowBuilder(os)
    return _parse_chunked(text, body_start, header_lineno, warnings, _aux_chunk, build,
                          "USER PID %CPU %MEM VSZ RSS TT STAT START TIME COMMAND", "ps aux",
                          _fast_rows(build, ef=False))


def _aux_chunk(lines: list[str], build: RowBuilder) -> list[ProcessRecord]:
    """The hot loop: everything bound to locals, memo dicts hit directly."""
    out: list[ProcessRecord] = []
    append, record, no_tty = out.append, ProcessRecord, NO_TTY
    commands, users, times, cmd_info, user_info, time_of, intern = build.hot_loop()
    try:
        for fields in map(str.split, lines, [None] * len(lines), [10] * len(lines)):
            command = fields[10]
            if command[0] in "|\\":  # a forest child: "\_ cmd" (apps.strip_forest)
                command = strip_forest(command)
            name, app, system = commands.get(command) or cmd_info(command)
            user, user_system = users.get(fields[0]) or user_info(fields[0])
            tty = fields[6]
            cpu_time = fields[9]
            append(record(
                whole(fields[1]), None, user, name, command, app, system or user_system,
                finite(fields[2]), finite(fields[3]), whole(fields[5]), whole(fields[4]),
                intern(fields[7], fields[7]), None if tty in no_tty else intern(tty, tty),
                intern(fields[8], fields[8]),
                times[cpu_time] if cpu_time in times else time_of(cpu_time),
            ))
    except (IndexError, ValueError) as exc:
        raise _SlowPath from exc
    return out


def parse_ef(text: str, body_start: int, header_lineno: int, os: str | None,
             warnings: list[str]) -> list[ProcessRecord]:
    """``ps -ef``: UID PID PPID C STIME TTY TIME CMD (UID is a name on Linux, a number on macOS)."""
    build = RowBuilder(os)
    return _parse_chunked(text, body_start, header_lineno, warnings, _ef_chunk, build,
                          "UID PID PPID C STIME TTY TIME CMD", "ps -ef", _fast_rows(build, ef=True))


def _ef_chunk(lines: list[str], build: RowBuilder) -> list[ProcessRecord]:
    out: list[ProcessRecord] = []
    append, record, no_tty = out.append, ProcessRecord, NO_TTY
    commands, users, times, cmd_info, user_info, time_of, intern = build.hot_loop()
    try:
        for fields in map(str.split, lines, [None] * len(lines), [7] * len(lines)):
            command = fields[7]
            if command[0] in "|\\":  # a forest child: "\_ cmd" (apps.strip_forest)
                command = strip_forest(command)
            name, app, system = commands.get(command) or cmd_info(command)
            user, user_system = users.get(fields[0]) or user_info(fields[0])
            tty = fields[5]
            cpu_time = fields[6]
            whole(fields[3])  # the C column: validates the row shape
            append(record(
                whole(fields[1]), whole(fields[2]), user, name, command, app, system or user_system,
                None, None, None, None, None, None if tty in no_tty else intern(tty, tty),
                intern(fields[4], fields[4]),
                times[cpu_time] if cpu_time in times else time_of(cpu_time),
            ))
    except (IndexError, ValueError) as exc:
        raise _SlowPath from exc
    return out
