"""`dream.client.Client`: the api's answers as lists of dicts or DataFrames, the key as a Bearer
token, exports; and the example notebook in docs/, run cell by cell against the same api."""

from __future__ import annotations

import io
import json
import sys
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent / "analytics"))

import analytics_dataset as ds
import dream.client
from dream.app import Dream
from dream.client import Client, DreamAPIError, TruncatedWarning
from dream.web.app import create_app
from dream.parsing.model import ProcessRecord
from dream.settings import Settings
from dream.snapshots import Snapshot
from dream.storage.partitions import PartitionManager
from dream.storage.writer import ProcessedSnapshot, SnapshotWriter
from helpers import live_api_of

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "notebook.ipynb"


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    ds.load(database_url)
    d = Dream(Settings(database_url=database_url, data_dir=tmp_path, auth="off")).open()
    with TestClient(create_app(d, publisher=d.publisher())) as c:
        yield c
    d.close()


def test_answers_equal_the_api(api: TestClient) -> None:
    dream = Client("http://testserver", http=api)
    top = dream.top_apps(faculty="law", os="windows", limit=3)
    assert top == api.get("/v1/analytics/top-apps",
                          params={"faculty": "law", "os": "windows", "limit": 3}).json()["items"]  # fmt: skip
    assert top[0]["app"] == "winword" and top[0]["users"] == 3
    usage = dream.usage(app="matlab", bucket="week", group_by="faculty")
    body = api.get("/v1/analytics/usage",
                   params={"app": "matlab", "bucket": "week", "group_by": "faculty"}).json()  # fmt: skip
    assert usage == [{"group": s["group"], **p} for s in body["series"] for p in s["points"]]
    assert dream.breakdown("os", include_system=True) == api.get(
        "/v1/analytics/breakdown", params={"by": "os", "include_system": "true"}).json()["items"]  # fmt: skip
    assert {f["faculty"] for f in dream.faculties()} == {"law", "medicine", "engineering"}
    assert dream.users(faculty="law", q="a")[0]["user"] == "alice"
    assert dream.hosts(os="linux")
    rows = dream.processes(host="eng-lx-1", max_rows=None, page_size=7)
    assert len(rows) > 7 and all(r["host"] == "eng-lx-1" for r in rows)
    with pytest.warns(TruncatedWarning, match="max_rows=5"):
        assert len(dream.processes(host="eng-lx-1", max_rows=5)) == 5
    frm = dream.top_apps(from_="2026-03-03T00:00:00Z", to="2026-03-04T00:00:00Z")
    assert frm == api.get("/v1/analytics/top-apps", params={
        "from": "2026-03-03T00:00:00Z", "to": "2026-03-04T00:00:00Z"}).json()["items"]  # fmt: skip


def test_dataframes(api: TestClient) -> None:
    dream = Client("http://testserver", http=api)
    frame = dream.top_apps(faculty="engineering", dataframe=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["app"]) == [r["app"] for r in dream.top_apps(faculty="engineering")]
    usage = dream.usage(bucket="day", dataframe=True)
    assert str(usage["bucket"].dtype).startswith("datetime64") and str(usage["bucket"].dt.tz) == "UTC"
    apps = dream.apps(faculty="law", dataframe=True)  # any question's times, not only bucket
    assert list(apps["app"]) == [a["app"] for a in dream.apps(faculty="law")]
    assert str(apps["first_seen"].dt.tz) == "UTC"
    assert not pd.api.types.is_datetime64_any_dtype(apps["app"])  # text stays text
    with pytest.warns(TruncatedWarning):
        assert len(dream.processes(max_rows=20, dataframe=True)) == 20


def test_processes_reads_past_ten_thousand_rows(database_url: str, tmp_path: Path) -> None:
    """Every matching row, however many pages: no quiet cap."""
    at = datetime.now(UTC) - timedelta(hours=1)
    snap = Snapshot(snapshot_id=uuid.uuid4(), host="big-host", os="linux", user="ann",
                    faculty="law", collected_at=at, received_at=at, command="ps aux",
                    output="(generated)")  # fmt: skip
    procs = [ProcessRecord(pid=p, user="ann", name="worker", app="worker", is_system=False,
                           cpu_percent=0.0, rss_kb=1000) for p in range(1, 10_052)]  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        SnapshotWriter(PartitionManager()).write(
            conn, [ProcessedSnapshot(snap, "stored", format="ps-aux", processes=procs)]
        )
    d = Dream(Settings(database_url=database_url, data_dir=tmp_path, auth="off")).open()
    try:
        with TestClient(create_app(d, publisher=d.publisher())) as api, warnings.catch_warnings():
            warnings.simplefilter("error", TruncatedWarning)  # the whole answer: nothing cut
            rows = Client("http://testserver", http=api).processes(page_size=2000)
    finally:
        d.close()
    assert sorted(r["pid"] for r in rows) == list(range(1, 10_052))


def test_dataframe_without_pandas(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    dream = Client("http://testserver", http=api)
    assert dream.top_apps()  # lists work without pandas
    with pytest.raises(ImportError, match="pandas"):
        dream.top_apps(dataframe=True)


def test_exports(api: TestClient, tmp_path: Path) -> None:
    dream = Client("http://testserver", http=api)
    csv_bytes = dream.export("top-apps", faculty="law", limit=3)
    assert csv_bytes.decode().splitlines()[0].startswith("app,product,vendor,category,version,users")
    path = dream.export("usage", format="parquet", path=tmp_path / "u.parquet", bucket="week")
    assert pq.read_table(path).num_rows == len(dream.usage(bucket="week"))
    table = pq.read_table(io.BytesIO(dream.export("processes", format="parquet", host="law-pc-1")))
    assert set(table.column("host").to_pylist()) == {"law-pc-1"}


def test_errors_and_key(database_url: str, tmp_path: Path) -> None:
    """The real api on a real socket, wanting keys: what the client sends, and the api's errors."""
    ds.load(database_url)
    # min_group_users=1: k-anonymity off, so the small dataset's answers are shown whole.
    secured = Dream(Settings(database_url=database_url, data_dir=tmp_path, auth="on",
                             min_group_users=1)).open()  # fmt: skip
    key = secured.keys.create("analyst", "query").secret
    seen: list[httpx.Request] = []
    try:
        for url in live_api_of(secured):
            with httpx.Client(base_url=url, event_hooks={"request": [seen.append]}) as http:
                dream = Client(url, key=key, http=http)
                top = dream.top_apps(faculty="law")
                sent = seen[-1]
                assert sent.headers["authorization"] == f"Bearer {key}"
                assert "include_system" not in str(sent.url)  # false is the default: not sent
                answer = http.get("/v1/analytics/top-apps", params={"faculty": "law"})
                assert top and top == answer.json()["items"]
                with pytest.raises(DreamAPIError, match="metric: ") as info:
                    dream.top_apps(metric="bogus")
                assert info.value.status == 422 and "metric=bogus" in str(seen[-1].url)
                with pytest.raises(TypeError, match="facutly"):
                    dream.top_apps(facutly="law")
                with Client(url, key="dream_wrong") as stranger, pytest.raises(DreamAPIError) as info:
                    stranger.top_apps()
                assert info.value.status == 401
    finally:
        secured.close()


def test_the_example_notebook_runs(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/notebook.ipynb, every code cell in order, against the dataset's api."""
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["nbformat"] == 4
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 4 and all(not c.get("outputs") for c in cells)
    real = Client
    monkeypatch.setattr(dream.client, "Client", lambda url=None, key=None, **kw: real(
        "http://testserver", key, http=api))  # fmt: skip
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {}
    for cell in cells:
        source = "".join(cell["source"])
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    assert isinstance(namespace["top"], pd.DataFrame) and len(namespace["top"])
