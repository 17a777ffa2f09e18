"""The collector's spool: one JSON file per snapshot waiting to be sent, oldest first.

A snapshot an api acknowledged (202) is not deleted at once: it waits in ``sent/`` for a grace
window (30 minutes by default, longer than a site's mirror ever lags). When another api starts
acknowledging (a failover to the standby site), the window is posted there again first: the old
site may have died before mirroring what it had acknowledged. The api stores a ``snapshot_id``
once, so re-sending one that did arrive stores nothing new.

Files are written atomically (temp file, fsync, rename) and readable by their owner only: a
spooled snapshot holds a whole process listing (user names, command lines, home paths).
Only the standard library: the collector never imports the server side of Dream.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dream.durable import TEMPORARY_PREFIX, fsync_dir, write_file

_SPOOL_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f-]{36}\.json$")
DEFAULT_GRACE_S = 1800.0  # keep acknowledged snapshots this long (DR: longer than mirror lag)
# The spool's bound, as the Go agent's: a lab machine offline for weeks must not fill its disk.
DEFAULT_MAX_BYTES = 64 << 20
_API_FILE = "api.txt"  # in sent/: the api that acknowledged the window
_EVICTED_FILE = "evicted.count"  # how many snapshots the spool ever evicted unsent


def default_spool_dir() -> Path:
    """Where snapshots wait while the api is unreachable (per user; root gets /var/spool)."""
    env = os.environ.get("DREAM_SPOOL_DIR")
    if env:
        return Path(env)
    if sys.platform in ("win32", "cygwin"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "dream" / "spool"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "dream" / "spool"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/spool/dream")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dream" / "spool"


class Spool:
    """One JSON file per snapshot, named so that sorting the names sorts by collection time."""

    def __init__(self, directory: Path, grace_s: float = DEFAULT_GRACE_S,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:  # fmt: skip
        self.directory = Path(directory)
        self.rejected = self.directory / "rejected"
        self.sent = self.directory / "sent"
        self.grace_s = grace_s
        self.max_bytes = max_bytes  # 0 or less: unbounded

    def put(self, body: dict[str, Any]) -> Path:
        """Write ``body`` atomically (temp file, fsync, rename): a crash leaves all or nothing."""
        _private_dir(self.directory)
        return _put_file(self.directory, body)

    def clean_temporaries(self) -> int:
        """Delete the temporary files writers left when they died between write and rename
        (they would hold disk space forever, unseen by the bound); how many."""
        removed = 0
        for directory in (self.directory, self.rejected):
            try:
                stale = [path for path in directory.iterdir() if _stale(path)]
            except OSError:  # no such directory (yet)
                continue
            for path in stale:
                with suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def pending(self) -> list[Path]:
        """Spooled snapshots, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if _SPOOL_NAME.match(p.name))

    def evict(self, keep: Path) -> int:
        """Delete the oldest waiting snapshots (never ``keep``, the one just taken) until the
        spool holds at most ``max_bytes``; add how many to ``evicted()`` and return it.

        Only what waits to be sent counts: the grace window and rejected snapshots were heard
        by an api already."""
        if self.max_bytes <= 0:
            return 0
        sized = []
        for path in self.pending():
            try:
                sized.append((path, path.stat().st_size))
            except FileNotFoundError:  # sent meanwhile
                continue
        total = sum(size for _, size in sized)
        evicted = 0
        for path, size in sized:
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            total -= size
            evicted += 1
        if evicted:
            count = str(self.evicted() + evicted) + "\n"  # (replaced whole: never half a count)
            write_file(self.directory / _EVICTED_FILE, count.encode("ascii"))
        return evicted

    def evicted(self) -> int:
        """How many snapshots this spool ever evicted unsent for lack of room."""
        try:
            return int((self.directory / _EVICTED_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return 0

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def acknowledged(self, path: Path, api: str, resend: Callable[[bytes], bool]) -> bool:
        """``api`` acknowledged the snapshot ``path``: keep it in ``sent/`` for the grace window.
        When the window was acknowledged by another api (a failover), ``resend`` each of its
        snapshots to this one first. False, and nothing moved, if a resend could not go."""
        previous = self.acknowledging_api()
        if previous is not None and previous != api:
            for kept in self.window():
                try:
                    data = kept.read_bytes()
                except FileNotFoundError:  # another run's window() forgot it meanwhile
                    continue
                if not resend(data):
                    return False
        _private_dir(self.sent)
        if self.grace_s <= 0:
            self.done(path)
        else:
            target = self.sent / path.name
            # A FileNotFoundError: another run (two at once) moved it already; it was sent.
            with suppress(FileNotFoundError):
                os.replace(path, target)
                os.utime(target)  # the window runs from the acknowledgement
        if previous != api:
            _write_private(self.sent / _API_FILE, api.encode("utf-8"))
        self.window()  # forget what left the window
        return True

    def acknowledging_api(self) -> str | None:
        """The api that acknowledged the snapshots in the window (None: none yet)."""
        try:
            return (self.sent / _API_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def window(self) -> list[Path]:
        """Acknowledged snapshots still within the grace window, oldest first; older ones are
        deleted."""
        if not self.sent.is_dir():
            return []
        horizon = time.time() - self.grace_s
        kept = []
        for path in sorted(p for p in self.sent.iterdir() if _SPOOL_NAME.match(p.name)):
            try:
                if path.stat().st_mtime >= horizon:
                    kept.append(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
        return kept

    def keep_rejected(self, body: dict[str, Any], reason: str) -> Path:
        """Set aside in ``rejected/`` a refused snapshot that was never spooled."""
        _private_dir(self.rejected)
        target = _put_file(self.rejected, body)
        _write_private(target.with_suffix(".reason.txt"), (reason + "\n").encode("utf-8"))
        return target

    def reject(self, path: Path, reason: str) -> Path:
        _private_dir(self.rejected)
        target = self.rejected / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another run (two at once) moved it already: its call
            return target
        _write_private(target.with_suffix(".reason.txt"), (reason + "\n").encode("utf-8"))
        return target


# Spooled snapshots hold whole process listings (user names, command lines): owner only, whatever
# the umask (which can only take bits away, so the mode is set explicitly after creation).
_DIR_MODE, _FILE_MODE = 0o700, 0o600


def _private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    if os.name == "posix":
        os.chmod(directory, _DIR_MODE)  # also an existing directory given as --spool-dir


def _put_file(directory: Path, body: dict[str, Any]) -> Path:
    """``body`` in ``directory`` under its spool name, atomically (temp file, fsync, rename)."""
    at = datetime.fromisoformat(body["collected_at"]).astimezone(UTC)
    name = f"{at:%Y%m%dT%H%M%S.%fZ}-{body['snapshot_id']}.json"
    final = directory / name
    tmp = directory / f".{name}.{os.getpid()}.tmp"  # the writer's pid: see _stale
    try:
        _write_private(tmp, json.dumps(body, ensure_ascii=False).encode("utf-8"))
        os.replace(tmp, final)
    except BaseException:  # a full disk: a partial temporary file would keep it full
        with suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)
    return final


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # _put_file's, named by its writer's pid
_STALE_S = 3600.0  # no write takes this long: a temporary this old was left by a crash


def _stale(path: Path) -> bool:
    """Whether ``path`` is a temporary file whose writer died before renaming it (kill -9, a
    power cut): its pid is gone, or it is older than any write takes (another kind of
    temporary, durable.write_file's; a pid reused since)."""
    match = _TEMPORARY.match(path.name)
    if match is None and not path.name.startswith(TEMPORARY_PREFIX):
        return False
    if match is not None and not _alive(int(match[1])):
        return True
    try:
        return time.time() - path.stat().st_mtime > _STALE_S
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (where that cannot be asked, Windows: assumed)."""
    if os.name != "posix":
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user
        return True
    return True


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` durably to a new file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                 _FILE_MODE)  # fmt: skip
    with open(fd, "wb") as fh:
        if os.name == "posix":
            os.fchmod(fh.fileno(), _FILE_MODE)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    """The rename durable where the file system lets its directory be synced; a spool on one
    that does not still works (the file itself was synced)."""
    with suppress(OSError):
        fsync_dir(directory)
