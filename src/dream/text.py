"""Text a client sends that Dream stores or matches: a listing's bytes decoded, storable, and
(for names) visible.

PostgreSQL ``text`` holds neither NUL nor lone surrogates: refused here with a 422, never a 500.
Host and faculty names are also compared and grouped by, so two spellings that look alike must
not become two hosts: they are NFKC-normalized (fullwidth ``ｌａｗ`` is ``law``, ``ﬁ`` is ``fi``)
and characters that cannot be seen (zero-width, bidi overrides, other format and control
characters, fillers) are refused, naming the character and its position.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode categories of characters that render as nothing or reorder/alter what is around
# them: controls, format (zero-width, bidi overrides, tags), surrogates, private use,
# unassigned, line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and marks that draw nothing (Hangul fillers, braille blank, grapheme joiner, ...).
_INVISIBLE_OTHERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
_UNNAMED = {"Cc": "a control character", "Cn": "unassigned", "Co": "private use",
            "Cs": "a lone surrogate"}  # fmt: skip


def storable_text(value: str) -> str:
    """``value`` if PostgreSQL can store it, else ValueError saying where it is not."""
    if "\x00" in value:
        raise ValueError(f"must not contain NUL characters (position {value.index(chr(0)) + 1})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"is not valid Unicode text at position {exc.start + 1}") from None
    return value


def no_control_characters(value: str) -> str:
    """``value`` if it holds no ASCII control character and is storable."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return storable_text(value)


def invisible_character(value: str) -> str | None:
    """Why ``value`` is refused as a name (the first invisible character), or None."""
    for position, ch in enumerate(value, start=1):
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES or ch in _INVISIBLE_OTHERS:
            name = unicodedata.name(ch, "") or _UNNAMED[unicodedata.category(ch)]
            return (
                f"character U+{ord(ch):04X} ({name}) at position {position} is invisible or"
                " a control character: not allowed"
            )
    return None


def visible_name(value: object) -> object:
    """A name NFKC-normalized and stripped, or ValueError naming its first invisible character.

    Meant as a pydantic ``BeforeValidator``: the position counts in what the client sent, and
    length limits apply to the normalized text. It strips, though the type strips too: pydantic
    checks the length before a ``strip_whitespace`` that follows a before-validator, so a name
    of spaces (or of an ideographic space, a space once normalized) passed ``min_length`` and
    was stored as "". Non-strings pass through for the type check.
    """
    if not isinstance(value, str):
        return value
    problem = invisible_character(value)
    if problem is not None:
        raise ValueError(problem)
    return unicodedata.normalize("NFKC", value).strip()


_C1_BYTES = re.compile(rb"[\x80-\x9f]")


def decode_output(data: str | bytes, code_page: str | None = None) -> str:
    """A listing as text, however a collector captured it: the one decoder of Dream (the api
    decodes an upload with it, the worker and ``dream reprocess`` a raw output, ``parse`` bytes,
    the collector its own command's output).

    Windows tools write UTF-16 (PowerShell 5.1's ``>``, with a BOM; some pipes without one) or
    UTF-8 with a BOM; anything else is UTF-8 if it decodes. Otherwise a console's code page:
    ``code_page`` when the caller knows it (the collector asks its own console), else a guess:
    cp850 when its letters' byte range (0x80-0x9f, unused by text in Windows-1252) appears, else
    Windows-1252. Never raises; a str loses its BOM only.
    """
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xfe\xff"):
        return data[2:].decode("utf-16-be", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return data.decode("utf-16-le", errors="replace")  # ASCII in UTF-16 LE, no BOM
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if code_page is not None:
        try:
            return data.decode(code_page, errors="replace")
        except LookupError:
            pass  # a code page Python does not know: guess as for anyone else
    if _C1_BYTES.search(data):
        return data.decode("cp850", errors="replace")
    return data.decode("cp1252", errors="replace")
