"""tasklist: the real captures in the shared samples, encodings, /nh, CSV, LIST, German, French."""

from __future__ import annotations

from pathlib import Path

import pytest

from dream.parsing import ParseError, ProcessRecord, parse


def sample(samples: Path, name: str) -> bytes:
    return (samples / name).read_bytes()


def as_tuple(p: ProcessRecord) -> tuple[object, ...]:
    return (p.pid, p.name, p.session_name, p.session, p.rss_kb)


def test_default_table(samples: Path) -> None:
    result = parse(sample(samples, "windows-tasklist.txt"))
    assert (result.format, result.os, result.warnings) == ("tasklist", "windows", [])
    assert [as_tuple(p) for p in result.processes] == [
        (0, "System Idle Process", "Services", 0, 8),
        (4, "System", "Services", 0, 140),
        (612, "csrss.exe", "Console", 1, 5512),
        (9320, "OneDrive.exe", "Console", 1, 61204),
        (9911, "matlab.exe", "Console", 1, 2045112),
        (10200, "Code.exe", "Console", 1, 188004),
    ]
    by_pid = {p.pid: p for p in result.processes}
    assert by_pid[9911].app == "matlab" and not by_pid[9911].is_system
    assert by_pid[0].is_system and by_pid[4].is_system and by_pid[612].is_system
    assert by_pid[10200].app == "code" and by_pid[10200].user is None


def test_verbose_table(samples: Path) -> None:
    result = parse(sample(samples, "windows-tasklist-v.txt"))
    assert (result.format, result.os, result.warnings) == ("tasklist-verbose", "windows", [])
    by_pid = {p.pid: p for p in result.processes}
    idle = by_pid[0]
    assert (idle.name, idle.user, idle.status, idle.cpu_seconds, idle.window_title) == (
        "System Idle Process", "NT AUTHORITY\\SYSTEM", "Unknown", 310 * 3600 + 2 * 60 + 11, None)
    assert by_pid[4].user is None and by_pid[4].cpu_seconds == 603
    matlab = by_pid[9911]
    assert (matlab.user, matlab.status, matlab.rss_kb, matlab.session) == (
        "ENG-LAB-04\\msmith", "Running", 2045112, 1)
    assert matlab.window_title == "MATLAB R2023b - academic use"
    assert matlab.cpu_seconds == 2 * 3600 + 41 * 60 + 9 and matlab.is_system is False
    code = by_pid[10200]
    assert code.window_title == "main.py - thesis - Visual Studio Code"
    assert code.session_name == "Console" and code.app == "code"


@pytest.mark.parametrize("name", ["windows-tasklist.txt", "windows-tasklist-v.txt"])
def test_encodings_give_identical_results(samples: Path, name: str) -> None:
    raw = sample(samples, name)
    text = raw.decode("utf-8")
    reference = parse(raw)
    assert parse(text) == reference
    assert parse("\ufeff" + text) == reference
    assert parse(b"\xff\xfe" + text.encode("utf-16-le")) == reference
    assert parse(text.encode("utf-16-le")) == reference  # BOM-less UTF-16 as some pipes write
    assert parse(b"\xef\xbb\xbf" + text.encode("utf-8")) == reference
    assert parse(text.replace("\r\n", "\n")) == reference


def test_names_with_spaces_and_not_responding() -> None:
    text = (
        "\r\n"
        "Image Name                     PID Session Name        Session#    Mem Usage Status"
        "          User Name                                              CPU Time Window Title\r\n"
        "========================= ======== ================ =========== ============ ==========="
        "==== ================================================== ============ ================"
        "========================================================\r\n"
        "Adobe Desktop Service.exe     7724 Console                    1    112,384 K Not Respon"
        "ding  ENG-LAB-04\\anna                                          0:01:40 Adobe Creative"
        " Cloud\r\n"
        "SearchApp.exe                 8120 Console                    1    201,112 K Suspended "
        "      ENG-LAB-04\\anna                                          0:00:02 N/A\r\n"
        "svchost.exe                   1188 Services                   0     14,300 K Unknown  "
        "       NT AUTHORITY\\LOCAL SERVICE                              0:00:00 N/A\r\n"
    )
    result = parse(text)
    adobe, search, svc = result.processes
    assert (adobe.name, adobe.status, adobe.window_title, adobe.rss_kb, adobe.cpu_seconds) == (
        "Adobe Desktop Service.exe", "Not Responding", "Adobe Creative Cloud", 112384, 100)
    assert adobe.app == "adobe desktop service" and not adobe.is_system
    assert search.status == "Suspended" and search.window_title is None
    assert svc.is_system and svc.user == "NT AUTHORITY\\LOCAL SERVICE"


def test_truncated_image_name_kept_as_printed() -> None:
    text = (
        "Image Name                     PID Session Name        Session#    Mem Usage\n"
        "========================= ======== ================ =========== ============\n"
        "MicrosoftEdgeUpdateCore.e     1234 Console                    1      3,072 K\n"
    )
    (proc,) = parse(text).processes
    assert (proc.name, proc.app, proc.rss_kb) == ("MicrosoftEdgeUpdateCore.e", "microsoftedgeupdatecore.e", 3072)


@pytest.mark.parametrize("memory, kb", [("1,248,772 K", 1248772), ("1.248.772 K", 1248772),
                                        ("1 248 772 K", 1248772), ("1\u00a0248\u00a0772 Ko", 1248772),
                                        ("  12 K", 12)])
def test_localized_memory(memory: str, kb: int) -> None:
    text = (
        "Image Name                     PID Session Name        Session#    Mem Usage\n"
        "========================= ======== ================ =========== ============\n"
        f"excel.exe                     4242 Console                    1 {memory:>12}\n"
    )
    assert parse(text).processes[0].rss_kb == kb


GERMAN = (
    "\r\n"
    "Abbildname                     PID Sitzungsname       Sitz.-Nr. Speichernutzung\r\n"
    "========================= ======== ================ =========== ===============\r\n"
    "System Idle Process              0 Services                   0             8 K\r\n"
    "System                           4 Services                   0         2.100 K\r\n"
    "explorer.exe                  6060 Console                    1       145.320 K\r\n"
    "WINWORD.EXE                   7010 Console                    1     1.248.772 K\r\n"
)
GERMAN_V = (
    "\r\n"
    "Abbildname                     PID Sitzungsname       Sitz.-Nr. Speichernutzung Status"
    "          Benutzername                                           CPU-Zeit Fenstertitel\r\n"
    "========================= ======== ================ =========== =============== ==========="
    "==== ================================================== ============ ======================"
    "==================================================\r\n"
    "WINWORD.EXE                   7010 Console                    1     1.248.772 K Wird ausgef"
    "ührt LAB\\mueller                                             0:12:03 Bericht.docx - Word\r\n"
    "svchost.exe                    948 Services                   0        24.004 K Unbekannt   "
    "    NT-AUTORITÄT\\SYSTEM                                      0:00:31 Nicht zutreffend\r\n"
)
FRENCH = (
    "\r\n"
    "Nom de l'image                 PID Nom de la session Numéro de s Utilisation \r\n"
    "========================= ======== ================ =========== ============\r\n"
    "System Idle Process              0 Services                   0         8 Ko\r\n"
    "chrome.exe                    5120 Console                    1   312 644 Ko\r\n"
)
FRENCH_CSV = (
    '"Nom de l\'image","PID","Nom de la session","Numéro de session","Utilisation de la mémoire",'
    '"État","Nom d\'utilisateur","Temps processeur","Titre de la fenêtre"\r\n'
    '"chrome.exe","5120","Console","1","312\u00a0644 Ko","En cours d\'exécution",'
    '"LABO\\dupont","0:03:12","Google - Google Chrome"\r\n'
)


def test_german_table() -> None:
    result = parse(GERMAN)
    assert result.format == "tasklist" and result.os == "windows"
    assert [(p.pid, p.name, p.rss_kb) for p in result.processes] == [
        (0, "System Idle Process", 8), (4, "System", 2100), (6060, "explorer.exe", 145320),
        (7010, "WINWORD.EXE", 1248772)]
    assert result.processes[-1].app == "winword"


def test_german_verbose_in_cp850() -> None:
    result = parse(GERMAN_V.encode("cp850"))
    word, svc = result.processes
    assert result.format == "tasklist-verbose"
    assert (word.status, word.user, word.cpu_seconds, word.window_title) == (
        "Wird ausgeführt", "LAB\\mueller", 723, "Bericht.docx - Word")
    assert svc.user == "NT-AUTORITÄT\\SYSTEM" and svc.is_system and svc.window_title is None


def test_french_table_with_truncated_headers() -> None:
    result = parse(FRENCH.encode("utf-16"))
    assert [(p.pid, p.name, p.rss_kb, p.session) for p in result.processes] == [
        (0, "System Idle Process", 8, 0), (5120, "chrome.exe", 312644, 1)]


def test_french_csv() -> None:
    result = parse(FRENCH_CSV)
    (chrome,) = result.processes
    assert result.format == "tasklist-csv"
    assert (chrome.pid, chrome.rss_kb, chrome.status, chrome.user, chrome.cpu_seconds) == (
        5120, 312644, "En cours d'exécution", "LABO\\dupont", 192)
    assert chrome.window_title == "Google - Google Chrome" and chrome.app == "chrome"


def test_csv_default_and_verbose_and_no_header(samples: Path) -> None:
    table = parse(sample(samples, "windows-tasklist-v.txt")).processes
    header = ('"Image Name","PID","Session Name","Session#","Mem Usage","Status","User Name",'
              '"CPU Time","Window Title"')
    rows = [
        f'"{p.name}","{p.pid}","{p.session_name}","{p.session}","{p.rss_kb:,} K","{p.status}",'
        f'"{p.user or "N/A"}","{int(p.cpu_seconds or 0) // 3600}:'
        f'{int(p.cpu_seconds or 0) % 3600 // 60:02}:{int(p.cpu_seconds or 0) % 60:02}",'
        f'"{p.window_title or "N/A"}"'
        for p in table
    ]
    verbose = parse("\r\n".join([header, *rows]) + "\r\n")
    assert verbose.format == "tasklist-csv"
    assert verbose.processes == table
    no_header = parse("\r\n".join(rows) + "\r\n")
    assert no_header.processes == table
    short = parse('"Image Name","PID","Session Name","Session#","Mem Usage"\n'
                  '"Code.exe","10200","Console","1","188,004 K"\n')
    assert [(p.pid, p.rss_kb, p.status) for p in short.processes] == [(10200, 188004, None)]


def test_list_format() -> None:
    text = (
        "\r\n"
        "Image Name:   System Idle Process\r\n"
        "PID:          0\r\n"
        "Session Name: Services\r\n"
        "Session#:     0\r\n"
        "Mem Usage:    8 K\r\n"
        "Status:       Unknown\r\n"
        "User Name:    NT AUTHORITY\\SYSTEM\r\n"
        "CPU Time:     310:02:11\r\n"
        "Window Title: N/A\r\n"
        "\r\n"
        "Image Name:   matlab.exe\r\n"
        "PID:          9911\r\n"
        "Session Name: Console\r\n"
        "Session#:     1\r\n"
        "Mem Usage:    2,045,112 K\r\n"
        "Status:       Running\r\n"
        "User Name:    ENG-LAB-04\\msmith\r\n"
        "CPU Time:     2:41:09\r\n"
        "Window Title: MATLAB R2023b: academic use\r\n"
    )
    result = parse(text)
    assert result.format == "tasklist-list"
    idle, matlab = result.processes
    assert (idle.pid, idle.user, idle.window_title, idle.is_system) == (
        0, "NT AUTHORITY\\SYSTEM", None, True)
    assert (matlab.rss_kb, matlab.window_title, matlab.cpu_seconds, matlab.app) == (
        2045112, "MATLAB R2023b: academic use", 9669, "matlab")


def test_german_list_format() -> None:
    text = ("Abbildname:      explorer.exe\nPID:             6060\nSitzungsname:    Console\n"
            "Sitz.-Nr.:       1\nSpeichernutzung: 145.320 K\n")
    (proc,) = parse(text, command="tasklist /fo list").processes
    assert (proc.pid, proc.name, proc.rss_kb, proc.session) == (6060, "explorer.exe", 145320, 1)


def test_no_header_table(samples: Path) -> None:
    lines = sample(samples, "windows-tasklist-v.txt").decode().split("\r\n")
    without = "\r\n".join([""] + lines[3:])
    reference = parse(sample(samples, "windows-tasklist-v.txt")).processes
    assert parse(without, command="tasklist /v /nh").processes == reference
    assert parse(without).processes == reference
    short = sample(samples, "windows-tasklist.txt").decode().split("\r\n")
    result = parse("\r\n".join([""] + short[3:]))
    assert result.format == "tasklist"
    assert [p.pid for p in result.processes] == [0, 4, 612, 9320, 9911, 10200]


def test_malformed_row_is_skipped_with_line_number(samples: Path) -> None:
    lines = sample(samples, "windows-tasklist.txt").decode().split("\r\n")
    lines.insert(5, "garbage line that is not a process")
    result = parse("\r\n".join(lines))
    assert len(result.processes) == 6
    assert len(result.warnings) == 1 and result.warnings[0].startswith("line 6:")


def test_no_parsable_rows_names_the_line() -> None:
    text = (
        "Image Name                     PID Session Name        Session#    Mem Usage\n"
        "========================= ======== ================ =========== ============\n"
        "this is not a row\n"
    )
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.line == 3 and "line 3" in str(info.value)


def test_services_layout() -> None:
    text = (
        "\nImage Name                     PID Services\n"
        "========================= ======== ============================================\n"
        "svchost.exe                    988 BrokerInfrastructure, DcomLaunch, PlugPlay\n"
    )
    (proc,) = parse(text).processes
    assert (proc.pid, proc.name, proc.is_system) == (988, "svchost.exe", True)
