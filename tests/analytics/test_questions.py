"""Every question of the registry, asked through each door it opens: the REST route (JSON and
CSV), /v1/export and dream.client.Client, against the dataset in PostgreSQL (`dream query`:
test_cli_query.py).
The doors are generated from one entry; here they must give the same answer."""

from __future__ import annotations

import csv
import io
import warnings
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dream.analytics.products import with_product_columns
from dream.analytics.questions import QUESTIONS, Question
from dream.analytics.questions.registry import required_params
from dream.client import Client, TruncatedWarning

IDS = [q.name for q in QUESTIONS]


def rest_rows(client: TestClient, question: Question[Any], params: dict[str, Any]) -> list:
    response = client.get(question.path, params=params)
    assert response.status_code == 200, response.text
    return question.rows(response.json())


@pytest.mark.parametrize("question", QUESTIONS, ids=IDS)
def test_rest_csv_export_and_client_agree(client: TestClient, question: Question[Any]) -> None:
    params = required_params(question)
    rows = rest_rows(client, question, params)
    assert rows, "the dataset answers every question"

    as_csv = client.get(question.path, params={**params, "format": "csv"})
    header, *lines = list(csv.reader(io.StringIO(as_csv.text)))
    # The question's columns, with the product's beside `app` (analytics/products.py).
    columns = question.columns(question.params.model_validate(params))
    assert tuple(header) == with_product_columns(columns)
    assert len(lines) == len(rows)
    # The export's limit defaults to the route's, but a paged question is read past one page.
    page = {"limit": len(rows)} if question.paged else {}
    exported = client.get("/v1/export", params={"query": question.name, **params, **page})
    assert exported.status_code == 200, exported.text
    assert exported.text == as_csv.text

    asked = getattr(Client("http://testserver", http=client), question.method_name)
    if question.paged:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncatedWarning)
            assert asked(**params, max_rows=len(rows), page_size=len(rows)) == rows
    else:
        assert asked(**params) == rows
