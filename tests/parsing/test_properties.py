"""Property tests: arbitrary input never escapes as anything but ParseError; rendered tables
(ps aux, tasklist table with ===== widths, tasklist CSV) parse back to the values rendered."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dream.parsing import FORMATS, ParseError, ParseResult, parse
from dream.parsing.values import grouped_decimal

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def check_contract(data: str | bytes, **hints: str | None) -> None:
    try:
        result = parse(data, **hints)  # type: ignore[arg-type]
    except ParseError as exc:
        assert "internal error" not in str(exc)
        return
    assert isinstance(result, ParseResult) and result.format in FORMATS
    assert result.processes


@SETTINGS
@given(st.text())
def test_any_text(text: str) -> None:
    check_contract(text)


@SETTINGS
@given(st.binary())
def test_any_bytes(data: bytes) -> None:
    check_contract(data)


HEADERS = [
    "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n",
    "Image Name                     PID Session Name        Session#    Mem Usage\n"
    "========================= ======== ================ =========== ============\n",
    '"Image Name","PID","Session Name","Session#","Mem Usage"\n',
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\n"
    "-------  ------    -----      -----     ------     --  -- -----------\n",
    "top - 10:00:00 up 1 day\n\n  PID USER PR NI VIRT RES SHR S %CPU %MEM TIME+ COMMAND\n",
    "UID PID PPID C STIME TTY TIME CMD\n", "Image Name: x\n", "#TYPE x\n", "[", "{",
]


@SETTINGS
@given(st.sampled_from(HEADERS), st.text(), st.sampled_from([None, *FORMATS]),
       st.sampled_from([None, "ps aux", "tasklist /v /fo csv", "ps -eo pid,lstart,comm,args"]))
def test_garbage_after_a_real_header(header: str, body: str, fmt: str | None,
                                     command: str | None) -> None:
    check_contract(header + body, format=fmt, command=command)
    check_contract((header + body).encode("utf-16"), format=fmt, command=command)


users = st.from_regex(r"[a-z_][a-z0-9_-]{0,7}", fullmatch=True)
words = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),
                              blacklist_characters="\x1c\x1d\x1e\x1f\x85"), min_size=1, max_size=12)
ps_rows = st.lists(st.tuples(
    users, st.integers(0, 4_194_304), st.integers(0, 9999), st.integers(0, 999),
    st.integers(0, 10**9), st.integers(0, 10**9), st.sampled_from(["?", "pts/0", "tty1"]),
    st.sampled_from(["S", "Ss", "R+", "Z", "I<", "Sl"]), st.sampled_from(["Nov27", "09:14", "2019"]),
    st.integers(0, 10**6), st.lists(words, min_size=1, max_size=5)), min_size=1, max_size=30)


@SETTINGS
@given(ps_rows)
def test_ps_aux_round_trip(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    lines = ["USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"]
    for user, pid, cpu, mem, vsz, rss, tty, stat, start, secs, argv in rows:
        lines.append(f"{user:<8} {pid:>7} {cpu / 10:4.1f} {mem / 10:4.1f} {vsz:>6} {rss:>5} "
                     f"{tty:<8} {stat:<4} {start:>5} {secs // 60:>3}:{secs % 60:02} {' '.join(argv)}")
    result = parse("\n".join(lines) + "\n")
    assert result.warnings == []
    got = [(p.user, p.pid, p.cpu_percent, p.mem_percent, p.vsz_kb, p.rss_kb, p.tty, p.state,
            p.started, p.cpu_seconds, p.command) for p in result.processes]
    want = [(u, pid, round(c / 10, 1), round(m / 10, 1), v, r, None if t == "?" else t, s, st_,
             float(secs), " ".join(argv)) for u, pid, c, m, v, r, t, s, st_, secs, argv in rows]
    assert got == want


image_names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10).map(
    lambda s: s + ".exe").flatmap(lambda s: st.sampled_from([s, "Adobe Desktop " + s]))
win_rows = st.lists(st.tuples(
    image_names, st.integers(0, 99_999_999), st.sampled_from(["Services", "Console", "RDP-Tcp#3"]),
    st.integers(0, 99), st.integers(0, 99_999_999), st.sampled_from(["Running", "Not Responding", "Unknown"]),
    st.sampled_from(["N/A", "NT AUTHORITY\\SYSTEM", "LAB\\j doe"]), st.integers(0, 999 * 3600),
    st.sampled_from(["N/A", "MATLAB R2023b", "main.py - thesis - Visual Studio Code"])),
    min_size=1, max_size=20)


def fmt_mem(kb: int, sep: str) -> str:
    return f"{kb:,}".replace(",", sep) + " K"


def fmt_time(secs: int) -> str:
    return f"{secs // 3600}:{secs % 3600 // 60:02}:{secs % 60:02}"


def expected(rows: list[tuple]) -> list[tuple]:  # type: ignore[type-arg]
    return [(img[:25], pid, sn, s, kb, stt, None if u == "N/A" else u, float(t),
             None if w == "N/A" else w) for img, pid, sn, s, kb, stt, u, t, w in rows]


def observed(result: ParseResult) -> list[tuple]:  # type: ignore[type-arg]
    return [(p.name, p.pid, p.session_name, p.session, p.rss_kb, p.status, p.user, p.cpu_seconds,
             p.window_title) for p in result.processes]


@SETTINGS
@given(win_rows, st.sampled_from([",", ".", " ", "\u00a0"]), st.sampled_from(["\n", "\r\n"]),
       st.booleans())
def test_tasklist_table_round_trip(rows: list[tuple], sep: str, eol: str, utf16: bool) -> None:  # type: ignore[type-arg]
    widths = [25, 8, 16, 11, 12, 15, 50, 12, 72]
    names = ["Image Name", "PID", "Session Name", "Session#", "Mem Usage", "Status", "User Name",
             "CPU Time", "Window Title"]
    right = {1, 3, 4, 7}

    def render(cells: list[str]) -> str:
        return " ".join(c.rjust(w) if i in right else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths, strict=False))).rstrip()

    lines = ["", render(names), " ".join("=" * w for w in widths)]
    for img, pid, sn, s, kb, stt, u, t, w in rows:
        lines.append(render([img[:25], str(pid), sn, str(s), fmt_mem(kb, sep), stt, u,
                             fmt_time(t), w]))
    text = eol.join(lines) + eol
    result = parse(b"\xff\xfe" + text.encode("utf-16-le") if utf16 else text)
    assert result.format == "tasklist-verbose" and result.warnings == []
    assert observed(result) == expected(rows)


@SETTINGS
@given(win_rows, st.booleans())
def test_tasklist_csv_round_trip(rows: list[tuple], header: bool) -> None:  # type: ignore[type-arg]
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    if header:
        writer.writerow(["Image Name", "PID", "Session Name", "Session#", "Mem Usage", "Status",
                         "User Name", "CPU Time", "Window Title"])
    for img, pid, sn, s, kb, stt, u, t, w in rows:
        writer.writerow([img[:25], pid, sn, s, fmt_mem(kb, ","), stt, u, fmt_time(t), w])
    result = parse(buffer.getvalue())
    assert result.format == "tasklist-csv" and result.warnings == []
    assert observed(result) == expected(rows)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
       st.sampled_from([(",", "."), (".", ","), ("\u00a0", ","), ("\u202f", ","), ("'", "."),
                        ("", ".")]))
def test_grouped_decimal_reads_n2_in_any_culture(value: Decimal, marks: tuple[str, str]) -> None:
    group, point = marks
    text = f"{value:,.2f}".replace(",", "\0").replace(".", point).replace("\0", group)
    assert grouped_decimal(text) == float(value)


CULTURES = [(",", "."), (".", ","), ("\u00a0", ","), ("\u202f", ","), ("'", ".")]


@SETTINGS
@given(st.lists(st.tuples(
    st.integers(0, 999_999), st.integers(0, 9_999_999), st.one_of(st.none(), st.decimals(
        0, 999_999, places=2, allow_nan=False, allow_infinity=False)),  # as wide as the columns
    st.text(st.sampled_from("abcXYZ .-_0"), min_size=1, max_size=24).map(str.strip).filter(bool)),
    min_size=1, max_size=20), st.sampled_from(CULTURES))
def test_get_process_table_round_trip(rows: list[tuple], culture: tuple[str, str]) -> None:  # type: ignore[type-arg]
    """A Get-Process table as Windows PowerShell 5.1 prints it in a culture parses back."""
    group, point = culture

    def n(value: object, places: int) -> str:
        return f"{value:,.{places}f}".replace(",", "\0").replace(".", point).replace("\0", group)

    lines = ["Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName",
             "-------  ------    -----      -----     ------     --  -- -----------"]
    for pid, ws, cpu, name in rows:
        cpu_text = "" if cpu is None else n(cpu, 2)
        lines.append(f"{'1':>7} {'1':>7} {'1':>8} {n(ws, 0):>10} {cpu_text:>10} {pid:>6} {'1':>3} {name}")
    result = parse("\r\n".join(lines) + "\r\n")
    assert result.skipped == []
    assert [(p.pid, p.rss_kb, p.cpu_seconds, p.name) for p in result.processes] == [
        (pid, ws, None if cpu is None else float(cpu), name) for pid, ws, cpu, name in rows]
