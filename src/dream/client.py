"""A small Python client for the Dream api, for notebooks and scripts.

>>> from dream.client import Client
>>> dream = Client("http://localhost:8080", key="dream_…")      # key: a `query` role key
>>> dream.top_apps(faculty="law", os="windows", limit=3)          # → list of dicts
>>> dream.usage(app="matlab", bucket="week", group_by="faculty", dataframe=True)  # → DataFrame

Every method takes the api's filters as keyword arguments: ``faculty``, ``os``, ``user``,
``host``, ``app``, ``from_`` (``from`` is a Python keyword; ``datetime`` or ISO 8601 text),
``to`` and ``include_system``. ``dataframe=True`` answers with a pandas DataFrame (pandas is
optional: ``pip install 'dream-usage[client]'``). The key is sent as ``Authorization: Bearer <key>``;
without ``key`` the ``DREAM_API_KEY`` environment variable is used when set.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

_FILTERS = ("faculty", "os", "user", "host", "app", "from_", "to", "include_system")
_TIME_COLUMNS = ("bucket", "collected_at")


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
    for column in _TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class Client:
    """The Dream api at ``url``; use as a context manager or call ``close()``."""

    def __init__(
        self,
        url: str = "http://localhost:8080",
        key: str | None = None,
        *,
        timeout: float = 120.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        key = key if key is not None else os.environ.get("DREAM_API_KEY") or None
        headers = {"Accept": "application/json", "User-Agent": "dream-client"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if http is None:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
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

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET path`` → the decoded JSON answer, or DreamAPIError."""
        response = self._http.get(path, params=params)
        return self._check(response).json()

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise DreamAPIError(response.status_code, detail)
        return response

    @staticmethod
    def _answer(rows: list[dict[str, Any]], dataframe: bool, columns: list[str] | None = None) -> Any:
        return _frame(rows, columns) if dataframe else rows

    # ------------------------------------------------------------------ questions

    def top_apps(
        self, *, limit: int = 10, metric: str = "users", dataframe: bool = False, **filters: Any
    ) -> Any:
        """Applications ranked by ``metric`` (users, hosts, snapshots, processes, cpu, memory)."""
        body = self.get("/v1/analytics/top-apps", self._params(filters, limit=limit, metric=metric))
        return self._answer(body["items"], dataframe)

    def usage(
        self, *, bucket: str = "day", group_by: str | None = None, dataframe: bool = False,
        **filters: Any,
    ) -> Any:  # fmt: skip
        """One row per (group, bucket): ``group`` is None without ``group_by``."""
        body = self.get(
            "/v1/analytics/usage", self._params(filters, bucket=bucket, group_by=group_by)
        )
        rows = [{"group": s["group"], **p} for s in body["series"] for p in s["points"]]
        return self._answer(rows, dataframe)

    def breakdown(
        self, by: str, *, metric: str = "users", limit: int = 1000, dataframe: bool = False,
        **filters: Any,
    ) -> Any:  # fmt: skip
        """Counts per ``by`` (faculty, os, user, host, app)."""
        body = self.get(
            "/v1/analytics/breakdown", self._params(filters, by=by, metric=metric, limit=limit)
        )
        return self._answer(body["items"], dataframe)

    def iter_processes(self, *, page_size: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every raw process row under the filters, following the cursor."""
        cursor = None
        while True:
            body = self.get(
                "/v1/processes", self._params(filters, limit=page_size, cursor=cursor)
            )
            yield from body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return

    def processes(
        self, *, max_rows: int | None = None, page_size: int = 1000, dataframe: bool = False,
        **filters: Any,
    ) -> Any:  # fmt: skip
        """Every raw process row under the filters, following the cursor to the end; with
        ``max_rows``, at most that many, and a TruncatedWarning when more rows match."""
        rows: list[dict[str, Any]] = []
        for row in self.iter_processes(page_size=page_size, **filters):
            if max_rows is not None and len(rows) >= max_rows:
                warnings.warn(
                    f"processes() stopped at max_rows={max_rows}: more rows match"
                    " (max_rows=None reads them all; iter_processes() streams them)",
                    TruncatedWarning, stacklevel=2,
                )  # fmt: skip
                break
            rows.append(row)
        return self._answer(rows, dataframe)

    def faculties(self, *, dataframe: bool = False, **filters: Any) -> Any:
        return self._answer(self.get("/v1/faculties", self._params(filters))["items"], dataframe)

    def users(self, *, q: str | None = None, dataframe: bool = False, **filters: Any) -> Any:
        return self._answer(self.get("/v1/users", self._params(filters, q=q))["items"], dataframe)

    def hosts(self, *, q: str | None = None, dataframe: bool = False, **filters: Any) -> Any:
        return self._answer(self.get("/v1/hosts", self._params(filters, q=q))["items"], dataframe)

    def export(
        self, query: str, *, format: str = "csv", path: str | Path | None = None, **params: Any
    ) -> bytes | Path:
        """``/v1/export`` of ``query`` (top-apps, usage, breakdown, processes, users...) as CSV
        or Parquet: the bytes, or written to ``path`` (returned)."""
        filters = {k: v for k, v in params.items() if k in _FILTERS}
        extra = {k: v for k, v in params.items() if k not in _FILTERS}
        call = self._params(filters, query=query, format=format, **extra)
        response = self._check(self._http.get("/v1/export", params=call))
        if path is None:
            return response.content
        target = Path(path)
        target.write_bytes(response.content)
        return target

    def snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """A snapshot's state (pending, stored, failed), format and process count."""
        return self.get(f"/v1/snapshots/{snapshot_id}")


__all__ = ["Client", "DreamAPIError", "TruncatedWarning"]
