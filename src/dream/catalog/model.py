"""The catalog's data: products, the fixed category taxonomy, and reading ``products.toml``.

The catalog is data reviewed like code (``products.toml`` beside this module, plus an
operator's ``DREAM_CATALOG_FILE``); this module turns that text into checked ``Product``s and
says exactly what is wrong with a file (product id, field, line), so a bad catalog never loads
half-way. docs/catalog.md describes the format.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dream.errors import ConfigurationError

# The taxonomy every product is filed under: fixed, so that "which statistics package does each
# faculty use" means the same on every campus. A new category is a change to this tuple.
CATEGORIES: tuple[str, ...] = (
    "office", "browser", "communication", "statistics", "mathematics", "programming",
    "cad-engineering", "gis", "graphics-media", "reference", "science", "education", "games",
    "utilities", "security", "system",
)  # fmt: skip
_PRODUCT_FIELDS = frozenset({"name", "vendor", "category", "family", "names", "windows", "macos",
                             "linux", "paths", "args", "version", "examples", "note"})  # fmt: skip
_FAMILY_FIELDS = frozenset({"vendor", "category", "version", "note"})
_EXAMPLE_FIELDS = frozenset({"command", "name", "os", "version"})
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
OSES = ("windows", "macos", "linux")
_MACOS_ROOTS = ("/Applications/", "/System/", "/Library/", "/Users/", "/opt/homebrew/")


class CatalogError(ConfigurationError):
    """A catalog file that cannot be used; ``problems`` holds one line per fault, each naming
    the file, line, product id and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class Example:
    """A name or command line a real listing shows, which must match its product (and version)."""

    command: str | None
    name: str | None
    os: str | None
    version: str | None

    @property
    def text(self) -> str:
        return self.command or self.name or ""


@dataclass(frozen=True, slots=True)
class Product:
    """One product and the rules that recognise its processes (docs/catalog.md)."""

    id: str
    name: str
    vendor: str
    category: str
    names: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()
    macos: tuple[str, ...] = ()
    linux: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # regexes on the executable's path
    args: tuple[str, ...] = ()  # regexes on the command head (an interpreter's program)
    version: str | None = None
    examples: tuple[Example, ...] = ()
    source: str = ""  # "file:line", for messages
    note: str = field(default="", compare=False)


def infer_os(text: str) -> str:
    """The OS a bare example string belongs to: a bundle path is macOS, an image name Windows."""
    lowered = text.lower()
    if ".app/" in text or text.endswith(".app") or text.startswith(_MACOS_ROOTS):
        return "macos"
    if ".exe" in lowered or "\\" in text:
        return "windows"
    return "linux"


def _header_lines(text: str) -> dict[str, int]:
    """Each ``[products.<id>]`` / ``[families.<id>]`` header's line number, for messages."""
    lines: dict[str, int] = {}
    pattern = re.compile(r'^\s*\[\s*(products|families)\.("?)([^"\]]+)\2\s*\]')
    for number, line in enumerate(text.splitlines(), start=1):
        match = pattern.match(line)
        if match:
            lines.setdefault(f"{match.group(1)}.{match.group(3).strip()}", number)
    return lines


def read_toml(text: str, origin: str, inherited: dict[str, dict[str, Any]] | None = None
              ) -> tuple[str, dict[str, dict[str, Any]], list[Product]]:  # fmt: skip
    """``(declared version, families, products)`` of one catalog file's text, or CatalogError
    listing every problem found (not just the first). ``inherited``: the families of the
    catalog this file extends (an operator's products may name the built-in families)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message names the line and column
        raise CatalogError([f"{origin}: not valid TOML: {exc}"]) from None
    problems: list[str] = []
    lines = _header_lines(text)
    unknown = set(data) - {"catalog", "families", "products"}
    if unknown:
        problems.append(f"{origin}: unknown top-level table(s) {sorted(unknown)}: expected"
                        " [catalog], [families.<id>], [products.<id>]")  # fmt: skip
    declared = str(data.get("catalog", {}).get("version", ""))
    families: dict[str, dict[str, Any]] = {**(inherited or {}), **data.get("families", {})}
    for fid, family in families.items():
        where = f"{origin}:{lines.get(f'families.{fid}', '?')}: family {fid!r}"
        for key in sorted(set(family) - _FAMILY_FIELDS):
            problems.append(f"{where}: unknown field {key!r}")
    products = []
    for pid, raw in data.get("products", {}).items():
        where = f"{origin}:{lines.get(f'products.{pid}', '?')}"
        product = _product(pid, raw, families, where, problems)
        if product is not None:
            products.append(product)
    if problems:
        raise CatalogError(problems)
    return declared, families, products


def _strings(raw: dict[str, Any], key: str, say: Any) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        say(key, "must be a list of non-empty strings")
        return ()
    return tuple(value)


def _product(pid: str, raw: Any, families: dict[str, dict[str, Any]], where: str,
             problems: list[str]) -> Product | None:  # fmt: skip
    def say(key: str, message: str) -> None:
        problems.append(f"{where}: product {pid!r}: field {key!r}: {message}")

    if not isinstance(raw, dict):
        problems.append(f"{where}: product {pid!r}: must be a table")
        return None
    before = len(problems)
    if not _ID.match(pid):
        say("id", "ids are lowercase letters, digits and '-'")
    for key in sorted(set(raw) - _PRODUCT_FIELDS):
        say(key, f"unknown field (known: {', '.join(sorted(_PRODUCT_FIELDS))})")
    family: dict[str, Any] = {}
    if "family" in raw:
        family = families.get(raw["family"], {}) if isinstance(raw["family"], str) else {}
        if not family:
            say("family", f"no [families.{raw['family']}] in the catalog")
    merged = {**family, **raw}
    for key in ("name", "vendor", "category"):
        if not isinstance(merged.get(key), str) or not merged[key].strip():
            say(key, "is required (a non-empty string)")
    for key in ("version", "note"):
        if key in merged and not isinstance(merged[key], str):
            say(key, "must be a string")
    if merged.get("category") not in CATEGORIES and isinstance(merged.get("category"), str):
        say("category", f"unknown category {merged['category']!r} (one of {', '.join(CATEGORIES)})")
    lists = {key: _strings(raw, key, say)
             for key in ("names", "windows", "macos", "linux", "paths", "args")}  # fmt: skip
    version = merged.get("version") if isinstance(merged.get("version"), str) else None
    regexes = [("paths", p) for p in lists["paths"]] + [("args", p) for p in lists["args"]]
    for field_name, pattern in regexes + ([("version", version)] if version else []):
        try:
            re.compile(pattern)
        except re.error as exc:
            say(field_name, f"bad regex {pattern!r}: {exc}")
    examples = _examples(raw.get("examples"), say)
    if not examples:
        say("examples", "at least one example (a name or command a real listing shows)")
    if not any(lists.values()):
        say("names", "no rule: give names, windows, macos, linux, paths or args")
    if len(problems) > before:
        return None
    return Product(pid, merged["name"], merged["vendor"], merged["category"], lists["names"],
                   lists["windows"], lists["macos"], lists["linux"], lists["paths"], lists["args"],
                   merged.get("version"), examples, where, str(merged.get("note", "")))  # fmt: skip


def _examples(value: Any, say: Any) -> tuple[Example, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if isinstance(item, str) and item.strip():
            out.append(Example(item, None, infer_os(item), None))
        elif isinstance(item, dict) and not set(item) - _EXAMPLE_FIELDS and (
            item.get("command") or item.get("name")
        ) and item.get("os", "linux") in OSES:
            text = item.get("command") or item["name"]
            out.append(Example(item.get("command"), item.get("name"),
                               item.get("os") or infer_os(text), item.get("version")))  # fmt: skip
        else:
            say("examples", f"{item!r}: a string, or a table of command/name, os, version")
    return tuple(out)


def read_file(path: Path, inherited: dict[str, dict[str, Any]] | None = None
              ) -> tuple[str, dict[str, dict[str, Any]], list[Product]]:  # fmt: skip
    """``read_toml`` of a file on disk (an operator's catalog), naming it in every message."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([f"{path}: cannot be read: {exc}"]) from None
    return read_toml(text, str(path), inherited)
