"""Reading request bodies safely: a size limit and a deadline enforced while the bytes arrive
(whatever the framing: Content-Length, chunked, multipart), and decoding of uploaded files."""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator

import anyio
from fastapi import HTTPException, Request
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

# A snapshot has nine text fields and one file; a few spare, so a client adding a field of its
# own still passes, while thousands of parts (each buffered up to 1 MiB) cannot pile up.
MAX_FORM_FIELDS = 32
MAX_FORM_FILES = 2
MAX_FIELD_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"request body exceeds the limit of {limit} bytes (DREAM_MAX_SNAPSHOT_BYTES)"
        )


class BodyTimeout(HTTPException):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            f"request body not received within {timeout_s:g} s (DREAM_BODY_TIMEOUT_S)",
            headers={"Connection": "close"},
        )


async def limited_stream(
    request: Request, limit: int, timeout_s: float
) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive: 413 once more than ``limit`` bytes came, 408 when the
    whole body has not arrived ``timeout_s`` after the first read (a slow client must not hold a
    slot of ``DREAM_MAX_IN_FLIGHT`` for ever)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    deadline = anyio.current_time() + timeout_s
    size = 0
    chunks = request.stream()
    try:
        while True:
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BodyTimeout(timeout_s) from None
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            yield chunk
    finally:
        await chunks.aclose()


async def read_limited(request: Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, within ``limit`` bytes and ``timeout_s`` (see ``limited_stream``)."""
    body = bytearray()
    async for chunk in limited_stream(request, limit, timeout_s):
        body += chunk
    return bytes(body)


async def read_form(request: Request, limit: int, timeout_s: float) -> FormData:
    """The multipart or urlencoded form, within ``limit`` bytes in all, ``timeout_s``, and
    ``MAX_FORM_FIELDS`` / ``MAX_FORM_FILES`` parts. Files are spooled (memory up to 1 MiB each,
    then disk); the caller closes the form."""
    stream = limited_stream(request, limit, timeout_s)
    parser: MultiPartParser | FormParser
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        parser = MultiPartParser(
            request.headers, stream, max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS,
            max_part_size=MAX_FIELD_BYTES,
        )  # fmt: skip
    else:
        parser = FormParser(
            request.headers, stream, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    try:
        return await parser.parse()
    except MultiPartException as exc:  # too many parts, a field too long, a malformed body
        raise HTTPException(400, f"multipart body refused: {exc.message}") from None
    finally:
        await stream.aclose()


def decode_output(data: bytes) -> str:
    """Text of an uploaded output file.

    Windows tools write UTF-16 LE with a BOM (PowerShell 5.1's ``>``) or UTF-8 with a BOM;
    anything else is taken as UTF-8, and failing that as Windows-1252, which never fails for
    the legacy code pages lab machines use and keeps ASCII columns intact.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
