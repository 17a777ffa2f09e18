"""Get-Process: default table (Windows PowerShell 5.1 and PowerShell 7), CSV and JSON."""

from __future__ import annotations

import json
import math

import pytest

from dream.parsing import ParseError, parse

TABLE_51 = (
    "\r\n"
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\r\n"
    "-------  ------    -----      -----     ------     --  -- -----------\r\n"
    "    227      14     3212      11424       0.06   4852   1 AggregatorHost\r\n"
    "   1874      96   412300     523004     301.52   9911   1 MATLAB\r\n"
    "      0       0       60          8                 0   0 Idle\r\n"
    "    781      29     9012      20180       2.14   1188   0 svchost\r\n"
    "\r\n"
)
TABLE_7 = (
    " NPM(M)    PM(M)      WS(M)     CPU(s)      Id  SI ProcessName\n"
    " ------    -----      -----     ------      --  -- -----------\n"
    "  96.00   402.64     510.75     301.52    9911   1 MATLAB\n"
    "   0.01     1.20       4.50       0.02    7724   1 Adobe Desktop Service\n"
)


def test_table_51() -> None:
    result = parse(TABLE_51)
    assert (result.format, result.os, result.warnings) == ("get-process", "windows", [])
    agg, matlab, idle, svc = result.processes
    assert (agg.pid, agg.name, agg.rss_kb, agg.cpu_seconds, agg.session) == (
        4852, "AggregatorHost", 11424, 0.06, 1)
    assert (matlab.app, matlab.rss_kb, matlab.is_system) == ("matlab", 523004, False)
    assert (idle.pid, idle.cpu_seconds, idle.session, idle.is_system) == (0, None, 0, True)
    assert svc.is_system and svc.app == "svchost"


def test_table_ps7_megabytes_and_spaces() -> None:
    matlab, adobe = parse(TABLE_7).processes
    assert matlab.rss_kb == round(510.75 * 1024) and matlab.pid == 9911
    assert (adobe.name, adobe.app, adobe.session) == ("Adobe Desktop Service", "adobe desktop service", 1)


CSV = (
    '#TYPE System.Diagnostics.Process\r\n'
    '"Name","SI","Handles","VM","WS","PM","NPM","Path","Company","CPU","Id","ProcessName",'
    '"SessionId","StartTime","MainWindowTitle","Responding","Threads","WorkingSet64",'
    '"VirtualMemorySize64"\r\n'
    '"MATLAB","1","1874","4398046511104","535556096","422195200","98304",'
    '"C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe","The MathWorks, Inc.",'
    '"301.515625","9911","MATLAB","1","11/28/2026 8:01:02 AM","MATLAB R2023b - academic use",'
    '"True","System.Diagnostics.ProcessThreadCollection","535556096","4398046511104"\r\n'
    '"svchost","0","781","2203409739776","20664320","9228288","29696",'
    '"C:\\WINDOWS\\system32\\svchost.exe","Microsoft Corporation","2.140625","1188","svchost",'
    '"0","11/27/2026 7:00:00 AM","","True","System.Diagnostics.ProcessThreadCollection",'
    '"20664320","2203409739776"\r\n'
    '"Hung","1","10","1","1","1","1","","","","777","Hung","1","","","False","","4096","8192"\r\n'
)


@pytest.mark.parametrize("text", [CSV, CSV.split("\r\n", 1)[1]])
def test_csv_with_and_without_type_line(text: str) -> None:
    result = parse(text)
    assert (result.format, result.os, result.warnings) == ("get-process-csv", "windows", [])
    matlab, svc, hung = result.processes
    assert (matlab.pid, matlab.name, matlab.app, matlab.rss_kb, matlab.vsz_kb) == (
        9911, "MATLAB", "matlab", 535556096 // 1024, 4398046511104 // 1024)
    assert matlab.command == "C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe"
    assert (matlab.cpu_seconds, matlab.window_title, matlab.status, matlab.started) == (
        301.515625, "MATLAB R2023b - academic use", "Running", "11/28/2026 8:01:02 AM")
    assert matlab.threads is None and matlab.is_system is False
    assert svc.is_system and svc.window_title is None
    assert hung.status == "Not Responding" and hung.cpu_seconds is None


def test_json_list_and_single_object() -> None:
    items = [
        {"Id": 9911, "ProcessName": "MATLAB", "Path": "C:\\Program Files\\MATLAB\\bin\\MATLAB.exe",
         "CPU": 301.515625, "WorkingSet64": 535556096, "VirtualMemorySize64": 8388608,
         "SessionId": 1, "StartTime": "\\/Date(1795766462000)\\/", "MainWindowTitle": "MATLAB",
         "Responding": True, "Threads": [{"Id": 1}, {"Id": 2}, {"Id": 3}], "Handles": 1874},
        {"Id": 4, "ProcessName": "System", "Path": None, "CPU": None, "WorkingSet64": 143360,
         "SessionId": 0, "Threads": []},
    ]
    result = parse(json.dumps(items, indent=4))
    assert (result.format, result.os) == ("get-process-json", "windows")
    matlab, system = result.processes
    assert (matlab.pid, matlab.app, matlab.threads, matlab.rss_kb, matlab.vsz_kb) == (
        9911, "matlab", 3, 523004, 8192)
    assert matlab.started == "\\/Date(1795766462000)\\/" and matlab.status == "Running"
    assert (system.pid, system.is_system, system.rss_kb, system.threads) == (4, True, 140, 0)
    single = parse(json.dumps(items[0]), command="Get-Process MATLAB | ConvertTo-Json")
    assert single.processes == [matlab]


def test_json_without_processes() -> None:
    with pytest.raises(ParseError, match="no object with a process Id"):
        parse('[{"Name": "x"}, 3]', format="get-process-json")
    with pytest.raises(ParseError):
        parse("[" * 100000, format="get-process-json")
    with pytest.raises(ParseError, match="invalid JSON"):
        parse('{"Id": 1', format="get-process-json")


# Windows PowerShell 5.1 formats CPU(s) with .NET's "N" (the culture's digit grouping); a
# machine up for a day shows its busiest processes as 17,848.02 (layout as in
# MicrosoftDocs/PowerShell-Docs#7023, values of a long-running host).
TABLE_51_GROUPED = (
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\r\n"
    "-------  ------    -----      -----     ------     --  -- -----------\r\n"
    "   4231     187  1286540    1105908  17,848.02  12044   1 chrome\r\n"
    "   1874      96   412300     523004   1,301.52   9911   1 MATLAB\r\n"
    "    227      14     3212      11424       0.06   4852   1 AggregatorHost\r\n"
)


def test_cpu_seconds_with_thousands_separators_keep_their_rows() -> None:
    result = parse(TABLE_51_GROUPED)
    assert (result.warnings, result.skipped) == ([], [])
    assert [(p.pid, p.cpu_seconds, p.rss_kb) for p in result.processes] == [
        (12044, 17848.02, 1105908), (9911, 1301.52, 523004), (4852, 0.06, 11424)]


@pytest.mark.parametrize(("cpu", "ws", "expected_ws"), [
    ("17.848,02", "1.105.908", 1105908),  # de-DE
    ("17\u00a0848,02", "1\u00a0105\u00a0908", 1105908),  # fr-FR, .NET Framework (U+00A0)
    ("17\u202f848,02", "1\u202f105\u202f908", 1105908),  # fr-FR, .NET on ICU (U+202F)
    ("17'848.02", "1'105'908", 1105908),  # de-CH
])
def test_cpu_and_memory_in_any_culture(cpu: str, ws: str, expected_ws: int) -> None:
    header = "Handles  NPM(K)    PM(K)        WS(K)     CPU(s)     Id  SI ProcessName\n"
    underline = "-------  ------    -----        -----     ------     --  -- -----------\n"
    row = f"   4231     187  1286540 {ws:>12} {cpu:>10}  12044   1 chrome\n"
    (chrome,) = parse(header + underline + row).processes
    assert (chrome.cpu_seconds, chrome.rss_kb, chrome.pid) == (17848.02, expected_ws, 12044)


def test_ps7_megabytes_with_grouping() -> None:
    text = (" NPM(M)    PM(M)      WS(M)     CPU(s)      Id  SI ProcessName\n"
            " ------    -----      -----     ------      --  -- -----------\n"
            "  96.00 1,402.64   1,510.75  17,848.02    9911   1 MATLAB\n")
    (matlab,) = parse(text).processes
    assert (matlab.rss_kb, matlab.cpu_seconds) == (round(1510.75 * 1024), 17848.02)


def test_an_unreadable_row_is_listed_in_skipped() -> None:
    text = TABLE_51_GROUPED + "   oops     x     y     z  nope  nope  1 broken\r\n"
    result = parse(text)
    assert len(result.processes) == 3
    assert [(s.line, s.reason) for s in result.skipped] == [(6, "malformed Get-Process row")]
    assert result.warnings == ["line 6: skipped malformed Get-Process row"]


@pytest.mark.parametrize("cell", ["'", "\u00a0", "NaN", "Infinity"])
def test_a_cpu_cell_that_is_no_number_costs_its_value_not_the_listing(cell: str) -> None:
    """A lone group mark crashed the decimal reader (IndexError: the whole listing failed as
    an internal error); NaN and Infinity were stored and poisoned the CPU averages."""
    text = TABLE_51_GROUPED + f"    100      20     3000       4000 {cell:>10}   4242   1 odd\r\n"
    result = parse(text)
    odd = [p for p in result.processes if p.pid == 4242]
    assert all(p.cpu_seconds is None for p in odd)
    assert len(result.processes) + len(result.skipped) == 4
    assert all(p.cpu_seconds is None or math.isfinite(p.cpu_seconds) for p in result.processes)


# `Get-Process -IncludeUserName` (layout of the Get-Process help's example 9).
WITH_USER = (
    "\r\n"
    "Handles      WS(K)   CPU(s)     Id UserName               ProcessName\r\n"
    "-------      -----   ------     -- --------               -----------\r\n"
    "    463      31500     0.70  12908 CAMPUS\\ana.lima        MATLAB\r\n"
    "    778     102616 1,401.20   1204 NT AUTHORITY\\SYSTEM    svchost\r\n"
    "    213      11244             988 NT AUTHORITY\\LOCAL...  WUDFHost\r\n"
    "   2010     212404    88.13   7724 CAMPUS\\ben             Adobe Desktop Service\r\n"
)


def test_include_user_name() -> None:
    result = parse(WITH_USER)
    assert (result.format, result.skipped, result.warnings) == ("get-process", [], [])
    matlab, svchost, wudf, adobe = result.processes
    assert (matlab.pid, matlab.user, matlab.app, matlab.is_system, matlab.cpu_seconds) == (
        12908, "CAMPUS\\ana.lima", "matlab", False, 0.7)
    assert (svchost.user, svchost.is_system, svchost.cpu_seconds) == (
        "NT AUTHORITY\\SYSTEM", True, 1401.2)
    assert (wudf.user, wudf.is_system, wudf.cpu_seconds) == ("NT AUTHORITY\\LOCAL...", True, None)
    assert (adobe.name, adobe.user, adobe.rss_kb) == ("Adobe Desktop Service", "CAMPUS\\ben", 212404)


# `Invoke-Command -ComputerName lab-07 { Get-Process }`: the remote objects carry PSComputerName.
REMOTE = (
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName          PSComputerName\n"
    "-------  ------    -----      -----     ------     --  -- -----------          --------------\n"
    "   1874      96   412300     523004   1,301.52   9911   1 MATLAB               lab-07\n"
    "    781      29     9012      20180       2.14   1188   0 svchost              lab-07\n"
)


def test_ps_computer_name_column() -> None:
    result = parse(REMOTE)
    matlab, svchost = result.processes
    assert (matlab.name, matlab.pid, matlab.cpu_seconds, matlab.session) == ("MATLAB", 9911, 1301.52, 1)
    assert (svchost.name, svchost.is_system) == ("svchost", True)


# A console 60 columns wide: the header wraps, long names are cut with "..." (5.1) or "…" (7).
NARROW = (
    "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessN\n"
    "                                                              ame\n"
    "-------  ------    -----      -----     ------     --  -- --------\n"
    "    227      14     3212      11424       0.06   4852   1 Aggreg...\n"
    "   1874      96   412300     523004     301.52   9911   1 MATLAB\n"
    "    150       9     1870       7000       0.01   6120   1 Adapt\u2026\n"
)


def test_narrow_console() -> None:
    result = parse(NARROW)
    assert result.format == "get-process" and result.skipped == []
    agg, matlab, adapt = result.processes
    assert (agg.pid, agg.name, agg.app) == (4852, "Aggreg...", "aggreg")
    assert (matlab.name, matlab.app, matlab.rss_kb) == ("MATLAB", "matlab", 523004)
    assert (adapt.name, adapt.app) == ("Adapt\u2026", "adapt")
    assert result.warnings == ["line 4: process name cut by the console's width",
                               "line 6: process name cut by the console's width"]


AUTOSIZE = (
    "Handles NPM(K)  PM(K)  WS(K) CPU(s)    Id SI ProcessName\n"
    "------- ------  -----  ----- ------    -- -- -----------\n"
    "   1874     96 412300 523004 301.52  9911  1 MATLAB\n"
    "    227     14   3212  11424   0.06  4852  1 AggregatorHost\n"
)


def test_format_table_autosize() -> None:
    matlab, agg = parse(AUTOSIZE, command="Get-Process | Format-Table -AutoSize").processes
    assert (matlab.pid, matlab.rss_kb, matlab.cpu_seconds, agg.name) == (
        9911, 523004, 301.52, "AggregatorHost")


# `Get-Process | Format-List` (PowerShell 7's default list view) and `Format-List *` in the
# layout of the Select-Object * listing on shellyourexperience.com (see README.md).
FORMAT_LIST = (
    "\r\n"
    "Id      : 4852\r\n"
    "Handles : 227\r\n"
    "CPU     : 0.0625\r\n"
    "SI      : 1\r\n"
    "Name    : AggregatorHost\r\n"
    "\r\n"
    "Id      : 9911\r\n"
    "Handles : 1874\r\n"
    "CPU     : 17848.015625\r\n"
    "SI      : 1\r\n"
    "Name    : MATLAB\r\n"
    "\r\n"
)
FORMAT_LIST_ALL = (
    "Name                       : WmiPrvSE\n"
    "Id                         : 3060\n"
    "Handles                    : 343\n"
    "WS                         : 29708288\n"
    "Path                       : C:\\Windows\\system32\\wbem\\wmiprvse.exe\n"
    "CPU                        : 7694,421875\n"
    "StartTime                  : 28.11.2026 08:01:02\n"
    "Modules                    : {System.Diagnostics.ProcessModule (wmiprvse.exe),\n"
    "                             System.Diagnostics.ProcessModule (ntdll.dll)...}\n"
    "MainWindowTitle            :\n"
    "SessionId                  : 0\n"
)


def test_format_list() -> None:
    result = parse(FORMAT_LIST)
    assert (result.format, result.os, result.skipped) == ("get-process-list", "windows", [])
    agg, matlab = result.processes
    assert (agg.pid, agg.name, agg.cpu_seconds, agg.session) == (4852, "AggregatorHost", 0.0625, 1)
    assert (matlab.app, matlab.cpu_seconds) == ("matlab", 17848.015625)


def test_format_list_all_properties() -> None:
    result = parse(FORMAT_LIST_ALL, command="Get-Process | Format-List *")
    (wmi,) = result.processes
    assert (wmi.pid, wmi.name, wmi.app, wmi.rss_kb, wmi.cpu_seconds) == (
        3060, "WmiPrvSE", "wmiprvse", 29708288 // 1024, 7694.421875)
    assert (wmi.command, wmi.is_system, wmi.started, wmi.window_title) == (
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe", True, "28.11.2026 08:01:02", None)


def test_a_listing_mostly_unreadable_fails_whole() -> None:
    """More than half its rows unreadable: the listing fails (its raw output is kept by the
    worker), rather than being stored as the few rows that happened to fit."""
    header = TABLE_51_GROUPED.split("\r\n", 2)
    broken = "   oops     x     y     z  nope  nope  1 broken\r\n"
    text = "\r\n".join(header[:2]) + "\r\n" + header[2].split("\r\n")[0] + "\r\n" + broken * 2
    with pytest.raises(ParseError, match=r"2 of 3 rows could not be read \(first: malformed") as info:
        parse(text)
    assert info.value.line == 4
    assert len(parse(text.replace(broken * 2, broken)).skipped) == 1  # half is not more than half


def test_format_table_of_chosen_properties() -> None:
    """`Get-Process | Format-Table Id,ProcessName,CPU,WS,StartTime,Path -AutoSize`."""
    text = (
        "   Id ProcessName          CPU        WS StartTime             Path\n"
        "   -- -----------          ---        -- ---------             ----\n"
        " 9911 MATLAB      17848.015625 535556096 11/28/2026 8:01:02 AM C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\n"
        " 1188 svchost         2.140625  20664320 11/27/2026 7:00:00 AM C:\\WINDOWS\\system32\\svchost.exe\n"
    )
    result = parse(text)
    assert (result.format, result.skipped) == ("get-process", [])
    matlab, svchost = result.processes
    assert (matlab.pid, matlab.cpu_seconds, matlab.rss_kb, matlab.started, matlab.app) == (
        9911, 17848.015625, 523004, "11/28/2026 8:01:02 AM", "matlab")
    assert matlab.command == "C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe"
    assert (svchost.is_system, svchost.cpu_seconds) == (True, 2.140625)


def test_csv_with_the_cultures_list_separator() -> None:
    """`Get-Process | ConvertTo-Csv -UseCulture` on de-DE: `;` between cells, decimal comma."""
    text = ('#TYPE System.Diagnostics.Process\r\n'
            '"Name";"Id";"CPU";"WorkingSet64";"Path"\r\n'
            '"MATLAB";"9911";"17848,015625";"535556096";"C:\\Program Files\\MATLAB\\bin\\MATLAB.exe"\r\n')
    result = parse(text)
    (matlab,) = result.processes
    assert (result.format, matlab.pid, matlab.cpu_seconds, matlab.rss_kb, matlab.app) == (
        "get-process-csv", 9911, 17848.015625, 523004, "matlab")
