"""The PII scrubber: applied by the worker to every parsed snapshot before anything is stored.

Usernames become a keyed HMAC pseudonym (``pseudonymize``), so per-user analytics still work
and a query by a real name can be pseudonymized the same way; or a placeholder (``redact``).
Command lines and window titles lose e-mail addresses, IP addresses, credentials in URLs,
password/token/secret values, bearer tokens and the user part of home directories; a window
title besides keeps its application's part only (``scrub_title``): the document, page or
message it names is what a person was reading.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from dream.parsing.model import ProcessRecord
from dream.snapshots import ExecutableFact, Snapshot

PiiMode = Literal["pseudonymize", "redact", "off"]

# Accounts of the operating system itself: not personal data, and kept readable so that
# is_system analytics and operators can still tell them apart.
SYSTEM_ACCOUNTS = frozenset(
    {
        "root", "daemon", "bin", "sys", "nobody", "systemd-network", "systemd-resolve",
        "systemd-timesync", "systemd-journal", "systemd+", "messagebus", "message+", "syslog",
        "avahi", "colord", "polkitd", "rtkit", "sshd", "www-data", "postgres", "gdm", "lp",
        "mail", "news", "uucp", "proxy", "backup", "list", "irc", "gnats", "_apt", "usbmux",
        "system", "local service", "network service", "dwm-1", "dwm-2", "umfd-0", "umfd-1",
        "n/a",
    }
)  # fmt: skip
_PLACEHOLDER_USER = "[user]"
_PSEUDONYM = re.compile(r"u_[0-9a-f]{20}")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]*@")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
# Candidates only; ipaddress decides (times like 10:40:12 and MAC addresses are not IPv6).
_IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:%\w+)?")
_SECRET_WORDS = (
    r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?key"
    r"|credentials?|private[_-]?key|client[_-]?secret)"
)
# An option that names a secret: `--password=x`, `--token x`, `/apikey:x`, `-client-secret x`.
_SECRET_OPTION = re.compile(
    rf"(?P<key>(?:--?|/)[A-Za-z0-9_.-]*{_SECRET_WORDS}[A-Za-z0-9_.-]*)(?P<sep>=|:|\s+)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"']+)",
    re.IGNORECASE,
)
# An assignment that names a secret: `api_key=x`, `PASSWORD=x`, `?access_token=x&...`.
_SECRET_ASSIGNMENT = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_-])[A-Za-z0-9_.]*{_SECRET_WORDS}[A-Za-z0-9_.]*=)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;#\"']+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_HOME = re.compile(
    r"(?P<prefix>/home/|/Users/|/export/home/|[A-Za-z]:\\{1,2}Users\\{1,2})(?P<user>[^/\\\s\"']+)",
    re.IGNORECASE,
)
# Home directories of accounts that are not people keep their name (C:\Users\Public).
_NON_PERSONAL_HOMES = frozenset({"public", "default", "default user", "all users", "shared"})


def _secret_option(match: re.Match[str]) -> str:
    if match.group("sep").isspace() and match.group("value").startswith("-"):
        return match.group(0)  # "--token --verbose": the next word is another option
    return f"{match.group('key')}{match.group('sep')}[secret]"


def _home(match: re.Match[str]) -> str:
    if match.group("user").lower() in _NON_PERSONAL_HOMES:
        return match.group(0)
    return f"{match.group('prefix')}{_PLACEHOLDER_USER}"


def _ipv6(match: re.Match[str]) -> str:
    candidate = match.group(0)
    try:
        ipaddress.IPv6Address(candidate.split("%", 1)[0])
    except ValueError:
        return candidate
    return "[ip]"


_SECRET_HINTS = ("pass", "pwd", "token", "secret", "key", "credential")
_HOME_HINTS = ("/home/", "/users/", "\\users\\")
# Any text a pattern of ``scrub_text`` may match holds one of these (or dots, colons, counted
# apart): one scan in C clears the most command lines, which hold none.
_ANY_HINT = re.compile(
    "|".join(re.escape(h) for h in ("@", "bearer", "basic", *_SECRET_HINTS, *_HOME_HINTS)),
    re.IGNORECASE,
)
# Texts scrubbed once are not scrubbed again: a host lists the same command lines in every
# snapshot. Bounded, least recently used out.
_MEMO_SIZE = 1 << 16


# Windows titles read "<document> - <application>" (some the other way round): the parts.
_TITLE_PARTS = re.compile(r"\s+[-\u2013\u2014|]\s+")
# A file name: a word, a dot, an extension that starts with a letter ("66.7%", "14.0" are not).
_FILE_NAME = re.compile(r"[^\s\"'<>|\\/\[\]]+\.[A-Za-z][A-Za-z0-9]{0,7}(?![\w.])")
_FILE = "[file]"


def scrub_title(title: str | None, image: str | None = None) -> str | None:
    """A window title's application part, nothing of the document it shows.

    A title is split at its separators (" - ", " – ", " — ", " | "); the part kept is the one
    naming the process's image (``chrome.exe``: "Google Chrome"), else the last part that names
    no file (the application, by the Windows convention); a part naming a file is a document
    and stands as ``[file]``. "Case notes.docx - Word" → "Word"; "Contract review - Google
    Chrome" → "Google Chrome"; "SOLIDWORKS 2024 - [bracket.SLDPRT]" → "SOLIDWORKS 2024". A
    title of one part is kept (unless it names a file): "Task Manager"."""
    if not title:
        return title
    parts = [p for p in _TITLE_PARTS.split(title.strip()) if p]
    if not parts:
        return title
    stem = (image or "").rsplit("\\", 1)[-1].lower().removesuffix(".exe")
    named = [p for p in parts if len(stem) >= 3 and stem in p.lower()]
    plain = [p for p in parts if not _FILE_NAME.search(p)]
    kept = named[0] if named else (plain[-1] if plain and len(parts) > 1 else parts[0])
    return _FILE if _FILE_NAME.search(kept) else kept


def _scrub_paths(facts: list[ExecutableFact] | None) -> list[ExecutableFact] | None:
    """Executables' paths without the home directories' names (/Users/[user]/bin/tool)."""
    if not facts:
        return facts
    return [f.model_copy(update={"path": scrub_text(f.path)}) for f in facts]


def scrub_text(text: str | None) -> str | None:
    """A command line or window title without the personal and secret parts.

    Most command lines hold none of it; cheap substring tests decide which patterns can match
    at all, so the regular expressions run only where they may find something.
    """
    if not text or (
        _ANY_HINT.search(text) is None and text.count(".") < 3 and text.count(":") < 2
    ):
        return text
    low = text.lower()
    if "@" in text:
        if "://" in text:
            text = _URL_CREDENTIALS.sub(r"\g<scheme>[credentials]@", text)
        text = _EMAIL.sub("[email]", text)
    if "bearer" in low or "basic" in low:
        text = _BEARER.sub(r"\g<key>[token]", text)
    if any(hint in low for hint in _SECRET_HINTS):
        text = _SECRET_OPTION.sub(_secret_option, text)
        text = _SECRET_ASSIGNMENT.sub(r"\g<key>[secret]", text)
    if any(hint in low for hint in _HOME_HINTS):
        text = _HOME.sub(_home, text)
    if text.count(".") >= 3:
        text = _IPV4.sub("[ip]", text)
    if text.count(":") >= 2:
        text = _IPV6_CANDIDATE.sub(_ipv6, text)
    return text


class Scrubber:
    """Applies one ``PiiMode`` with one HMAC key, in the current pseudonym epoch.

    ``epochs`` (DREAM_PII_EPOCHS, oldest first, e.g. years): the pseudonym of a name is an HMAC
    of the epoch and the name, so a new epoch gives everyone a new pseudonym and cuts the
    linkage between the rows before and after it on purpose; no epochs, the HMAC of the name
    alone (as before epochs existed). Names are pseudonymized in the last epoch;
    ``every_epoch`` gives a name's pseudonyms in all of them (erasure), ``stable`` one that no
    rotation changes (the opt-out list, which must outlive rotations).
    """

    def __init__(self, mode: PiiMode = "pseudonymize", key: bytes | None = None,
                 epochs: Sequence[str] = ()) -> None:  # fmt: skip
        if mode == "pseudonymize" and not key:
            raise ValueError("pseudonymize needs an HMAC key (DREAM_PII_KEY)")
        self.mode = mode
        self._key = key or b""
        self._epochs: tuple[str | None, ...] = tuple(epochs) or (None,)
        self.user = lru_cache(maxsize=65536)(self._user)
        self._scrub_with = lru_cache(maxsize=_MEMO_SIZE)(self._scrub_once)

    def _pseudonym(self, account: str, epoch: str | None) -> str:
        account = account.strip().lower()
        material = account if epoch is None else f"{epoch}\x00{account}"
        digest = hmac.new(self._key, material.encode(), hashlib.sha256)
        return "u_" + digest.hexdigest()[:20]

    def _user(self, name: str | None, epoch: str | None | Literal[False] = False) -> str | None:
        """A user name as it may be stored: pseudonym (in ``epoch``; False: the current one),
        placeholder or as is."""
        if name is None or self.mode == "off":
            return name
        domain, sep, account = name.rpartition("\\")
        if _PSEUDONYM.fullmatch(account) or account == _PLACEHOLDER_USER:
            return name  # already scrubbed (a value from /v1/users, say): never twice
        if account.strip().lower() in SYSTEM_ACCOUNTS or name.strip().lower() in SYSTEM_ACCOUNTS:
            return name
        if name.startswith("_") or account.startswith("_"):  # macOS daemon accounts (_windowserver)
            return name
        if domain.upper() == "NT AUTHORITY":
            return name
        if self.mode != "pseudonymize":
            return f"{domain}{sep}{_PLACEHOLDER_USER}"
        return f"{domain}{sep}{self._pseudonym(account, self._epochs[-1] if epoch is False else epoch)}"

    def every_epoch(self, name: str) -> list[str]:
        """``name``'s pseudonyms in every epoch, oldest first (a pseudonym: itself)."""
        found = [self._user(name, epoch) or name for epoch in self._epochs]
        return list(dict.fromkeys(found))

    def stable(self, name: str | None) -> str | None:
        """``name``'s pseudonym outside any epoch: the same whatever the rotations."""
        return self._user(name, None)

    def text(self, text: str | None) -> str | None:
        return text if self.mode == "off" else scrub_text(text)

    def _names_pattern(self, users: set[str]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
        """The personal account names of a listing, as whole words (``DOMAIN\\`` stripped)."""
        names = set()
        for user in users:
            account = user.rpartition("\\")[2].strip()
            if len(account) >= 3 and self.user(account) != account and not account.endswith("+"):
                names.add(account)
        hints = tuple(n.lower() for n in names)
        if not names:
            return None, hints
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        return re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w-])", re.IGNORECASE), hints

    _WORD = re.compile(r"(?<![\w.-])[\w.-]{3,}")

    def _names_behind(self, user: str, users: set[str], records: list[ProcessRecord]) -> set[str]:
        """The clear name behind ``user`` when it came pseudonymized (the api's ``for_transport``)
        and no process owner gives it away: the words of the command lines and window titles
        whose pseudonym it is. So the logged-in user's name is found in the rows of a listing
        without a user column, as it was when the name travelled in clear."""
        account = user.rpartition("\\")[2]
        if self.mode != "pseudonymize" or not _PSEUDONYM.fullmatch(account):
            return set()
        if any(self.user(other) == user for other in users if other != user):
            return set()  # an owner's name is it: the names pattern has it already
        found: set[str] = set()
        for record in records:
            for text in (record.command, record.window_title):
                for word in self._WORD.findall(text or ""):
                    if self.user(word) == account:
                        found.add(word)
        return found

    def _scrub_once(
        self, text: str | None, names: re.Pattern[str] | None, hints: tuple[str, ...] = ()
    ) -> str | None:
        """``text`` scrubbed, with ``names`` (``_names_pattern``) as words; memoised as
        ``_scrub_with``: its result depends on these arguments only."""
        scrubbed = scrub_text(text)
        if scrubbed and names is not None:
            low = scrubbed.lower()
            if any(hint in low for hint in hints):
                scrubbed = names.sub(lambda m: self.user(m.group(0)) or "", scrubbed)
        return scrubbed

    def scrub(self, snapshot: Snapshot, records: list[ProcessRecord],
              messages: list[str]) -> tuple[Snapshot, list[str]]:
        """Scrub a parsed snapshot: its records in place; returns the snapshot and messages.

        Besides the patterns of ``scrub_text``, the account names seen in the listing (process
        owners and the logged-in user) are replaced wherever they appear as words.
        """
        if self.mode == "off":
            return snapshot, messages
        users = {r.user for r in records if r.user} | {snapshot.user}
        users |= self._names_behind(snapshot.user, users, records)
        names, hints = self._names_pattern(users)
        user, scrub_with = self.user, self._scrub_with
        for record in records:
            record.user = user(record.user)
            if record.command:
                record.command = scrub_with(record.command, names, hints)
            if record.window_title:
                title = scrub_title(record.window_title, record.name)
                record.window_title = scrub_with(title, names, hints)
        scrubbed = snapshot.model_copy(
            update={"user": user(snapshot.user),
                    "command": scrub_with(snapshot.command, names, hints),
                    "executables": _scrub_paths(snapshot.executables)}
        )  # fmt: skip
        return scrubbed, [scrub_with(m, names, hints) or "" for m in messages]

    def for_transport(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot as the api hands it to the pipeline: the user pseudonymized and the
        command scrubbed (with the user's name as a word), so no broker topic, dead-letter topic
        or pending row holds them in clear. The raw output goes to the blob store instead
        (blobs/raw.py ``offload``); the worker scrubs the parsed rows as before and leaves the
        pseudonym as it is (``user`` never pseudonymizes twice)."""
        if self.mode == "off":
            return snapshot
        names, hints = self._names_pattern({snapshot.user})
        return snapshot.model_copy(
            update={"user": self.user(snapshot.user),
                    "command": self._scrub_with(snapshot.command, names, hints),
                    "executables": _scrub_paths(snapshot.executables)}
        )  # fmt: skip

    def scrub_processes(self, records: list[ProcessRecord]) -> None:
        """Scrub freshly parsed records in place (they are not shared with anyone yet)."""
        if self.mode == "off":
            return
        user, text = self.user, scrub_text
        for record in records:
            record.user = user(record.user)
            record.command = text(record.command)
            record.window_title = text(scrub_title(record.window_title, record.name))
