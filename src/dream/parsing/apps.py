"""Application names and the "is this the operating system?" rules.

Research questions are asked per application ("how long is MATLAB open?"), so every record gets
an ``app``: its product's id where the catalog knows it (``name_products``: ``WINWORD.EXE`` and
``/Applications/Microsoft Word.app/…`` are both ``microsoft-word``), else the lowercase
executable base name, identical whichever OS or tool reported it. The rules here run once per
distinct command/user (callers and the catalog memoise them), so they favour clarity over speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from dream.catalog import Catalog
from dream.parsing.model import ProcessRecord

# Linux accounts that own daemons (Debian/Ubuntu/RHEL defaults plus common packages).
_LINUX_SYSTEM_USERS = frozenset(
    ["root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "nfsnobody", "_apt", "messagebus", "syslog", "uuidd", "dnsmasq", "avahi", "avahi-autoipd", "colord", "rtkit", "pulse", "saned", "sshd", "ntp", "chrony", "polkitd", "usbmux", "whoopsie", "kernoops", "speech-dispatcher", "geoclue", "gdm", "lightdm", "sddm", "postfix", "dbus", "tss", "tcpdump", "libstoragemgmt", "unbound", "rpc", "rpcuser", "apache", "nginx", "mysql", "postgres", "redis", "mongodb", "memcache", "haproxy", "named", "bind", "cups", "hplip", "landscape", "pollinate", "fwupd-refresh", "lxd", "dhcpcd", "statd", "sssd", "gluster", "qemu", "libvirt-qemu", "libvirt-dnsmasq", "nscd", "adm", "operator", "halt", "shutdown", "ftp", "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-journal", "systemd-coredump", "systemd-oom"]
)
_WINDOWS_SYSTEM_DOMAINS = ("NT AUTHORITY\\", "NT-AUTORITÄT\\", "AUTORITE NT\\", "AUTORITÉ NT\\",
                           "NT INSTANZ\\", "WINDOW MANAGER\\", "FONT DRIVER HOST\\")
_WINDOWS_SYSTEM_ACCOUNTS = frozenset(
    {"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "LOKALER DIENST", "NETZWERKDIENST",
     "SERVICE LOCAL", "SERVICE RÉSEAU"}
)
# Executables that are part of Windows itself even when they run in a user's session.
WINDOWS_SYSTEM_IMAGES = frozenset(
    (
        "system", "system idle process", "registry", "secure system", "memory compression",
        "smss.exe", "csrss.exe", "wininit.exe", "winlogon.exe", "services.exe", "lsass.exe",
        "lsaiso.exe", "svchost.exe", "fontdrvhost.exe", "dwm.exe", "spoolsv.exe", "sihost.exe",
        "taskhostw.exe", "ctfmon.exe", "conhost.exe", "dllhost.exe", "runtimebroker.exe",
        "searchindexer.exe", "wudfhost.exe", "audiodg.exe", "lsm.exe",
    )
)
_SYSTEM_PATH_PREFIXES = ("/System/", "/usr/libexec/", "/usr/sbin/", "/sbin/", "/usr/lib/systemd/",
                         "/lib/systemd/")
_WINDOWS_SYSTEM_DIRS = ("\\windows\\system32\\", "\\windows\\syswow64\\", "\\systemroot\\")
_APP_BUNDLE = re.compile(r"([^/]+)\.app/Contents/MacOS/")
_WINDOWS_EXE = re.compile(r"^\"?(.*?\.exe)(?=[\"\s]|$)", re.IGNORECASE)
_SUFFIXES = (".exe", ".app")
# The tree art `ps f`, `ps axjf` and `ps -ef --forest` draw before a child's command.
_FOREST_ART = re.compile(r"^[ |]*\\_\s*(?=\S)")


def strip_forest(command: str) -> str:
    """``|   \\_ /usr/sbin/sshd -D`` → ``/usr/sbin/sshd -D``: the command without its tree art,
    so a child is named after its program, not ``_`` or ``|`` (the C loops cut it alike)."""
    match = _FOREST_ART.match(command)
    return command[match.end():] if match else command


def normalize_app(executable: str) -> str:
    """``C:\\Program Files\\...\\WINWORD.EXE`` → ``winword``; ``-bash`` → ``bash``; ``sshd:`` → ``sshd``."""
    base = executable.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].strip()
    base = base.strip("\"'").lstrip("-").rstrip(":").lower()
    if base.startswith("(") and base.endswith(")"):
        base = base[1:-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    return base or executable.strip().lower()


def _executable(command: str) -> str:
    """argv[0] of a printed command line, keeping the spaces that belong to the path.

    The C row loops mirror this reading byte for byte (tests/parsing/test_accel.py), so it is
    not the catalog's ``argv0`` (which also reads ``.appex`` bundles): where the catalog knows
    the process, its product names it anyway (``name_products``)."""
    # The regex is costly on long command lines; the plain substring test rules most out.
    bundles = list(_APP_BUNDLE.finditer(command)) if ".app/Contents/MacOS/" in command else None
    if bundles:
        last = bundles[-1]
        rest = command[last.end():]
        bundle = last.group(1)
        if rest.startswith(bundle) and rest[len(bundle): len(bundle) + 1] in ("", " "):
            return bundle
        return rest.split(None, 1)[0] if rest.strip() else bundle
    if ".exe" in command.lower():
        match = _WINDOWS_EXE.match(command)
        if match:
            return match.group(1)
    if command.startswith('"'):
        closing = command.find('"', 1)
        if closing > 0:
            return command[1:closing]
    parts = command.split(None, 1)
    return parts[0] if parts else command


@lru_cache(maxsize=4096)  # snapshots of one host repeat their odd ([kworker], .app) commands
def describe_command(command: str) -> tuple[str, str, bool]:
    """``(name, app, is_system)`` implied by a command line alone.

    ``[kworker/0:1]`` is a kernel thread (system; app ``kworker``); ``[chrome] <defunct>`` is a
    zombie (not system; app ``chrome``); BSD prints zombies as ``(uname)``; BusyBox prints
    ``{Web Content} /usr/lib/firefox/firefox ...`` (app ``firefox``).
    """
    text = command.strip()
    if text.startswith("[") and ("]" in text or " " not in text):  # no "]": cut at the width
        inner = text[1: text.index("]")] if "]" in text else text[1:]
        kernel_thread = not text.endswith("<defunct>")
        app = inner.split("/", 1)[0].strip().lower() or inner.lower()
        return inner, app, kernel_thread
    if text.startswith("(") and text.endswith(")") and len(text) > 2:
        inner = text[1:-1]
        return inner, normalize_app(inner), False
    if text.startswith("{") and "} " in text:  # BusyBox: "{comm} argv" when they differ
        comm, _, argv = text[1:].partition("} ")
        if argv.strip():
            _, app, system = describe_executable(_executable(argv.strip()))
            return comm, app, system
    return describe_executable(_executable(text))


@lru_cache(maxsize=16384)
def describe_executable(exe: str) -> tuple[str, str, bool]:
    # Command lines rarely repeat (arguments differ) but executables do: memoize on those.
    name = exe.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or exe
    system = exe.startswith(_SYSTEM_PATH_PREFIXES) or any(
        part in exe.lower() for part in _WINDOWS_SYSTEM_DIRS
    )
    return name, normalize_app(exe), system


def is_system_user(user: str | None, os: str | None = None) -> bool:
    """Whether an account is the OS's own (root, daemons, ``_``-prefixed macOS, NT AUTHORITY)."""
    if not user:
        return False
    if "\\" in user:
        upper = user.upper()
        return upper.startswith(_WINDOWS_SYSTEM_DOMAINS) or upper.rsplit("\\", 1)[-1] in (
            "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE")
    if user.upper() in _WINDOWS_SYSTEM_ACCOUNTS and user.isupper():
        return True
    if user.isdigit() and user.isascii():
        uid = int(user)
        return uid < 500 or (os != "macos" and uid < 1000)
    if user.startswith("_") or user in _LINUX_SYSTEM_USERS or user.startswith("systemd-"):
        return True
    if user.endswith("+") and len(user) > 1:  # procps truncates long names: "systemd+", "message+"
        prefix = user[:-1]
        return prefix.startswith("systemd") or any(
            name.startswith(prefix) for name in _LINUX_SYSTEM_USERS
        ) or "messagebus".startswith(prefix)
    return False


def is_windows_system(
    image: str | None, user: str | None, session: int | None, session_name: str | None,
    path: str | None = None,
) -> bool:
    """Windows services: session 0 / "Services", NT AUTHORITY accounts, core images, System32."""
    if session == 0 or (session_name is not None and session_name.lower() == "services"):
        return True
    if is_system_user(user, "windows"):
        return True
    if image is not None and image.lower() in WINDOWS_SYSTEM_IMAGES:
        return True
    if path:
        lowered = path.lower()
        return any(part in lowered for part in _WINDOWS_SYSTEM_DIRS)
    return False


def name_products(records: Iterable[ProcessRecord], os: str | None, catalog: Catalog) -> None:
    """Each record's ``app`` becomes its product's id where ``catalog`` knows the process (its
    helpers and every OS's names fold into one product); an executable it does not know keeps
    its own name; ``version`` is the product's version where the name or path shows one. A
    product of category ``system`` is the OS's (or runs whether anyone uses the
    product or not, as updaters do): the record is ``is_system``. The catalog memoises each
    distinct (name, command, os), so a listing's repeated commands cost a dictionary hit."""
    match = catalog.match
    for record in records:
        found = match(record.name, record.command, os)
        if found is not None:
            record.app = found.product
            record.version = found.version
            if found.category == "system":
                record.is_system = True
