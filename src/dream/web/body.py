"""Reading request bodies safely: a size limit and a deadline enforced while the bytes arrive
(whatever the framing: Content-Length, chunked, multipart), a bound on the bytes of every body
held at once, and decoding of uploaded files."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from dream.text import decode_output

# A snapshot has nine text fields and one file; a few spare, so a client adding a field of its
# own still passes, while thousands of parts cannot pile up. A text field may be as large as
# the body (the listing posted as a field, urlencoded or `-F output="$(ps aux)"`): the body's
# limit bounds what all of them buffer together.
MAX_FORM_FIELDS = 32
MAX_FORM_FILES = 2
OUTPUT_FIELD = "output"  # the listing: decoded by decode_output, every other field is UTF-8


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


class BodiesInFlight(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            503,
            f"the bodies being received exceed {limit} bytes in all (DREAM_MAX_IN_FLIGHT_BYTES);"
            " retry shortly",
            headers={"Retry-After": "1"},
        )


# Takes a post's next ``n`` bytes from the shared budget, or raises BodiesInFlight.
Take = Callable[[int], None]


class InFlightBytes:
    """The bytes of every post's body held at once, bounded: ``DREAM_MAX_IN_FLIGHT`` counts
    posts, so without this the api's memory would follow their number times the largest body.
    Bytes are taken as they arrive and given back when the post ends (its body is held until
    the snapshot is handed over)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    @contextmanager
    def post(self) -> Iterator[Take]:
        """One post's share: the ``take`` its body's chunks go through, all given back at the end."""
        taken = 0

        def take(n: int) -> None:
            nonlocal taken
            with self._lock:
                if self.held + n > self.limit:
                    raise BodiesInFlight(self.limit)
                self.held += n
            taken += n

        try:
            yield take
        finally:
            with self._lock:
                self.held -= taken


async def limited_stream(
    request: Request, limit: int, timeout_s: float, take: Take | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive: 413 once more than ``limit`` bytes came, 408 when the
    whole body has not arrived ``timeout_s`` after the first read (a slow client must not hold a
    slot of ``DREAM_MAX_IN_FLIGHT`` for ever); each chunk through ``take`` (InFlightBytes)."""
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
            if take is not None:
                take(len(chunk))
            yield chunk
    finally:
        await chunks.aclose()


async def read_limited(
    request: Request, limit: int, timeout_s: float, take: Take | None = None
) -> bytes:
    """The whole body, within ``limit`` bytes and ``timeout_s`` (see ``limited_stream``)."""
    body = bytearray()
    async for chunk in limited_stream(request, limit, timeout_s, take):
        body += chunk
    return bytes(body)


async def read_form(
    request: Request, limit: int, timeout_s: float, take: Take | None = None
) -> FormData:
    """The multipart or urlencoded form, within ``limit`` bytes in all, ``timeout_s``, and
    ``MAX_FORM_FIELDS`` / ``MAX_FORM_FILES`` parts. Files are spooled (memory up to 1 MiB each,
    then disk); the caller closes the form."""
    stream = limited_stream(request, limit, timeout_s, take)
    parser: MultiPartParser | FormParser
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        parser = Utf8MultiPartParser(
            request.headers, stream, max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS,
            max_part_size=limit,
        )  # fmt: skip
    else:
        parser = Utf8FormParser(
            request.headers, stream, max_fields=MAX_FORM_FIELDS, max_part_size=limit
        )
    try:
        return await parser.parse()
    except MultiPartException as exc:  # too many parts, a field too long, a malformed body
        raise HTTPException(400, f"form body refused: {exc.message}") from None
    finally:
        await stream.aclose()


# Starlette decodes a multipart text field that is not UTF-8 as Latin-1, and urlencoded escapes
# with U+FFFD replacements, without a word: a host name would be stored garbled. The parsers
# below check every field's raw bytes instead (422 naming the field).


def _not_utf8(name: str, data: bytes) -> dict[str, object] | None:
    """The validation error of field ``name`` if ``data`` is not UTF-8, else None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {
            "type": "unicode_decode",
            "loc": ("body", name),
            "msg": f"is not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "input": data[:200].decode("utf-8", errors="replace"),
        }
    return None


def field_text(name: str, data: bytes) -> str:
    """An uploaded file's text: ``output`` by ``decode_output``, any other field UTF-8 or 422."""
    if name == OUTPUT_FIELD:
        return decode_output(data)
    error = _not_utf8(name, data)
    if error is not None:
        raise RequestValidationError([error])
    return data.decode("utf-8")


class Utf8MultiPartParser(MultiPartParser):
    """Starlette's multipart parser, refusing text fields that are not UTF-8 (422)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._errors: list[dict[str, object]] = []

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            data = bytes(part.data)
            if part.field_name == OUTPUT_FIELD:
                self.items.append((part.field_name, decode_output(data)))
                return
            error = _not_utf8(part.field_name, data)
            if error is not None:
                self._errors.append(error)
        super().on_part_end()

    async def parse(self) -> FormData:
        form = await super().parse()
        if self._errors:
            await form.close()
            raise RequestValidationError(self._errors)
        return form


class Utf8FormParser(FormParser):
    """Starlette's urlencoded parser, refusing fields whose escapes are not UTF-8 (422); here
    ``output`` too: urlencoded text has no BOM or code page to go by."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._errors: list[dict[str, object]] = []

    def on_field_end(self) -> None:
        name = unquote_to_bytes(bytes(self._field_name).replace(b"+", b" "))
        value = unquote_to_bytes(bytes(self._field_value).replace(b"+", b" "))
        field = name.decode("utf-8", errors="replace")
        error = _not_utf8(field, name) or _not_utf8(field, value)
        if error is not None:
            self._errors.append(error)
        super().on_field_end()

    async def parse(self) -> FormData:
        form = await super().parse()
        if self._errors:
            raise RequestValidationError(self._errors)
        return form
