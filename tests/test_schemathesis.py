"""Schemathesis against the real api (direct pipeline, real PostgreSQL): every operation of the
published OpenAPI schema gets generated valid and invalid requests, bounded and deterministic.

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
from helpers import beside_a_worker

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip
# Per operation and mode, a fixed number of derandomized examples, no shrinking: ~17
# operations x (examples, positive, negative) x 25 stay well under two minutes (~20 s), the
# same cases every run.
EXAMPLES = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))  # fmt: skip


@pytest.fixture(scope="module")
def app(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    dream = Dream(Settings(database_url=module_database_url, auth="off", batch_wait_s=0.05,
                           data_dir=tmp_path_factory.mktemp("schemathesis"))).open()  # fmt: skip
    with beside_a_worker(dream) as app:
        yield app
    dream.close()


def test_api_answers_as_its_schema_says(app: FastAPI) -> None:
    # The Python API directly (schemathesis' pytest plugin does not run under pytest 9).
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    seen: set[tuple[str, int]] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    for operation in operations:
        # The schema's own examples (a snapshot the api accepts), then generated inputs.
        strategies = [("examples", s) for s in operation.get_strategies_from_examples()]
        strategies += [(mode.value, operation.as_strategy(generation_mode=mode))
                       for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]  # fmt: skip
        for kind, strategy in strategies:

            @EXAMPLES
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
    assert len(answered) >= 12, sorted(seen)
