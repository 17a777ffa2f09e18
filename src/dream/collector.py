"""``dream collect``: the agent that runs on lab machines.

Each run lists the processes with the command native to the OS it is on, wraps the output in a
snapshot with an id chosen here, writes it to the spool directory (one JSON file per snapshot,
written atomically), then drains the spool oldest first: each file is posted (JSON, with
``Authorization: Bearer <key>``) with retries and exponential backoff to the first of its api
urls that answers (another site's after a failover), and leaves the queue once one answered 202
(kept a grace window longer, re-sent if another api takes over: ``dream.spool``). So a snapshot
is never lost: while no api is reachable the files wait, and the next run that reaches one sends
them all. Posting twice is harmless: the api stores a ``snapshot_id`` once, so a retry after a
lost answer stores nothing new.

A snapshot the api refuses for good (422 invalid, 413 too large) moves to ``spool/rejected/``
with the reason beside it, so it neither blocks the queue nor disappears silently.

Only the standard library and httpx: this module never imports the server side of Dream.
"""

from __future__ import annotations

import json
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dream.facts import ExecutableFacts
from dream.logons import snapshot_user
from dream.sender import Misconfigured, Rejected, Sender, Unreachable
from dream.spool import Spool
from dream.text import decode_output

# The ps keywords Dream's ps-custom parser reads (all of them map to a ProcessRecord field);
# `user:64` keeps long names whole, `lstart` gives an unambiguous start time, `comm` before
# `args` gives the executable name even when argv[0] was rewritten. `-ww`: no width cut.
LINUX_PS_KEYWORDS = (
    "pid,ppid,user:64,%cpu,%mem,vsz,rss,tty,stat,lstart,time,nlwp,comm,args"
)
LINUX_COMMAND = ("ps", "-ww", "-eo", LINUX_PS_KEYWORDS)
MACOS_COMMAND = ("ps", "auxww")  # BSD ps aux, wide: COMMAND is never cut
WINDOWS_COMMAND = ("tasklist", "/v", "/fo", "csv")


def current_os() -> str:
    """``linux``, ``macos`` or ``windows`` for the machine this runs on."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    raise CollectorError(f"unsupported platform {sys.platform!r}: Linux, macOS or Windows only")


def listing_command(os_name: str) -> tuple[str, ...]:
    return {"linux": LINUX_COMMAND, "macos": MACOS_COMMAND, "windows": WINDOWS_COMMAND}[os_name]


def os_version(os_name: str) -> str:
    if os_name == "linux":
        try:
            for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')[:200]
        except OSError:
            pass
        return f"Linux {platform.release()}"
    if os_name == "macos":
        return f"macOS {platform.mac_ver()[0] or platform.release()}"
    return platform.version()


def decode_listing(data: bytes, os_name: str) -> str:
    """Command output as text, by Dream's one decoder (``dream.text.decode_output``, as the api
    reads an upload); on Windows the console's own (OEM) code page for bytes that are neither
    UTF-8 nor UTF-16, where the api can only guess."""
    return decode_output(data, "oem" if os_name == "windows" else None)


class CollectorError(Exception):
    """Something the operator has to fix (bad option, command missing)."""


def run_listing(os_name: str, timeout_s: float = 60.0) -> tuple[str, str]:
    """``(command line, output)`` of this OS's process listing command."""
    argv = listing_command(os_name)
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise CollectorError(f"{argv[0]!r} is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise CollectorError(f"{' '.join(argv)} did not finish in {timeout_s:.0f}s") from None
    if done.returncode != 0 or not done.stdout.strip():
        raise CollectorError(
            f"{' '.join(argv)} exited {done.returncode}: {decode_listing(done.stderr, os_name)[:500]}"
        )
    return " ".join(argv), decode_listing(done.stdout, os_name)


def parse_interval(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h``, ``1h30m`` → seconds."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", cleaned)
        if not parts or "".join(f"{n}{u}" for n, u in parts) != cleaned.replace(" ", ""):
            raise ValueError(f"{text!r} is not an interval such as 90, 30s, 5m, 1h or 1h30m")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("the interval must be positive")
    return seconds


@dataclass
class RunReport:
    collected: str | None = None
    user: str | None = None  # who the snapshot was sent for
    sent: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    pending: int = 0
    error: str | None = None
    misconfigured: bool = False  # the error is one to fix here (key, URL, DNS, TLS): exit 4
    evicted: int = 0  # oldest unsent snapshots this run deleted: the spool was full
    evicted_total: int = 0  # all the spool ever evicted (sent to the api as spool_evicted)
    lost: bool = False  # this run's snapshot was neither accepted nor kept on disk: exit 6
    listing_error: str | None = None  # no snapshot taken: the listing command failed (exit 1)

    def exit_status(self) -> int:
        """``dream collect --once``'s status, the worst first: 6 lost, 1 the listing failed, 4 a
        configuration to fix, 5 a snapshot set aside in ``rejected/``, 3 spooled, 0 sent."""
        if self.lost:
            return 6
        if self.listing_error is not None:
            return 1
        if self.misconfigured:
            return 4
        return 5 if self.rejected else 3 if self.error else 0


@dataclass
class Collector:
    """One machine's agent: ``run_once`` = collect, spool, drain."""

    sender: Sender
    spool: Spool
    user: str | None  # None: the machine's interactive user at each snapshot (dream.logons)
    faculty: str
    host: str = field(default_factory=socket.gethostname)
    os_name: str = field(default_factory=current_os)
    listing: Callable[[str], tuple[str, str]] = run_listing
    interval_s: float | None = None  # sent with each snapshot: what its hours of use cover
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)
    facts: ExecutableFacts | None = None  # the executables' facts sent beside the listing

    def __post_init__(self) -> None:
        # The api that acknowledged last, a previous run's included, is tried first.
        self.sender.prefer(self.spool.acknowledging_api())

    def snapshot(self) -> dict[str, Any]:
        command, output = self.listing(self.os_name)
        executables = self.facts.collect(self.os_name) if self.facts is not None else []
        return {
            "snapshot_id": str(uuid.uuid4()),
            "host": self.host,
            "os": self.os_name,
            "os_version": os_version(self.os_name),
            "user": self.user or snapshot_user(self.os_name),
            "faculty": self.faculty,
            "collected_at": datetime.now(UTC).isoformat(),
            "command": command,
            "output": output,
            **({"interval_s": self.interval_s} if self.interval_s is not None else {}),
            **({"executables": executables} if executables else {}),
        }

    def drain(self, report: RunReport | None = None) -> RunReport:
        """Send what the spool holds, oldest first; stop at the first snapshot that cannot go."""
        report = report or RunReport()
        pending = self.spool.pending()
        for index, path in enumerate(pending):
            try:
                data = path.read_bytes()
                json.loads(data)
            except FileNotFoundError:  # another run (two at once) sent or set it aside
                continue
            except (OSError, ValueError) as exc:
                self.spool.reject(path, f"unreadable spool file: {exc}")
                report.rejected.append(path.name)
                continue
            try:
                sid = self.sender.post(data)
            except Rejected as exc:
                self.spool.reject(path, str(exc))
                report.rejected.append(path.name)
                self.log(f"rejected by the api, kept in {self.spool.rejected}: {exc}")
                continue
            except Unreachable as exc:
                report.pending = len(pending) - index
                report.error, report.misconfigured = str(exc), isinstance(exc, Misconfigured)
                self.log(f"api unreachable ({exc}); {report.pending} snapshot(s) spooled in"
                         f" {self.spool.directory}")  # fmt: skip
                return report
            report.sent.append(sid)
            if not self.spool.acknowledged(path, self.sender.current, self._resend):
                report.pending, report.error = len(pending) - index, "re-sending the grace window"
                return report
        report.pending = 0
        return report

    def _resend(self, data: bytes) -> bool:
        """One snapshot of the grace window again (the api changed); False: it is down."""
        try:
            self.sender.post(data)
        except Unreachable:
            return False
        except Rejected:
            pass  # this api refuses it for good: nothing more to do for it
        return True

    def _send_directly(self, body: dict[str, Any], report: RunReport) -> bool:
        """Post the snapshot the spool could not hold; False: no api took it, it is lost."""
        try:
            report.sent.append(self.sender.post(json.dumps(body).encode("utf-8")))
        except Rejected as exc:
            try:
                report.rejected.append(self.spool.keep_rejected(body, str(exc)).name)
                self.log(f"rejected by the api, kept in {self.spool.rejected}: {exc}")
            except OSError as keep_exc:
                report.lost, report.error = True, f"{exc}; not kept in rejected/: {keep_exc}"
                self.log(f"snapshot lost: refused by the api ({exc}) and {keep_exc}")
        except Unreachable as exc:
            report.lost, report.error = True, str(exc)
            report.misconfigured = isinstance(exc, Misconfigured)
            self.log(f"snapshot lost: neither spooled nor sent ({exc})")
            return False
        return True

    def run_once(self) -> RunReport:
        """Take a snapshot and spool it, send what the spool holds, then bound the spool."""
        report, path = RunReport(), None
        with suppress(OSError):
            self.spool.clean_temporaries()  # what a crashed run left behind
        try:
            body = self.snapshot()
        except CollectorError as exc:  # no snapshot this time: what the spool holds still goes
            report.listing_error = str(exc)
            self.log(f"error: {exc}; sending what the spool holds")
        else:
            report.collected, report.user = body["snapshot_id"], body["user"]
            # What the full spool lost so far, for the api's fleet health (`GET /v1/hosts`):
            # evictions this run makes travel with the next snapshot.
            body["spool_evicted"] = self.spool.evicted()
            try:
                path = self.spool.put(body)
            except OSError as exc:  # no spool (read-only, full disk): send it directly
                self.log(f"cannot write the spool {self.spool.directory}: {exc}; sending directly")
                if not self._send_directly(body, report):
                    return report
        report = self.drain(report)
        if path is not None:  # only what could not be sent counts against the bound
            self._evict(report, keep=path)
        report.evicted_total = self.spool.evicted()
        return report

    def _evict(self, report: RunReport, keep: Path) -> None:
        try:
            report.evicted = self.spool.evict(keep=keep)
        except OSError as exc:
            self.log(f"cannot bound the spool {self.spool.directory}: {exc}")
            return
        report.pending = max(0, report.pending - report.evicted)
        if report.evicted:
            self.log(f"spool over {self.spool.max_bytes} bytes: evicted the"
                     f" {report.evicted} oldest snapshot(s)")  # fmt: skip

    def run_forever(self, interval_s: float, stop: threading.Event) -> None:
        """Collect every ``interval_s`` until ``stop`` is set (SIGTERM/SIGINT set it)."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = self.run_once()
                if report.error is None and report.listing_error is None:
                    self.log(f"sent {len(report.sent)} snapshot(s)")
            except CollectorError as exc:
                self.log(f"error: {exc}")
            except Exception as exc:  # a surprise in one run must not end the daemon
                self.log(f"error: unexpected {type(exc).__name__} in this run: {exc}\n"
                         f"{traceback.format_exc()}")  # fmt: skip
            stop.wait(max(1.0, interval_s - (time.monotonic() - started)))


__all__ = [
    "Collector", "CollectorError", "LINUX_COMMAND", "MACOS_COMMAND", "Rejected", "RunReport",
    "Sender", "Spool", "Unreachable", "WINDOWS_COMMAND", "current_os",
    "decode_listing", "listing_command", "parse_interval", "run_listing",
]  # fmt: skip
