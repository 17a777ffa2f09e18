"""The one decoder of a listing's bytes (dream.text.decode_output): the api, the worker, the
reprocess and ``parse`` all read a listing through it, so they agree on every byte."""

from __future__ import annotations

import codecs

import pytest

from dream.collector import decode_listing
from dream.text import decode_output
from dream.web.body import OUTPUT_FIELD, field_text

LISTING = "USER PID COMMAND\njos\u00e9 1 caf\u00e9\n"
GERMAN = "Abbildname PID Benutzername\nexplorer.exe 1 M\u00fcller\n"  # ü: 0x81 in cp850


@pytest.mark.parametrize(
    "data",
    [
        LISTING.encode("utf-8"),
        codecs.BOM_UTF8 + LISTING.encode("utf-8"),
        codecs.BOM_UTF16_LE + LISTING.encode("utf-16-le"),  # PowerShell 5.1's `>`
        codecs.BOM_UTF16_BE + LISTING.encode("utf-16-be"),
        LISTING.encode("utf-16-le"),  # no BOM, as some pipes write
        LISTING.encode("cp1252"),  # a legacy console, nothing in cp850's letter range
        "\ufeff" + LISTING,  # text already, with its BOM
    ],
)
def test_every_encoding_a_collector_sends_gives_the_same_text(data: bytes | str) -> None:
    assert decode_output(data) == LISTING


def test_oem_code_page_letters_are_read_as_cp850() -> None:
    assert decode_output(GERMAN.encode("cp850")) == GERMAN
    assert GERMAN.encode("cp850").decode("cp1252", errors="replace") != GERMAN


def test_undecodable_bytes_never_raise() -> None:
    assert decode_output(b"\xff\xfe\x00") == "\ufffd"
    assert isinstance(decode_output(bytes(range(256))), str)


RUSSIAN = "Имя образа PID Пользователь\nMATLAB.exe 1 LAB\\Студент\n"
BYTE_VARIANTS = [
    LISTING.encode("utf-8"), codecs.BOM_UTF8 + LISTING.encode("utf-8"),
    codecs.BOM_UTF16_LE + LISTING.encode("utf-16-le"), LISTING.encode("utf-16-le"),
    LISTING.encode("cp1252"), GERMAN.encode("cp850"), RUSSIAN.encode("cp866"), bytes(range(256)),
]


@pytest.mark.parametrize("data", BYTE_VARIANTS)
def test_the_api_the_collector_and_parse_read_bytes_alike(data: bytes) -> None:
    """One policy: an upload's ``output`` (multipart), ``dream parse FILE`` and what a collector
    off Windows sends are the same text for the same bytes."""
    text = decode_output(data)
    assert field_text(OUTPUT_FIELD, data) == text
    assert decode_listing(data, "linux") == decode_listing(data, "macos") == text


def test_a_known_console_code_page_is_used_for_legacy_bytes() -> None:
    """A Russian console writes cp866, which no guess from the bytes alone gets right."""
    data = RUSSIAN.encode("cp866")
    assert decode_output(data, "cp866") == RUSSIAN
    assert decode_output(data) != RUSSIAN
    assert decode_output(RUSSIAN.encode("utf-8"), "cp866") == RUSSIAN  # UTF-8 still comes first
    assert decode_output(data, "no-such-code-page") == decode_output(data)
