"""tasklist in the Windows display languages: translated headers (table, /fo csv, /fo list),
memory units (K, KB, Ko, КБ), "not available" words and digit grouping (, . space U+00A0
U+202F), and tables aligned to console columns where CJK characters take two."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dream.parsing import parse
from dream.parsing.tasklist_words import WORD_KEYS, WORDS

# Russian Windows 10, `tasklist` and `tasklist /v` (layouts of the pastes in README.md).
RU = (
    "\r\n"
    "Имя образа                     PID Имя сессии          № сеанса       Память\r\n"
    "========================= ======== ================ =========== ============\r\n"
    "System Idle Process              0 Services                   0         8 КБ\r\n"
    "System                           4 Services                   0     1 308 КБ\r\n"
    "MATLAB.exe                   11240 Console                    1 1\u00a0968\u00a0220 КБ\r\n"
)
RU_HEADER = ("Имя образа", "PID", "Имя сессии", "№ сеанса", "Память", "Состояние",
             "Пользователь", "Время ЦП", "Заголовок окна")


def test_russian_table_units_and_grouping() -> None:
    result = parse(RU)
    assert (result.format, result.os, result.skipped) == ("tasklist", "windows", [])
    assert [(p.pid, p.name, p.rss_kb) for p in result.processes] == [
        (0, "System Idle Process", 8), (4, "System", 1308), (11240, "MATLAB.exe", 1968220)]


def displayed(text: str, width: int, right: bool = False) -> str:
    """``text`` padded to ``width`` console columns (CJK characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    pad = " " * max(width - columns, 0)
    return pad + text if right else text + pad


WIDTHS = (25, 8, 16, 11, 12, 15, 50, 12, 40)
JA_HEADER = ("イメージ名", "PID", "セッション名", "セッション#", "メモリ使用量", "状態",
             "ユーザー名", "CPU 時間", "ウィンドウ タイトル")
RIGHT = {1, 3, 4, 7}


def render(rows: list[tuple[str, ...]], header: tuple[str, ...] = JA_HEADER) -> str:
    """A /v table as tasklist prints it: each cell padded to its column's console width."""
    def line(cells: tuple[str, ...]) -> str:
        return " ".join(displayed(cell, width, i in RIGHT)
                        for i, (cell, width) in enumerate(zip(cells, WIDTHS, strict=True)))
    separator = " ".join("=" * w for w in WIDTHS)
    return "\r\n".join([line(header), separator, *map(line, rows)]) + "\r\n"


JA_ROWS = [
    ("秀丸エディタ.exe", "1496", "Console", "1", "44,140 K", "Running", "LAB\\田中太郎", "0:00:05",
     "メモ.txt - 秀丸"),
    ("EXCEL.EXE", "3984", "Console", "1", "46,856 K", "Running", "LAB\\田中太郎", "0:00:02",
     "Microsoft Excel - 実験.xlsx"),
    ("System", "4", "Services", "0", "10,928 K", "Unknown", "N/A", "0:09:42", "N/A"),
]


def test_japanese_verbose_table_aligned_to_console_columns(loops: str) -> None:
    result = parse(render(JA_ROWS))
    assert (result.format, result.skipped) == ("tasklist-verbose", [])
    hidemaru, excel, system = result.processes
    assert (hidemaru.name, hidemaru.pid, hidemaru.rss_kb, hidemaru.user, hidemaru.cpu_seconds,
            hidemaru.window_title) == ("秀丸エディタ.exe", 1496, 44140, "LAB\\田中太郎", 5.0,
                                       "メモ.txt - 秀丸")
    assert (excel.app, excel.user, excel.window_title) == (
        "excel", "LAB\\田中太郎", "Microsoft Excel - 実験.xlsx")
    assert (system.user, system.window_title, system.is_system) == (None, None, True)


JA_CSV = (
    '"イメージ名","PID","セッション名","セッション#","メモリ使用量","状態","ユーザー名","CPU 時間",'
    '"ウィンドウ タイトル"\r\n'
    '"System Idle Process","0","Services","0","24 K","Unknown","NT AUTHORITY\\SYSTEM","39:52:34",'
    '"N/A"\r\n'
    '"System","4","Services","0","10,928 K","Unknown","N/A","0:09:43","N/A"\r\n'
)
JA_LIST = (
    "\r\n"
    "イメージ名:          System Idle Process\r\n"
    "PID:                 0\r\n"
    "セッション名:        Services\r\n"
    "セッション#:         0\r\n"
    "メモリ使用量:        24 K\r\n"
    "状態:                Unknown\r\n"
    "ユーザー名:          NT AUTHORITY\\SYSTEM\r\n"
    "CPU 時間:            39:43:18\r\n"
    "ウィンドウ タイトル: N/A\r\n"
    "\r\n"
    "イメージ名:          System\r\n"
    "PID:                 4\r\n"
    "セッション名:        Services\r\n"
    "セッション#:         0\r\n"
    "メモリ使用量:        10,928 K\r\n"
    "状態:                Unknown\r\n"
    "ユーザー名:          N/A\r\n"
    "CPU 時間:            0:09:42\r\n"
    "ウィンドウ タイトル: N/A\r\n"
)


@pytest.mark.parametrize(("text", "fmt"), [(JA_CSV, "tasklist-csv"), (JA_LIST, "tasklist-list")])
def test_japanese_csv_and_list(text: str, fmt: str) -> None:
    result = parse(text)
    assert (result.format, result.os, result.skipped) == (fmt, "windows", [])
    idle, system = result.processes
    assert (idle.pid, idle.user, idle.rss_kb, idle.cpu_seconds) == (
        0, "NT AUTHORITY\\SYSTEM", 24, 39 * 3600 + (52 * 60 + 34 if fmt == "tasklist-csv" else 43 * 60 + 18))
    assert (system.pid, system.user, system.rss_kb, system.status) == (4, None, 10928, "Unknown")


# zh-CN, as pasted in a Java tutorial's output (README.md).
ZH = (
    "映像名称                       PID 会话名              会话#       内存使用 \r\n"
    "========================= ======== ================ =========== ============\r\n"
    "System Idle Process              0 Services                   0         24 K\r\n"
    "chrome.exe                   16108 Console                    1     33,912 K\r\n"
    "微信.exe                      9001 Console                    1    212,404 K\r\n"
)


def test_chinese_table(loops: str) -> None:
    result = parse(ZH)
    assert result.skipped == []
    assert [(p.pid, p.name, p.app, p.rss_kb, p.session) for p in result.processes] == [
        (0, "System Idle Process", "system idle process", 24, 0),
        (16108, "chrome.exe", "chrome", 33912, 1), (9001, "微信.exe", "微信", 212404, 1)]


VALUES = ("MATLAB.exe", "11240", "Console", "1", "1.968.220 K", "Running", "LAB\\ana", "6:51:02",
          "MATLAB R2023b")


@pytest.mark.parametrize("language", sorted(WORDS))
@pytest.mark.parametrize("shape", ["csv", "list"])
def test_every_language_csv_and_list_headers(language: str, shape: str) -> None:
    words = dict(zip(WORD_KEYS, WORDS[language], strict=True))
    header = [words["image"][0], "PID", *(words[k][0] for k in (
        "session_name", "session", "mem", "status", "user", "cpu_time", "window_title"))]
    if shape == "csv":
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows([header, VALUES])
        text = out.getvalue()
    else:
        text = "".join(f"{key.title() if key.isascii() else key}: {value}\r\n"
                       for key, value in zip(header, VALUES, strict=True))
    result = parse(text)
    (matlab,) = result.processes
    assert (result.format, result.skipped) == (f"tasklist-{shape}", [])
    assert (matlab.pid, matlab.rss_kb, matlab.user, matlab.cpu_seconds, matlab.window_title,
            matlab.status) == (11240, 1968220, "LAB\\ana", 24662.0, "MATLAB R2023b", "Running")


@pytest.mark.parametrize(("cell", "kb"), [
    ("1,968,220 K", 1968220), ("1.968.220 K", 1968220), ("1 968 220 Ko", 1968220),
    ("1\u00a0968\u00a0220 KB", 1968220), ("1\u202f968\u202f220 Ko", 1968220),
    ("1'968'220 K", 1968220), ("4 840 КБ", 4840), ("4\u00a0840 Кб", 4840), ("24 K", 24),
])
def test_memory_units_and_grouping(cell: str, kb: int) -> None:
    line = f"{'MATLAB.exe':<25} {'11240':>8} {'Console':<16} {'1':>11} {cell:>12}\r\n"
    text = ("Image Name                     PID Session Name        Session#    Mem Usage\r\n"
            "========================= ======== ================ =========== ============\r\n" + line)
    (matlab,) = parse(text).processes
    assert matlab.rss_kb == kb


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(
    st.text(st.sampled_from("漢字かなカナ한글abcXYZ .-"), min_size=1, max_size=10).map(
        lambda s: s.strip() + ".exe"),
    st.integers(0, 10**6), st.integers(0, 10**7),
    st.text(st.sampled_from("田中太郎김abc"), min_size=1, max_size=8)), min_size=1, max_size=8))
def test_cjk_tables_parse_back(rows: list[tuple[str, int, int, str]]) -> None:
    text = render([(image, str(pid), "Console", "1", f"{mem:,} K", "Running", f"PC\\{user}",
                    "0:00:01", f"{image} - タイトル") for image, pid, mem, user in rows])
    result = parse(text)
    assert [(p.name, p.pid, p.rss_kb, p.user, p.window_title) for p in result.processes] == [
        (image, pid, mem, f"PC\\{user}", f"{image} - タイトル") for image, pid, mem, user in rows]


def test_russian_verbose_not_available_and_system_account() -> None:
    text = render([
        ("csrss.exe", "984", "Console", "1", "4 840 КБ", "Running", "NT AUTHORITY\\СИСТЕМА",
         "0:00:09", "Н/Д"),
        ("MATLAB.exe", "11240", "Console", "1", "1 968 220 КБ", "Running", "LAB-07\\Студент",
         "6:51:02", "MATLAB R2023b")], RU_HEADER)
    csrss, matlab = parse(text).processes
    assert (csrss.rss_kb, csrss.user, csrss.is_system, csrss.window_title) == (
        4840, "NT AUTHORITY\\СИСТЕМА", True, None)
    assert (matlab.user, matlab.cpu_seconds, matlab.window_title, matlab.app) == (
        "LAB-07\\Студент", 24662.0, "MATLAB R2023b", "matlab")


def test_services_wrapped_over_lines_are_not_rows() -> None:
    """`tasklist /svc` (and /m) wrap a long list under its row; those lines are no process."""
    text = (
        "Image Name                     PID Services\r\n"
        "========================= ======== ============================================\r\n"
        "svchost.exe                   1088 AudioEndpointBuilder, CscService, hidserv,\r\n"
        "                                   Netman, PcaSvc, SysMain, TrkWks,\r\n"
        "                                   UmRdpService, UxSms, wudfsvc\r\n"
        "lsass.exe                      796 KeyIso, Netlogon, SamSs\r\n"
    )
    result = parse(text)
    assert (result.warnings, result.skipped) == ([], [])
    assert [(p.pid, p.name) for p in result.processes] == [(1088, "svchost.exe"), (796, "lsass.exe")]


@pytest.mark.parametrize(("header", "row", "kb"), [
    # fr: header cut to the column widths, "Ko", a space between thousands.
    ("Nom de l'image                 PID Nom de la sessio Numéro de s Utilisation",
     "msedge.exe                    1924 Console                    5   147 532 Ko", 147532),
    # es: "KB" with "." between thousands.
    ("Nombre de imagen               PID Nombre de sesión Núm. de ses Uso de memor",
     "node.exe                     19720 Console                    1   112.980 KB", 112980),
    # ko
    ("이미지 이름                    PID 세션 이름              세션#  메모리 사용",
     "java.exe                      7588 Services                   0    385,468 K", 385468),
    # de
    ("Abbildname                     PID Sitzungsname       Sitz.-Nr. Speichernutzung",
     "chrome.exe                   14572 Console                    4        73.580 K", 73580),
])
def test_tables_as_pasted(header: str, row: str, kb: int, loops: str) -> None:
    separator = "========================= ======== ================ =========== ============"
    result = parse("\r\n".join(["", header, separator, row, ""]))
    (process,) = result.processes
    assert (result.format, result.skipped, process.rss_kb) == ("tasklist", [], kb)
    assert process.pid == int(row.split()[1])
