"""Win32_Process as PowerShell's Get-CimInstance and wmic print it: tables, lists, CSV, JSON.
They carry ExecutablePath and CommandLine, so the app comes from the path."""

from __future__ import annotations

import codecs
import json

import pytest

from dream.parsing import parse

# `Get-CimInstance Win32_Process` (layout of the Get-CimInstance help's first example).
CIM_TABLE = (
    "\r\n"
    "ProcessId Name                  HandleCount WorkingSetSize VirtualSize\r\n"
    "--------- ----                  ----------- -------------- -----------\r\n"
    "0         System Idle Process   0           8192           8192\r\n"
    "4         System                5573        2621440        3964928\r\n"
    "9911      MATLAB.exe            1874        535556096      4398046511104\r\n"
)

CIM_LIST = (
    "ProcessId       : 9911\n"
    "Name            : MATLAB.exe\n"
    "ParentProcessId : 7020\n"
    "ExecutablePath  : C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\n"
    "CommandLine     : \"C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\" -nosplash\n"
    "WorkingSetSize  : 535556096\n"
    "KernelModeTime  : 1201250000\n"
    "UserModeTime    : 4811406250\n"
    "\n"
)

# `wmic process get ExecutablePath,Name,ProcessId,WorkingSetSize`: every column as wide as its
# widest value plus two, left-aligned, lines ending in "\r\r\n" (wmic's own).
MATLAB_EXE = "C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe"
WMIC_ROWS = [("ExecutablePath", "Name", "ProcessId", "WorkingSetSize"),
             ("", "System Idle Process", "0", "8192"),
             (MATLAB_EXE, "MATLAB.exe", "9911", "535556096"),
             ("C:\\Windows\\system32\\svchost.exe", "svchost.exe", "1188", "20664320")]
WIDTHS = [max(len(row[i]) for row in WMIC_ROWS) + 2 for i in range(4)]
WMIC_TABLE = "".join("".join(cell.ljust(width) for cell, width in zip(row, WIDTHS, strict=True))
                     + "\r\r\n" for row in WMIC_ROWS) + "\r\r\n"
WMIC_LIST = (
    "\r\r\n\r\r\n"
    "CommandLine=\"C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\" -nosplash\r\r\n"
    "ExecutablePath=C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\r\r\n"
    "Name=MATLAB.exe\r\r\n"
    "ParentProcessId=7020\r\r\n"
    "ProcessId=9911\r\r\n"
    "WorkingSetSize=535556096\r\r\n"
    "\r\r\n\r\r\n"
    "CommandLine=\r\r\n"
    "ExecutablePath=\r\r\n"
    "Name=System Idle Process\r\r\n"
    "ParentProcessId=0\r\r\n"
    "ProcessId=0\r\r\n"
    "WorkingSetSize=8192\r\r\n"
)
WMIC_CSV = (
    "\r\n"
    "Node,CommandLine,Name,ProcessId\r\n"
    "LAB-07,\"C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe\" -nosplash,MATLAB.exe,9911\r\n"
)


def test_cim_table() -> None:
    result = parse(CIM_TABLE)
    assert (result.format, result.os, result.skipped) == ("get-process", "windows", [])
    idle, system, matlab = result.processes
    assert (idle.pid, idle.is_system, system.is_system) == (0, True, True)
    assert (matlab.pid, matlab.app, matlab.rss_kb, matlab.vsz_kb) == (
        9911, "matlab", 535556096 // 1024, 4398046511104 // 1024)


def test_cim_list() -> None:
    result = parse(CIM_LIST, command="Get-CimInstance Win32_Process | Format-List *")
    (matlab,) = result.processes
    assert (result.format, matlab.pid, matlab.ppid, matlab.app, matlab.rss_kb) == (
        "get-process-list", 9911, 7020, "matlab", 523004)
    assert matlab.command == '"C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe" -nosplash'
    assert matlab.cpu_seconds == pytest.approx(601.265625)


@pytest.mark.parametrize("utf16", [False, True])
def test_wmic_table(utf16: bool) -> None:
    data = codecs.BOM_UTF16_LE + WMIC_TABLE.encode("utf-16-le") if utf16 else WMIC_TABLE
    result = parse(data)
    assert (result.format, result.skipped) == ("wmic", [])
    idle, matlab, svchost = result.processes
    assert (idle.pid, idle.name, idle.command, idle.is_system) == (0, "System Idle Process", None, True)
    assert (matlab.pid, matlab.app, matlab.rss_kb) == (9911, "matlab", 523004)
    assert matlab.command == MATLAB_EXE
    assert (svchost.app, svchost.is_system) == ("svchost", True)


def test_wmic_list() -> None:
    result = parse(WMIC_LIST, command="wmic process list full")
    assert (result.format, result.skipped) == ("wmic-list", [])
    matlab, idle = result.processes
    assert (matlab.pid, matlab.ppid, matlab.app, matlab.rss_kb) == (9911, 7020, "matlab", 523004)
    assert (idle.pid, idle.name, idle.command) == (0, "System Idle Process", None)


def test_wmic_csv_and_cim_json() -> None:
    (matlab,) = parse(WMIC_CSV).processes
    assert (matlab.pid, matlab.app) == (9911, "matlab")
    cim = [{"ProcessId": 9911, "Name": "MATLAB.exe", "ParentProcessId": 7020,
            "ExecutablePath": "C:\\Program Files\\MATLAB\\R2023b\\bin\\win64\\MATLAB.exe",
            "CommandLine": "MATLAB.exe -nosplash", "WorkingSetSize": 535556096,
            "KernelModeTime": 10000000, "UserModeTime": 20000000}]
    result = parse(json.dumps(cim), command="Get-CimInstance Win32_Process | ConvertTo-Json")
    (matlab,) = result.processes
    assert (result.format, matlab.ppid, matlab.cpu_seconds, matlab.command) == (
        "get-process-json", 7020, 3.0, "MATLAB.exe -nosplash")
