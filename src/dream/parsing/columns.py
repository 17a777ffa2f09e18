"""Any ``ps -o`` column list, other ``ps`` layouts (``-l``, ``-L``, BSD) and ``top -b``: the
header names the columns, their spans cut the rows (values with spaces: command, comm, lstart),
rows per thread fold into their process. The hand-tuned ``aux``/``-ef`` loops are in ps.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from dream.parsing.apps import normalize_app, strip_forest
from dream.parsing.model import ProcessRecord
from dream.parsing.rows import NO_TTY, RowBuilder, finish
from dream.parsing.values import size_kb, skip_row, to_float

# Header (as ps/top print it, upper-cased) -> ProcessRecord field, or a pseudo field:
# "lwp" (thread id, folded away), "name" (comm), "" (known but not kept).
HEADER_FIELDS: dict[str, str] = {
    "PID": "pid", "PPID": "ppid", "USER": "user", "UID": "user", "RUSER": "user",
    "EUSER": "user", "UNAME": "user", "OWNER": "user", "%CPU": "cpu_percent", "PCPU": "cpu_percent",
    "%MEM": "mem_percent", "PMEM": "mem_percent", "VSZ": "vsz_kb", "VSIZE": "vsz_kb",
    "VIRT": "vsz_kb", "RSS": "rss_kb", "RSZ": "rss_kb", "RES": "rss_kb", "STAT": "state",
    "S": "state", "STATE": "state", "TTY": "tty", "TT": "tty", "TNAME": "tty", "START": "started",
    "STARTED": "started", "STIME": "started", "LSTART": "started", "TIME": "cpu_seconds",
    "CPUTIME": "cpu_seconds", "TIME+": "cpu_seconds", "NLWP": "threads", "THCNT": "threads",
    "LWP": "lwp", "SPID": "lwp", "TID": "lwp", "COMMAND": "command", "CMD": "command",
    "ARGS": "command", "COMM": "name", "UCOMM": "name", "UCMD": "name",
    "C": "", "CP": "", "PRI": "", "PR": "", "NI": "", "ADDR": "", "SZ": "", "WCHAN": "", "F": "",
    "PSR": "", "ELAPSED": "", "ETIME": "", "ETIMES": "", "PGID": "", "PGRP": "", "SID": "",
    "SESS": "", "TPGID": "", "LABEL": "", "CLS": "", "RTPRIO": "", "SHR": "", "FLAGS": "",
    "UTIME": "", "STIME+": "", "RUID": "", "EUID": "", "GID": "", "GROUP": "", "RGROUP": "",
    "SWAP": "", "DATA": "", "CODE": "", "USED": "", "%CUU": "", "MAJFL": "", "MINFL": "",
    "TRS": "", "DRS": "", "NWCHAN": "", "POL": "", "SCH": "", "PRIORITY": "", "CGROUP": "",
    # top's fields beyond its default set (`f` in top, or a toprc): kept only where they map.
    "NTH": "threads", "P": "", "CGROUPS": "", "CGNAME": "", "ENVIRON": "",
    "SUPGIDS": "", "SUPGRPS": "", "TGID": "", "NMAJ": "", "NMIN": "", "NDRT": "", "VMJ": "",
    "VMN": "", "OOMA": "", "OOMS": "", "NU": "", "LXC": "", "RSAN": "", "RSFD": "", "RSLK": "",
    "RSSH": "", "SUID": "", "SUSER": "", "%CUC": "", "AGID": "", "AGNI": "", "LOGID": "",
    "EXE": "", "NSIPC": "", "NSMNT": "", "NSNET": "", "NSPID": "", "NSUSER": "", "NSUTS": "",
    "NSCGROUP": "", "NSTIME": "",
}
# Columns Dream does not keep whose values may hold spaces (top's environment, cgroup names).
_SPACED_IGNORED = frozenset({"ENVIRON", "CGNAME"})
# `ps -o` keywords -> field, used when the caller passes the command line as a hint.
KEYWORD_FIELDS: dict[str, str] = {
    "pid": "pid", "ppid": "ppid", "user": "user", "uname": "user", "euser": "user",
    "ruser": "user", "uid": "user", "%cpu": "cpu_percent", "pcpu": "cpu_percent",
    "%mem": "mem_percent", "pmem": "mem_percent", "vsz": "vsz_kb", "vsize": "vsz_kb",
    "rss": "rss_kb", "rsz": "rss_kb", "rssize": "rss_kb", "stat": "state", "s": "state",
    "state": "state", "tty": "tty", "tt": "tty", "tname": "tty", "start": "started",
    "stime": "started", "lstart": "started", "bsdstart": "started", "start_time": "started",
    "time": "cpu_seconds", "cputime": "cpu_seconds", "nlwp": "threads", "thcount": "threads",
    "lwp": "lwp", "spid": "lwp", "tid": "lwp", "args": "command", "command": "command",
    "cmd": "command", "comm": "name", "ucomm": "name", "ucmd": "name",
}
# Fields whose values may contain spaces; everything else is one whitespace-free token.
_SPACED_FIELDS = frozenset({"command", "name"})
_WEEKDAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})


class Column:
    """One header column: the field it feeds, its header span, how many tokens its values take."""

    __slots__ = ("field", "header", "start", "end", "spaced")

    def __init__(self, field: str, header: str, start: int, end: int) -> None:
        self.field = field
        self.header = header
        self.start = start
        self.end = end
        self.spaced = field in _SPACED_FIELDS or header in _SPACED_IGNORED

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Column({self.field!r}, {self.header!r}, {self.start}, {self.end})"


_TOKEN = re.compile(r"\S+")


def header_columns(header: str, keywords: list[str] | None = None, top: bool = False,
                   lenient: bool = False) -> list[Column] | None:
    """Columns of a ps/top header; ``None`` if any header word is not a known ps column, unless
    ``lenient``: then an unknown column is cut like the others and ignored.

    ``keywords`` (from a ``-o`` list in the command hint) disambiguate ``COMMAND``, which ps
    prints for both ``comm`` and ``args``.
    """
    spans = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(header)]
    if not spans:
        return None
    columns: list[Column] = []
    use_keywords = keywords is not None and len(keywords) == len(spans)
    for position, (word, start, end) in enumerate(spans):
        if use_keywords:
            assert keywords is not None
            field = KEYWORD_FIELDS.get(keywords[position].split(":", 1)[0].split("=", 1)[0], "")
            if keywords[position].startswith("lstart"):
                field = "started"
        else:
            upper = word.upper()
            if upper not in HEADER_FIELDS and not lenient:
                return None
            field = HEADER_FIELDS.get(upper, "")
        columns.append(Column(field, word.upper(), start, end))
    if not use_keywords:
        headers = {c.header for c in columns}
        if {"F", "WCHAN"} <= headers and "STIME" not in headers:  # `ps -l`: CMD is comm
            for column in columns:
                if column.header == "CMD":
                    column.field = "name"
        commands = [c for c in columns if c.field == "command"]
        if top:  # top's COMMAND is the program name unless run with -c
            for column in commands:
                column.field = "name"
                column.spaced = True
        elif len(commands) > 1:  # `-o comm,args`: the earlier COMMAND is comm
            for column in commands[:-1]:
                column.field = "name"
    return columns


def ps_columns(header: str, keywords: list[str] | None = None) -> list[Column] | None:
    """A ps header's columns: every word known, or else a PID column and at least two more
    known ones beside words this version has never seen (a newer procps, a platform's own)."""
    columns = header_columns(header, keywords)
    if columns is not None or "PID" not in header.upper().split():
        return columns
    columns = header_columns(header, keywords, lenient=True)
    known = [c for c in columns or () if c.header in HEADER_FIELDS]
    return columns if len(known) >= 3 else None


def keywords_from_command(command: str | None) -> list[str] | None:
    """The ``-o``/``-eo``/``axo`` keyword list of a ps command line, or ``None``."""
    if not command:
        return None
    words = command.split()
    keywords: list[str] = []
    for i, word in enumerate(words):
        if word in ("-o", "o", "-eo", "axo", "-axo", "--format", "-O") or (
            word.startswith("-") and word.endswith("o") and not word.startswith("--")
            and word[1:].isalpha() and len(word) <= 5
        ):
            if i + 1 < len(words):
                keywords.extend(k for k in words[i + 1].split(",") if k)
        elif word.startswith("--format="):
            keywords.extend(k for k in word.split("=", 1)[1].split(",") if k)
        elif word.startswith("-o") and len(word) > 2 and "," in word:
            keywords.extend(k for k in word[2:].split(",") if k)
    return [k.lower() for k in keywords] or None


def is_simple(columns: list[Column]) -> bool:
    """Whether rows split on whitespace alone: no lstart and no spaced column before the last."""
    return not any(c.header == "STARTED" and c.field == "started" for c in columns) and not any(
        c.spaced for c in columns[:-1])


def _split_row(line: str, columns: list[Column], simple: bool) -> list[str] | None:
    """Cut one data line into one string per column, or ``None`` if it does not fit."""
    last = len(columns) - 1
    if simple:
        if columns[last].spaced:
            parts = line.split(None, last)
            if len(parts) == last + 1:
                return parts
            if len(parts) == last and last:  # empty trailing COMMAND
                return parts + [""]
            return None
        parts = line.split()
        return parts if len(parts) == len(columns) else None
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(line)]
    values: list[str] = []
    t = 0
    for index, column in enumerate(columns):
        if t >= len(tokens):
            return None
        start = tokens[t][0]
        if index == last and column.spaced:
            values.append(line[start:].rstrip("\r"))
            t = len(tokens)
            break
        if column.header == "STARTED" and line[tokens[t][0]:tokens[t][1]] in _WEEKDAYS:
            if t + 5 > len(tokens):
                return None
            values.append(line[start:tokens[t + 4][1]])  # lstart: "Sat Nov 28 06:03:03 2026"
            t += 5
            continue
        if column.spaced:
            following = columns[index + 1:]
            if any(c.spaced for c in following):
                boundary = columns[index + 1].start
                stop = t + 1
                while stop < len(tokens) and tokens[stop][0] < boundary:
                    stop += 1
            else:
                stop = len(tokens) - len(following)
                if stop <= t:
                    return None
            values.append(line[start:tokens[stop - 1][1]])
            t = stop
            continue
        values.append(line[start:tokens[t][1]])
        t += 1
    if len(values) != len(columns) or t != len(tokens):
        return None
    return values


def _converters() -> dict[str, Callable[[str], object]]:
    return {
        "pid": int, "ppid": int, "lwp": int, "threads": int, "cpu_percent": to_float,
        "mem_percent": to_float, "rss_kb": size_kb, "vsz_kb": size_kb,
    }


_REQUIRED_NUMBERS = frozenset({"pid", "ppid", "lwp", "threads", "cpu_percent", "mem_percent",
                               "rss_kb", "vsz_kb"})


def parse_columns(lines: Iterable[tuple[int, str]], columns: list[Column], os: str | None,
                  warnings: list[str], what: str) -> list[ProcessRecord]:
    """Any ps/top column layout; rows per thread (LWP/SPID) fold into one process."""
    build = RowBuilder(os)
    convert = _converters()
    records: list[ProcessRecord] = []
    first_bad: int | None = None
    plan = [(i, c.field) for i, c in enumerate(columns) if c.field]
    threaded = any(c.field == "lwp" for c in columns)
    by_pid: dict[int, ProcessRecord] = {}
    counted: set[int] = set()  # processes whose thread count is the number of their rows
    simple = is_simple(columns)
    for lineno, line in lines:
        if not line.strip():
            continue
        values = _split_row(line, columns, simple)
        record = _record(values, plan, convert, build) if values is not None else None
        if record is None:
            first_bad = first_bad or lineno
            skip_row(warnings, lineno, f"malformed row (does not match the {what} columns)")
            continue
        if threaded and record.pid is not None:
            seen = by_pid.get(record.pid)
            if seen is not None:
                _fold_thread(seen, record, record.pid in counted)
                continue
            by_pid[record.pid] = record
            if record.threads is None:
                record.threads = 1
                counted.add(record.pid)
        records.append(record)
    return finish(records, warnings, first_bad, what)


def _fold_thread(process: ProcessRecord, thread: ProcessRecord, count: bool) -> None:
    """Add one more thread row of an already-seen process to it."""
    if count and process.threads is not None:
        process.threads += 1
    if thread.cpu_seconds is not None and process.cpu_seconds is not None:
        process.cpu_seconds += thread.cpu_seconds
    if thread.cpu_percent is not None and process.cpu_percent is not None:
        process.cpu_percent = round(process.cpu_percent + thread.cpu_percent, 1)


def _record(values: list[str], plan: list[tuple[int, str]],
            convert: dict[str, Callable[[str], object]], build: RowBuilder) -> ProcessRecord | None:
    data: dict[str, object] = {}
    for index, field in plan:
        raw = values[index]
        if field in convert:
            try:
                value = convert[field](raw)
            except ValueError:
                return None
            if value is None:
                if raw in ("-", ""):
                    continue
                return None
            data[field] = value
        elif field == "cpu_seconds":
            data[field] = build.time(raw)
        elif field == "tty":
            data[field] = None if raw in NO_TTY else raw
        elif field in ("command", "name") and raw[:1] in ("|", "\\"):
            data[field] = strip_forest(raw)  # `ps axjf`: the tree art is not the program
        else:
            data[field] = raw
    if "pid" not in data and "command" not in data and "name" not in data:
        return None
    data.pop("lwp", None)
    record = ProcessRecord(**data)  # type: ignore[arg-type]
    _derive(record, build)
    return record


def _derive(record: ProcessRecord, build: RowBuilder) -> None:
    """Fill name/app/is_system from command, name (comm) and user."""
    system = False
    if record.command:
        name, app, system = build.command(record.command)
        if record.name is None:
            record.name = name
        record.app = app
    if record.name is not None and not record.command:  # comm: a name, spaces and all
        record.app = normalize_app(record.name)
    if record.user is not None:
        system = system or build.user(record.user)[1]
    record.is_system = system
