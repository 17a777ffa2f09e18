"""A small Python client for the Dream api, for notebooks and scripts.

>>> from dream.client import Client
>>> dream = Client("http://localhost:8080", key="dream_…")      # key: a `query` role key
>>> dream.top_apps(faculty="law", os="windows", limit=3)          # → list of dicts
>>> dream.usage(app="matlab", bucket="week", group_by="faculty", dataframe=True)  # → DataFrame

One method per question of the registry (``dream.analytics.questions``): ``top_apps``,
``usage``, ``breakdown``, ``processes``, ``users``, ``faculties``, ``hosts``, ...; each takes
that question's own parameters and the api's filters as keyword arguments: ``faculty``, ``os``, ``user``,
``host``, ``app``, ``from_`` (``from`` is a Python keyword; ``datetime`` or ISO 8601 text),
``to`` and ``include_system``. ``dataframe=True`` answers with a pandas DataFrame (pandas is
optional: ``pip install 'dream-usage[client]'``). The key is sent as ``Authorization: Bearer <key>``;
without ``key`` the ``DREAM_API_KEY`` environment variable is used when set.
"""

from __future__ import annotations

import inspect
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx

from dream.analytics.questions import BY_NAME, CURSOR, QUESTIONS, Question
from dream.endpoint import DEFAULT_URL, KEY_ENV

_FILTERS = ("faculty", "os", "user", "host", "app", "from_", "to", "include_system", "product",
            "category", "term")  # fmt: skip
# Times: these columns always, any other whose values are all ISO 8601 with an offset.
_TIME_COLUMNS = ("bucket", "collected_at")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")  # a calendar bucket's label (2026-autumn w3) is none
_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


class DreamAPIError(Exception):
    """The api answered with an error; ``status`` and ``detail`` say which."""

    def __init__(self, status: int, detail: Any) -> None:
        if isinstance(detail, list):  # FastAPI validation errors
            text = "; ".join(f"{d.get('loc', ['?'])[-1]}: {d.get('msg')}" for d in detail)
        else:
            text = str(detail)
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.detail = detail
        self.message = text  # the detail as one line of text


class NotDreamAPIError(DreamAPIError):
    """The server at the url answered, but not as Dream's api does: a web page, say, where the
    api answers JSON (``status`` is its status, ``detail`` says what it answered)."""

    def __init__(self, url: str, response: httpx.Response, expected: str) -> None:
        kind = response.headers.get("Content-Type") or "no Content-Type"
        detail = (f"the server at {url} did not answer as Dream's api does: HTTP"
                  f" {response.status_code} {kind}, not {expected}")  # fmt: skip
        Exception.__init__(self, detail)
        self.status = response.status_code
        self.detail = self.message = detail


class TruncatedWarning(UserWarning):
    """An answer was cut at the ``max_rows`` asked for while more rows match."""


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "dataframe=True needs pandas: pip install pandas (or 'dream-usage[client]')"
        ) from None
    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns:  # times (bucket, collected_at, any question's) as datetimes
        values = frame[column].dropna()
        labels = any(isinstance(v, str) and not _DATE.match(v) for v in values)  # `2026-autumn`
        if (column in _TIME_COLUMNS and not labels) or (
            len(values) and all(isinstance(v, str) and _MOMENT.fullmatch(v) for v in values)
        ):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class Client:
    """The Dream api at ``url``; use as a context manager or call ``close()``.

    The one HTTP client of the api's users (notebooks, scripts, ``dream query``): base URL,
    key, timeout, retries and the error policy (DreamAPIError) live here. ``retries``: how
    often a request that could not connect is tried again (nothing was sent: safe to repeat).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        key: str | None = None,
        *,
        timeout: float = 120.0,
        retries: int = 2,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        key = key if key is not None else os.environ.get(KEY_ENV) or None
        headers = {"Accept": "application/json", "User-Agent": "dream-client"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if http is None:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                      transport=httpx.HTTPTransport(retries=retries))  # fmt: skip
            self._owned = True
        else:  # e.g. FastAPI's TestClient, or a client with custom TLS settings
            self._http = http
            self._http.headers.update(headers)
            self._owned = False

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _params(self, filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
        unknown = set(filters) - set(_FILTERS)
        if unknown:
            raise TypeError(f"unknown filter(s) {sorted(unknown)}; known: {', '.join(_FILTERS)}")
        params = {("from" if k == "from_" else k): _param(v) for k, v in filters.items()}
        params.update({k: _param(v) for k, v in extra.items()})
        return {k: v for k, v in params.items() if v is not None and v != "false"}

    def fetch(
        self, path: str, params: dict[str, Any] | None = None, *, accept: str | None = None
    ) -> httpx.Response:
        """``GET path`` → the response, or DreamAPIError when the api answered an error
        (NotDreamAPIError when the answer is not of the media type ``accept`` asked for)."""
        headers = {"Accept": accept} if accept else None
        response = self._check(self._http.get(path, params=params, headers=headers))
        media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if accept and not set(",*") & set(accept) and media != accept.split(";")[0].lower():
            raise NotDreamAPIError(self.url, response, accept)
        return response

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET path`` → the decoded JSON answer, or DreamAPIError."""
        return self._json(self.fetch(path, params))

    def post_snapshot(self, output: IO[bytes], filename: str, fields: dict[str, str]) -> str:
        """``POST /v1/snapshots`` of a saved listing as a file upload (``dream ingest``) → the
        snapshot's id, or DreamAPIError."""
        response = self._check(self._http.post("/v1/snapshots", data=fields, files={
            "output": (filename, output, "application/octet-stream")}))  # fmt: skip
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("snapshot_id"), str):
            raise NotDreamAPIError(self.url, response, "a snapshot_id")
        return body["snapshot_id"]

    def _json(self, response: httpx.Response) -> Any:
        """The answer's JSON; NotDreamAPIError when it is none (a web page at the url, say)."""
        try:
            return response.json()
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            raise NotDreamAPIError(self.url, response, "JSON") from None

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            detail = body.get("detail", response.text) if isinstance(body, dict) else response.text
            raise DreamAPIError(response.status_code, detail)
        return response

    @staticmethod
    def _answer(rows: list[dict[str, Any]], dataframe: bool, columns: list[str] | None = None) -> Any:
        return _frame(rows, columns) if dataframe else rows

    # ------------------------------------------------------------------ questions

    def params_for(self, question: str, filters: dict[str, Any], **own: Any) -> dict[str, Any]:
        """The query parameters asking ``question``: its own parameters and the filters
        (TypeError naming any the question does not take)."""
        fields = BY_NAME[question].fields
        own.update({k: v for k, v in filters.items() if k in fields})
        return self._params({k: v for k, v in filters.items() if k not in fields}, **own)

    def ask(self, question: str, *, dataframe: bool = False, **params: Any) -> Any:
        """``question``'s rows (a list of dicts, or a DataFrame): its own parameters and the
        filters as keyword arguments. A paged question is read to the end (see ``processes``)."""
        q = BY_NAME[question]
        if q.paged:
            return self._all_rows(q, dataframe=dataframe, **params)
        body = self.get(q.path, self.params_for(question, params))
        return self._answer(q.rows(body), dataframe)

    def iter_rows(
        self, question: str, *, page_size: int = 1000, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Every row of a paged question under the filters, following the cursor."""
        q = BY_NAME[question]
        cursor = None
        while True:
            params = self.params_for(question, filters, limit=page_size, **{CURSOR: cursor})
            body = self.get(q.path, params)
            yield from q.rows(body)
            cursor = body["next_cursor"]
            if not cursor:
                return

    def iter_processes(self, *, page_size: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every raw process row under the filters, following the cursor."""
        return self.iter_rows("processes", page_size=page_size, **filters)

    def _all_rows(
        self, q: Question[Any], *, max_rows: int | None = None, page_size: int = 1000,
        dataframe: bool = False, **filters: Any,
    ) -> Any:  # fmt: skip
        """Every row following the cursor to the end; with ``max_rows``, at most that many,
        and a TruncatedWarning when more rows match."""
        rows: list[dict[str, Any]] = []
        for row in self.iter_rows(q.name, page_size=page_size, **filters):
            if max_rows is not None and len(rows) >= max_rows:
                warnings.warn(
                    f"{q.method_name}() stopped at max_rows={max_rows}: more rows match"
                    f" (max_rows=None reads them all; iter_rows({q.name!r}) streams them)",
                    TruncatedWarning, stacklevel=4,
                )  # fmt: skip
                break
            rows.append(row)
        return self._answer(rows, dataframe)

    def export(
        self, query: str, *, format: str = "csv", path: str | Path | None = None, **params: Any
    ) -> bytes | Path:
        """``/v1/export`` of ``query`` (top-apps, usage, breakdown, processes, users...) as CSV
        or Parquet: the bytes, or written to ``path`` (returned).

        To a ``path`` the answer is streamed into a temporary file beside it, renamed once
        whole: an export of millions of rows never sits in memory, and one cut short leaves no
        partial file under the name."""
        filters = {k: v for k, v in params.items() if k in _FILTERS}
        extra = {k: v for k, v in params.items() if k not in _FILTERS}
        call = self._params(filters, query=query, format=format, **extra)
        if path is None:
            return self.fetch("/v1/export", call).content
        target = Path(path)
        with self._http.stream("GET", "/v1/export", params=call) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    for chunk in response.iter_bytes():
                        fh.write(chunk)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return target

    def snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """A snapshot's state (pending, stored, failed), format and process count."""
        return self.get(f"/v1/snapshots/{snapshot_id}")


def _method(question: Question[Any]) -> Callable[..., Any]:
    """``Client.<question>(...)``: ``ask(question, ...)``, its positional parameters too."""

    def method(self: Client, *args: Any, dataframe: bool = False, **params: Any) -> Any:
        if len(args) > len(question.positional):
            raise TypeError(f"{question.method_name}() takes {len(question.positional)}"
                            f" positional argument(s), {len(args)} given")  # fmt: skip
        params.update(zip(question.positional, args, strict=False))
        return self.ask(question.name, dataframe=dataframe, **params)

    keyword = inspect.Parameter.KEYWORD_ONLY
    own = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD
                          if name in question.positional else keyword,
                          default=inspect.Parameter.empty if field.is_required() else field.default,
                          annotation=field.annotation)
        for name, field in question.fields.items() if not (question.paged and name in ("limit", CURSOR))
    ]  # fmt: skip
    if question.paged:
        own += [inspect.Parameter("max_rows", keyword, default=None, annotation=int | None),
                inspect.Parameter("page_size", keyword, default=1000, annotation=int)]  # fmt: skip
    own.sort(key=lambda p: p.kind)
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *own,
         inspect.Parameter("dataframe", keyword, default=False, annotation=bool),
         inspect.Parameter("filters", inspect.Parameter.VAR_KEYWORD)]
    )  # fmt: skip
    method.__name__ = method.__qualname__ = question.method_name
    method.__doc__ = question.description or question.summary
    return method


for _question in QUESTIONS:
    setattr(Client, _question.method_name, _method(_question))


__all__ = ["Client", "DreamAPIError", "NotDreamAPIError", "TruncatedWarning"]
