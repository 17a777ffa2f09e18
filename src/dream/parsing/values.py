"""Small, forgiving converters for the values process listings print.

They return ``None`` instead of raising, because one odd cell must never sink a whole listing;
the table parsers decide whether a ``None`` makes a row malformed.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator

from dream.parsing.model import Notes, SkippedRow

# Thousands separators seen in tasklist memory cells across locales (en ",", de ".", fr/ru
# no-break or narrow no-break space, ch "'").
_GROUPING = re.compile(r"[,.\s\u00a0\u202f']")
_SIZE_SUFFIX = {"k": 1, "m": 1024, "g": 1024**2, "t": 1024**3, "p": 1024**4, "e": 1024**5}


def to_int(text: str) -> int | None:
    """An ``int`` or ``None``; tolerates surrounding blanks and thousands separators."""
    try:
        return int(text)
    except ValueError:
        pass
    cleaned = _GROUPING.sub("", text)
    if cleaned.isdigit() and cleaned.isascii():
        return int(cleaned)
    return None


def whole(text: str) -> int:
    """``int(text)`` of ASCII digits alone, or ValueError: ``int`` also reads ``+4242``,
    ``4_242`` and other scripts' digits (``４２``), which no ``ps`` prints as a number."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def finite(text: str) -> float:
    """``float(text)``, or ValueError for what is no measurement: ``float`` also reads ``nan``
    and ``inf``, which PostgreSQL stores and every average then carries."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return number


def to_float(text: str) -> float | None:
    """A finite ``float`` or ``None``; accepts a decimal comma (``0,5``) as some locales print
    it."""
    try:
        return finite(text)
    except ValueError:
        pass
    if text.count(",") == 1 and "." not in text:
        try:
            return finite(text.replace(",", "."))
        except ValueError:
            return None
    return None


_DROP_GROUPING = str.maketrans("", "", ",.' \u00a0\u202f")
_DROP_BLANKS = str.maketrans("", "", "' \u00a0\u202f")


def grouped_decimal(text: str) -> float | None:
    """A number printed with .NET's ``N`` format in any culture: ``17,848.02`` (en),
    ``17.848,02`` (de), ``17 848,02`` (fr, U+00A0/U+202F), ``17'848.02`` (ch), ``0,5``.

    The separator that comes last is the decimal point unless exactly three digits follow it
    and it also appears before (``1,234,567``) or the other one does not appear at all with
    three digits after it (``1,234`` is a thousand: ``N`` prints two decimals, never three).
    """
    try:
        return finite(text)
    except ValueError:
        pass
    cleaned = text.strip().translate(_DROP_BLANKS)
    sign = ""
    if cleaned and cleaned[0] in "+-":  # ("" is in every string: a blank cell crashed here)
        sign, cleaned = cleaned[0], cleaned[1:]
    last = max(cleaned.rfind(","), cleaned.rfind("."))
    if last >= 0:
        mark = cleaned[last]
        other = "." if mark == "," else ","
        tail = cleaned[last + 1:]
        if len(tail) == 3 and (cleaned.count(mark) > 1 or other not in cleaned):
            cleaned = cleaned.replace(mark, "")  # only grouping separators
        else:
            cleaned = cleaned[:last].replace(other, "").replace(mark, "") + "." + tail
    if not cleaned.replace(".", "", 1).isdigit() or not cleaned.isascii():
        return None
    return to_float(sign + cleaned)  # (digits: finite, unless there are hundreds of them)


def memory_kb(text: str) -> int | None:
    """Tasklist memory (``1,248,772 K``, ``1.248.772 K``, ``1 248 772 Ko``, ``4 840 КБ``) in KiB:
    the unit is whatever letters end the cell, in any script (K, KB, Ko, КБ)."""
    end = len(text)
    while end and (text[end - 1].isalpha() or text[end - 1].isspace()):
        end -= 1
    cleaned = text[:end].translate(_DROP_GROUPING)
    if cleaned.isdigit() and cleaned.isascii():
        return int(cleaned)
    return None


def size_kb(text: str) -> int | None:
    """top's VIRT/RES (KiB, or ``1.5g``/``230m`` with a unit suffix) in KiB."""
    value = to_int(text)
    if value is not None:
        return value
    if len(text) > 1:
        factor = _SIZE_SUFFIX.get(text[-1].lower())
        number = to_float(text[:-1])
        if factor is not None and number is not None:
            return int(number * factor)
    return None


def duration_seconds(text: str) -> float | None:
    """CPU TIME as seconds.

    Two fields are ``mm:ss`` (``0:03``, BSD ``7:53.61``, top ``TIME+``), three are ``hh:mm:ss``
    (``01:02:03``, tasklist ``310:02:11``) and ``d-`` prefixes days (``1-02:03:04``).
    """
    days = 0
    if "-" in text:
        day_text, _, text = text.partition("-")
        if not day_text.isdigit():
            return None
        days = int(day_text)
    parts = text.split(":")
    try:
        if len(parts) == 2:
            total = int(parts[0]) * 60 + float(parts[1])
        elif len(parts) == 3:
            total = int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
        elif len(parts) == 1:
            total = float(parts[0])
        else:
            return None
    except ValueError:
        return None
    if total != total or total in (float("inf"), float("-inf")) or total < 0:
        return None
    return round(days * 86400 + total, 3)


def iter_line_chunks(text: str, start: int = 0, chunk_chars: int = 1 << 20) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(index of first line, lines)`` for ~1 MiB slices of ``text`` from offset ``start``.

    Lines split on ``\\n`` only (a trailing ``\\r`` is dropped) so numbering matches what an
    editor shows; slicing bounds the transient memory to one chunk instead of a full copy.
    Indices are relative to ``start``.
    """
    end_all = len(text)
    pos = start
    index = 0
    while pos < end_all:
        end = text.find("\n", pos + chunk_chars)
        end = end_all if end < 0 else end + 1
        chunk = text[pos:end]
        pos = end
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n")
        lines = chunk.split("\n")
        if lines[-1] == "":
            lines.pop()
        yield index, lines
        index += len(lines)



def csv_delimiter(header: str) -> str:
    """``;`` for ``ConvertTo-Csv -UseCulture`` where the list separator is one (de, fr, ...),
    told by its quoted header (``"Name";"Id"``), else ``,``."""
    return ";" if '";"' in header and '","' not in header else ","


def csv_rows(reader: Iterator[list[str]], current: list[int], warnings: list[str]) -> Iterator[list[str]]:
    """Rows of a ``csv.reader``, turning a broken row (``csv.Error``) into a warning, not a crash.

    ``current[0]`` is the line number of the last line fed to the reader.
    """
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            skip_row(warnings, current[0], f"unreadable CSV row ({exc})")


def skip_row(warnings: list[str], lineno: int, why: str) -> None:
    """Warn of a skipped row by its line number and reason, never its text: rows name users and
    their files, and warnings are stored where ``query`` keys read them (the raw output stays
    in the blob store for admins). A parse's ``Notes`` also keep it as a ``SkippedRow``."""
    row = SkippedRow(lineno, why)
    warnings.append(row.warning)
    if isinstance(warnings, Notes):
        warnings.skipped.append(row)


def numbered(text: str, start: int, first_lineno: int) -> Iterable[tuple[int, str]]:
    """``(1-based line number, line)`` from offset ``start`` whose line is ``first_lineno``."""
    for index, lines in iter_line_chunks(text, start):
        for offset, line in enumerate(lines):
            yield first_lineno + index + offset, line
