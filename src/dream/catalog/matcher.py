"""Which product a process is: compiled rules over what a listing shows, memoised.

A process is known by its name (``WINWORD.EXE``, ``Google Chrome Helper (Renderer)``), its
command line and its host's OS. Rules are looked up, not scanned: a macOS bundle name and
executable names are dict keys, and a path or argument rule's regex runs only when the literal
text it requires is in the command (a substring test); all of it once per distinct (name,
command head, OS), whose answers sit in a bounded LRU, so successive listings of a fleet cost a
dict hit per process.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from dream.catalog.model import OSES, CatalogError, Example, Product, read_file, read_toml

# Rules see the command head: the line up to its second option (and the program -jar or -m
# names), never the rest: renderer ids, file names and pids vary per process and would defeat
# the memo, and no rule needs them.
_HEAD_MAX = 240
# Options naming the program an interpreter runs, kept in the head wherever they stand.
_PROGRAM_OPTIONS = (" -jar ", " -m ", " -cp ", " -classpath ")
_TRAILING_VERSION = re.compile(r"^(.+?)[-_ .]?v?\d+(?:[._]\d+)*$")
MEMO_SIZE = 65_536
# How wide listings cut a name: Linux's comm (top, ps -e, ps -o comm) keeps 15 characters,
# tasklist's image column 25.
_CUT = {"linux": 15, "windows": 25}


@dataclass(frozen=True, slots=True)
class Match:
    """The product a process belongs to, and its version where the name or path shows one."""

    product: str  # the product's id, stable across catalog versions
    name: str  # display name
    vendor: str
    category: str
    version: str | None = None


_UNSEEN = Match("", "", "", "")  # no answer yet (None is an answer: unknown)


def command_head(command: str | None) -> str:
    """The part of a command line the rules look at: up to (not including) its second option.

    ``/opt/google/chrome/chrome --type=renderer --field-trial-handle=…`` →
    ``/opt/google/chrome/chrome --type=renderer``; ``soffice.bin --writer --splash-pipe=5`` →
    ``soffice.bin --writer``; ``python3 -m ipykernel_launcher -f k.json`` keeps ``-m
    ipykernel_launcher``, and ``java -Xmx4g -jar ij.jar`` keeps ``-jar ij.jar`` (an interpreter's
    program, wherever it stands; ``-cp`` too).
    """
    if not command:
        return ""
    text = command[:_HEAD_MAX].strip()
    first = text.find(" -")
    if first < 0:
        return text
    second = text.find(" -", first + 2)
    if second < 0:
        return text
    for option in _PROGRAM_OPTIONS:  # java -Xmx4g -jar ij.jar: what runs is named later on
        at = text.find(option, second)
        if at >= 0:
            program = text[at:].split(None, 2)[:2]
            return f"{text[:second]} {' '.join(program)}"
    return text[:second]


def argv0(head: str) -> str:
    """The executable of a command head, keeping the spaces a quoted, ``.exe`` or macOS bundle
    path has (``/Applications/Google Chrome.app/Contents/MacOS/Google Chrome``)."""
    if head.startswith('"'):
        end = head.find('"', 1)
        return head[1:end] if end > 0 else head[1:]
    exe = head.lower().find(".exe")
    if exe > 0 and head[exe + 4: exe + 5] in ("", " ", '"'):
        return head[: exe + 4]
    inside = head.rfind("/Contents/MacOS/")
    if inside >= 0:
        rest = head[inside + 16:]
        cut = min((i for i in (rest.find(" -"), rest.find(" /")) if i >= 0), default=len(rest))
        return head[: inside + 16] + rest[:cut]
    return head.split(None, 1)[0] if head.strip() else ""


def program_path(head: str) -> str:
    """The executable's path, spaces included where a path has them unquoted
    (``/Library/Application Support/LANDesk/bin/ldscheduler``): argv[0] when quoted, an
    ``.exe`` or a bundle's, else the head up to its first option or next absolute path."""
    first = argv0(head)
    if head.startswith('"') or first.lower().endswith(".exe") or "/Contents/MacOS/" in first:
        return first
    stops = [at for at in (head.find(" -"), head.find(" /"), head.find(' "'), head.find(":\\", 2))
             if at > 0]  # fmt: skip
    end = min(stops, default=len(head))
    if end < len(head) and head[end] == ":":  # " C:\..." begins a Windows path: cut before it
        end = head.rfind(" ", 0, end)
    return head[:end] if end > 0 else first


def outer_bundle(head: str) -> str | None:
    """The outermost ``X.app`` of the executable's own path (helpers deep inside
    ``Frameworks/…/Helpers/`` belong to it), never a bundle named in an argument."""
    if not head.startswith("/"):
        return None
    at = head.find(".app")
    if at < 0 or head[at + 4: at + 5] not in ("", "/", " "):
        return None
    before = head[:at]
    if " -" in before or " /" in before:
        return None
    return before.rsplit("/", 1)[-1]


def required_literal(pattern: str) -> str:
    """The longest text (lowercase) every match of ``pattern`` contains, or "" if none is sure:
    ``soffice(?:\\.bin)? +--writer`` → ``--writer``. Read from the regex's parse tree; a tree it
    cannot read gives "" (the rule is then always tried, so never missed)."""
    best, run = "", ""

    def walk(items: Any) -> None:
        nonlocal best, run
        for op, value in items:
            if str(op) == "LITERAL":
                run += chr(value)
            elif str(op) == "SUBPATTERN" and not any(str(o) == "BRANCH" for o, _ in value[3]):
                walk(value[3])
            else:
                best, run = max(best, run, key=len), ""

    try:
        walk(re._parser.parse(pattern))  # type: ignore[attr-defined]
    except Exception:  # a private module: should it change, no literal, the same answers
        return ""
    return max(best, run, key=len).lower()


def key(name: str) -> str:
    """A name as the dicts hold it: lowercase, unquoted, without ``.exe``, a login shell's ``-``,
    systemd's ``@``, parentheses or the ``:`` of ``sshd:``."""
    text = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip("\"'").lstrip("-@").rstrip(":")
    if text.startswith("(") and text.endswith(")"):  # BSD's (zombie), procps' (sd-pam)
        text = text[1:-1]
    text = text.lower()
    return text[:-4] if text.endswith(".exe") and len(text) > 4 else text


def _variants(name: str) -> Iterator[str]:
    """``name``, then the app it helps: ``X Helper (Renderer)`` → ``X helper`` → ``x``; a
    version suffix dropped: ``python3.11`` → ``python``, ``gimp-2.10`` → ``gimp``."""
    yield name
    if name.endswith(")") and " (" in name:
        name = name[: name.rfind(" (")]
        yield name
    if name.endswith(" helper"):
        name = name[:-7]
        yield name
    trailing = _TRAILING_VERSION.match(name)
    if trailing:
        yield trailing.group(1)


class Catalog:
    """The products and their compiled rules; ``match`` answers which product a process is."""

    def __init__(self, products: list[Product], declared: str = "", memo: int = MEMO_SIZE,
                 local: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.products: dict[str, Product] = {p.id: p for p in products}
        self.declared = declared
        self.local = local  # the ids an operator's file gave (added or replaced)
        self._names: dict[tuple[str, str], Product] = {}
        problems: list[str] = []
        for product in self.products.values():
            for scope, name in self._keys(product):
                taken = self._names.setdefault((scope, name), product)
                if taken is not product:
                    problems.append(f"{product.source}: product {product.id!r}: {scope} name"
                                    f" {name!r} is also product {taken.id!r}'s ({taken.source})")  # fmt: skip
        self._cut: dict[tuple[str, str], Product | None] = {}  # None: two products cut alike
        for (scope, name), product in self._names.items():
            for os, width in _CUT.items():
                full = name + ".exe" if os == "windows" else name
                if scope in ("any", os) and len(full) > width:
                    cut = (os, full[:width])
                    if self._cut.setdefault(cut, product) is not product:
                        self._cut[cut] = None
        # Path rules (searched in the executable's path) and argument rules (in the whole head),
        # in file order, each behind the literal text it cannot match without: a substring test
        # rules out nearly all of them before any regex runs.
        self._rules = [(product, field == "args", required_literal(pattern),
                        re.compile(pattern, re.IGNORECASE))
                       for product in self.products.values()
                       for field in ("paths", "args") for pattern in getattr(product, field)]  # fmt: skip
        self._versions = {p.id: re.compile(p.version, re.IGNORECASE)
                          for p in self.products.values() if p.version}  # fmt: skip
        self._bare = {p.id: Match(p.id, p.name, p.vendor, p.category) for p in products}
        if problems:
            raise CatalogError(problems)
        self.version = self._version()
        self.lookup = lru_cache(maxsize=memo)(self._resolve)
        # Successive listings repeat whole command lines: those skip even the head's cutting.
        self._seen: dict[tuple[str | None, str | None, str | None], Match | None] = {}
        self._seen_size = memo

    @staticmethod
    def _keys(product: Product) -> Iterator[tuple[str, str]]:
        for name in product.names:
            yield "any", key(name)
        for os in OSES:
            for name in getattr(product, os):
                bundle = os == "macos" and name.lower().endswith(".app")
                yield ("bundle", name[:-4].lower()) if bundle else (os, key(name))

    def _version(self) -> str:
        """The declared version plus a digest of every rule, in the order rules are tried,
        so a local file's change shows (comments, notes and examples do not count)."""
        rules = [[p.id, p.name, p.vendor, p.category, p.names, p.windows, p.macos, p.linux,
                  p.paths, p.args, p.version] for p in self.products.values()]  # fmt: skip
        digest = hashlib.sha256(json.dumps(rules).encode()).hexdigest()[:12]
        return f"{self.declared}+{digest}" if self.declared else digest

    @classmethod
    def load(cls, extra: Path | None = None, memo: int = MEMO_SIZE) -> Catalog:
        """The built-in catalog, with ``extra`` (an operator's ``DREAM_CATALOG_FILE``) merged
        in: its products add to the built-in ones or replace those of the same id."""
        text = resources.files("dream.catalog").joinpath("products.toml").read_text("utf-8")
        declared, families, products = read_toml(text, "products.toml")
        local: list[Product] = []
        if extra is not None:
            _, _, local = read_file(extra, families)
            merged = {p.id: p for p in products} | {p.id: p for p in local}
            products = list(merged.values())
        return cls(products, declared, memo, tuple(p.id for p in local))

    def match(self, name: str | None, command: str | None, os: str | None) -> Match | None:
        """The product of a process (``None``: the catalog does not know it; the caller keeps
        the executable name). ``os``: ``windows`` / ``macos`` / ``linux``, or ``None``."""
        exact = (name, command, os)
        found = self._seen.get(exact, _UNSEEN)
        if found is _UNSEEN:
            found = self.lookup(name or "", command_head(command), os)
            if len(self._seen) >= self._seen_size:  # bounded: start afresh, the LRU remains
                self._seen.clear()
            self._seen[exact] = found
        return found

    def _resolve(self, name: str, head: str, os: str | None) -> Match | None:
        """Path and argument rules first (the most specific), then the bundle, then the
        executable's names."""
        whole = head or name
        exe = program_path(head) if head else name
        lowered = (exe.lower(), whole.lower())
        for owner, on_args, literal, rule in self._rules:
            found = rule.search(whole if on_args else exe) if literal in lowered[on_args] else None
            if found is not None:
                if "version" in rule.groupindex and found.group("version"):
                    return replace(self._bare[owner.id], version=found.group("version"))
                return self._with_version(owner, name, head)
        product = self._by_name(name, head, os)
        return None if product is None else self._with_version(product, name, head)

    def _by_name(self, name: str, head: str, os: str | None) -> Product | None:
        bundle = outer_bundle(head) if os in ("macos", None) else None
        keys: list[tuple[str, tuple[str, ...]]] = []
        if bundle is not None:
            keys.append((bundle.lower(), ("bundle",)))  # "Adobe After Effects 2024.app" too
        scopes = ("any", os) if os else ("any", *OSES)
        candidates = [name, argv0(head)]
        spaced = program_path(head)  # "/Library/Sophos Anti-Virus/SophosScanD": a space in a folder
        if spaced[:1] == "/" and -1 < spaced.rfind(" ") < spaced.rfind("/"):
            candidates.append(spaced)
        keys += [(key(candidate), scopes) for candidate in candidates if candidate]
        for text, where in keys:
            for variant in _variants(text):
                for scope in where:
                    product = self._names.get((scope, variant))
                    if product is not None:
                        return product
        cut = name.lower()  # "gnome-terminal-", "Microsoft.Management.Serv"
        for system in (os,) if os else OSES:
            width = _CUT.get(system or "")
            if width is not None and len(cut) == width:
                return self._cut.get((system or "", cut))
        return None

    def _with_version(self, product: Product, name: str, head: str) -> Match:
        rule = self._versions.get(product.id)
        if rule is not None:
            for text in (head, name):
                found = rule.search(text) if text else None
                if found is not None:
                    group: Any = "version" if "version" in rule.groupindex else (1 if rule.groups else 0)
                    if found.group(group):
                        return replace(self._bare[product.id], version=found.group(group))
        return self._bare[product.id]

    def check(self) -> list[str]:
        """Every example that does not match its own product (or version): a rule too narrow,
        or another product's rule that takes it."""
        problems = []
        for product in self.products.values():
            for example in product.examples:
                problem = self._check_example(product, example)
                if problem:
                    problems.append(f"{product.source}: product {product.id!r}: field 'examples':"
                                    f" {example.text!r} ({example.os}) {problem}")  # fmt: skip
        return problems

    def _check_example(self, product: Product, example: Example) -> str | None:
        got = self._resolve(example.name or "", command_head(example.command), example.os)
        if got is None:
            return "matches no product"
        if got.product != product.id:
            return f"matches product {got.product!r} instead"
        if example.version is not None and got.version != example.version:
            return f"gives version {got.version!r}, not {example.version!r}"
        return None
