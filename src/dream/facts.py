"""The executables' facts ``dream collect`` sends beside a listing, as ``dream-agent`` does
(docs/agent.md, "Executables' facts"): for each distinct file the processes really run (Linux
``/proc/PID/exe``, macOS ``ps -axo comm=``, Windows ``Win32_Process.ExecutablePath``, never
argv[0]) its path, size, sha256 and signer (Linux: the owning package, ``dpkg:bash``; macOS: the
code signature's first authority; Windows: the Authenticode signer). Without them the api cannot
answer "the average file size of non-system executables".

Each file is hashed and its signer asked once per version: a cache beside the spool keys them by
path, size and modification time. Only the standard library: no server side of Dream.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dream.text import decode_output

Runner = Callable[[Sequence[str]], str]  # a command's output, "" when it failed or is absent
MAX_EXECUTABLES = 2000  # a machine runs a few hundred distinct files; the api takes 10,000
# Paths per PowerShell command, in characters: a Windows command line holds 32,767 at most.
WINDOWS_BATCH_CHARS = 16_000
_POWERSHELL = ("powershell", "-NoProfile", "-NonInteractive", "-Command")


def run_command(argv: Sequence[str]) -> str:
    """``argv``'s output, stdout and stderr (codesign speaks on stderr); "" if it cannot run."""
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return decode_output(done.stdout + done.stderr, "oem" if argv[0] == "powershell" else None)


def parse_path_lines(output: str) -> list[str]:
    """The absolute paths (POSIX or ``C:\\``) of a one-path-per-line output."""
    lines = (line.strip() for line in output.splitlines())
    return [p for p in lines if p.startswith("/") or (len(p) > 2 and p[1] == ":" and p[2] in "\\/")]


def executable_paths(os_name: str, run: Runner) -> list[str]:
    """The distinct files the running processes execute, sorted."""
    paths: list[str] = []
    if os_name == "linux":
        for link in Path("/proc").glob("[0-9]*/exe"):
            try:
                paths.append(os.readlink(link).removesuffix(" (deleted)"))
            except OSError:  # gone since, a kernel thread, or another user's (not root)
                continue
    elif os_name == "macos":
        paths = parse_path_lines(run(("ps", "-axo", "comm=")))
    elif os_name == "windows":
        script = "Get-CimInstance Win32_Process | ForEach-Object { $_.ExecutablePath }"
        paths = parse_path_lines(run((*_POWERSHELL, script)))
    return sorted(set(paths))


def _usr_merge_alias(path: str) -> str | None:
    """The other name of a file under a merged /usr (``/usr/bin/x`` ↔ ``/bin/x``)."""
    for directory in ("bin/", "sbin/", "lib/", "lib64/"):
        if path.startswith(f"/usr/{directory}"):
            return path.removeprefix("/usr")
        if path.startswith(f"/{directory}"):
            return f"/usr{path}"
    return None


def parse_dpkg_s(output: str) -> dict[str, str]:
    """``dpkg -S PATH...``: ``pkg[:arch][, pkg2]: /path`` per owned file → {path: first pkg}."""
    owners = {}
    for line in output.splitlines():
        packages, found, path = line.partition(": /")
        if found and not line.startswith(("diversion ", "dpkg-query")):
            owners["/" + path.strip()] = packages.split(",")[0].strip().split(":")[0]
    return owners


def parse_rpm_qf(output: str, paths: Sequence[str]) -> dict[str, str]:
    """``rpm -qf --queryformat '%{NAME}\\n' PATH...``: a line per path, in order; an unowned
    file's line is a sentence ("file /x is not owned by any package")."""
    lines = [line.strip() for line in output.splitlines()]
    pairs = zip(paths, lines, strict=False)
    return {path: line for path, line in pairs if line and " " not in line}


def parse_codesign(output: str) -> str | None:
    """``codesign -dv --verbose=2``: the first ``Authority=`` (``Software Signing`` for Apple's
    platform binaries), ``adhoc`` for an ad hoc signature, None when unsigned."""
    lines = [line.strip() for line in output.splitlines()]
    authority = next((line.removeprefix("Authority=") for line in lines
                      if line.startswith("Authority=")), None)  # fmt: skip
    return authority or ("adhoc" if "Signature=adhoc" in lines else None)


def parse_authenticode(output: str) -> dict[str, str]:
    """``path<TAB>status<TAB>subject`` lines: the subject's CN of each ``Valid`` signature."""
    signers = {}
    for line in output.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[1] == "Valid":
            names = [a.strip()[3:] for a in parts[2].split(", ") if a.strip().startswith("CN=")]
            if names:
                signers[parts[0]] = names[0].strip('"')
    return signers


def signers(os_name: str, run: Runner, paths: Sequence[str]) -> dict[str, str]:
    """Who signed or owns each file; a file with neither is absent."""
    found: dict[str, str] = {}
    if os_name == "linux" and run(("dpkg-query", "--version")):
        aliases = [a for a in map(_usr_merge_alias, paths) if a]
        owners = parse_dpkg_s(run(("dpkg", "-S", *paths, *aliases)))  # exits 1 for an unowned one
        for path in paths:
            owner = owners.get(path) or owners.get(_usr_merge_alias(path) or "")
            if owner:
                found[path] = f"dpkg:{owner}"
    elif os_name == "linux" and run(("rpm", "--version")):
        owned = parse_rpm_qf(run(("rpm", "-qf", "--queryformat", "%{NAME}\\n", *paths)), paths)
        found = {path: f"rpm:{name}" for path, name in owned.items()}
    elif os_name == "macos":
        for path in paths:
            signer = parse_codesign(run(("codesign", "-dv", "--verbose=2", path)))
            if signer:
                found[path] = signer
    elif os_name == "windows":
        for batch in _batches(["'" + path.replace("'", "''") + "'" for path in paths]):
            script = (f"foreach ($p in @({','.join(batch)})) {{ $s = Get-AuthenticodeSignature"
                      ' -LiteralPath $p; "$p`t$($s.Status)`t$($s.SignerCertificate.Subject)" }')  # fmt: skip
            found |= parse_authenticode(run((*_POWERSHELL, script)))
    return found


def _batches(items: Sequence[str], max_chars: int = WINDOWS_BATCH_CHARS) -> list[list[str]]:
    """``items`` in runs of at most ``max_chars`` characters (one item alone may be longer)."""
    batches: list[list[str]] = []
    size = max_chars
    for item in items:
        if size + len(item) + 1 > max_chars:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item) + 1
    return batches


def _sha256(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


class ExecutableFacts:
    """The facts of a snapshot's executables, cached in ``cache_path`` by path + size + mtime."""

    def __init__(self, cache_path: Path, run: Runner = run_command) -> None:
        self.cache_path, self.run = cache_path, run

    def _cache(self) -> dict[str, dict[str, Any]]:
        try:
            cache = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return cache if isinstance(cache, dict) else {}

    def collect(self, os_name: str) -> list[dict[str, Any]]:
        """``[{"path", "size_bytes", "sha256", "signer"}]`` of the running processes' files."""
        cache, fresh, unsigned = self._cache(), {}, []
        for path in executable_paths(os_name, self.run):
            try:
                info = os.stat(path)
                entry = cache.get(path)
                version = (info.st_size, info.st_mtime_ns)
                if not entry or (entry["size"], entry["mtime_ns"]) != version:
                    entry = {"size": info.st_size, "mtime_ns": info.st_mtime_ns,
                             "sha256": _sha256(path), "signer": "?"}  # fmt: skip
            except (OSError, KeyError, TypeError):  # gone since the listing, unreadable
                continue
            if entry["signer"] == "?":
                unsigned.append(path)
            fresh[path] = entry
            if len(fresh) >= MAX_EXECUTABLES:
                break
        named = signers(os_name, self.run, unsigned) if unsigned else {}
        for path in unsigned:
            fresh[path]["signer"] = named.get(path)
        try:
            self.cache_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.cache_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "w", encoding="utf-8") as file:
                json.dump(fresh, file)
        except OSError:
            pass  # no cache: the next run hashes again, nothing is lost
        return [{"path": path, "size_bytes": e["size"], "sha256": e["sha256"],
                 "signer": e["signer"]} for path, e in sorted(fresh.items())]  # fmt: skip


__all__ = [
    "ExecutableFacts", "executable_paths", "parse_authenticode", "parse_codesign", "parse_dpkg_s",
    "parse_path_lines", "parse_rpm_qf", "run_command", "signers",
]  # fmt: skip
