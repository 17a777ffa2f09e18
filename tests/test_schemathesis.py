"""Schemathesis against the real api (direct pipeline, real PostgreSQL): every operation of the
published OpenAPI schema gets generated valid and invalid requests, bounded and deterministic.
A snapshot stored first gives the analytics rows to answer with, and the snapshot's own routes
(state, rows, raw output) an id that exists, so their 200 bodies are checked, not only 404s.

0 server errors, and every response conforms to the schema: documented status code, content
type and body. tests/security/test_fuzz_api.py complements this with hand-made hostile bodies
(garbage bytes, wrong content types) and authentication on; here auth is off so the generated
requests reach the handlers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dream.app import Dream
from dream.settings import Settings
from helpers import beside_a_worker, live_ps_aux, snapshot_body, wait_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip
# Per operation and mode, a fixed number of derandomized examples, no shrinking: 27
# operations x (examples, positive, negative) x 25 stay under two minutes (40-60 s on a busy
# machine). Mostly the same cases every run: schemathesis also draws from Python's `random`
# inside its strategies (Hypothesis warns of it), so a few cases differ from run to run.
EXAMPLES = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))  # fmt: skip
# The stored snapshot's routes vary little beyond its id: a few examples check their bodies.
FEW = settings(EXAMPLES, max_examples=5)


@pytest.fixture(scope="module")
def app(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    dream = Dream(Settings(database_url=module_database_url, auth="off", batch_wait_s=0.05,
                           data_dir=tmp_path_factory.mktemp("schemathesis"))).open()  # fmt: skip
    with beside_a_worker(dream) as app:
        yield app
    dream.close()


@pytest.fixture(scope="module")
def stored(app: FastAPI) -> str:
    """The id of a snapshot of this machine's `ps aux`, stored with its rows."""
    client = TestClient(app)  # no lifespan, as schemathesis calls the app
    body = snapshot_body(live_ps_aux())
    assert client.post("/v1/snapshots", json=body).status_code == 202
    url = f"/v1/snapshots/{body['snapshot_id']}"
    state = wait_for(lambda: (s := client.get(url).json())["status"] != "pending" and s,
                     timeout_s=60, what="the seeded snapshot stored")  # fmt: skip
    assert state["status"] == "stored" and state["process_count"] > 0, state
    return str(body["snapshot_id"])


def test_api_answers_as_its_schema_says(app: FastAPI, stored: str) -> None:
    # The Python API directly (schemathesis' pytest plugin does not run under pytest 9).
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    def at_stored(case: Any) -> Any:
        case.path_parameters["snapshot_id"] = stored
        return case

    failures: list[str] = []
    seen: set[tuple[str, int]] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    for operation in operations:
        # The schema's own examples (a snapshot the api accepts), then generated inputs.
        strategies = [("examples", s) for s in operation.get_strategies_from_examples()]
        strategies += [(mode.value, operation.as_strategy(generation_mode=mode))
                       for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]  # fmt: skip
        if "{snapshot_id}" in operation.path:  # valid requests about the stored snapshot
            strategies.append(("stored", operation.as_strategy().map(at_stored)))
        for kind, strategy in strategies:

            @(FEW if kind == "stored" else EXAMPLES)
            @given(case=strategy)
            def run(case: Any) -> None:
                response = case.call_and_validate(checks=CHECKS)
                seen.add((case.operation.label, response.status_code))

            try:
                run()
            except Unsatisfiable:  # negative: nothing to break in an operation without inputs
                assert kind == "negative" and not list(operation.iter_parameters())
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report at once
                failures.append(f"{operation.label} [{kind}]: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # The generated requests reached the handlers, not only the validation in front of them.
    answered = {label for label, status in seen if status < 300}
    must = {op.label for op in operations
            if op.label.startswith(("POST /v1/snapshots", "GET /v1/snapshots/", "GET /v1/analytics/"))}  # fmt: skip
    assert len(must) >= 10 and must <= answered, sorted(must - answered)
    assert len(answered) >= 20, sorted(seen)
