"""The published OpenAPI schema, complete: what FastAPI cannot infer from the routes.

``POST /v1/snapshots`` reads its body by hand (JSON or multipart, size and time limits), so its
request schema is declared in ``openapi_extra`` and its model registered here. Every ``/v1``
endpoint sits behind the bearer check (``dream.security.auth``) and a database or pipeline that
may be down: those responses are added to each operation, so a client (or a schema-driven
tester) sees every status code the api really answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

_REF = "#/components/schemas/{model}"
# Answered by the bearer check and the error handlers, on any /v1 operation.
_GUARDED_RESPONSES: dict[str, str] = {
    "401": "Missing or invalid credentials (`Authorization: Bearer <key or token>`).",
    "403": "The key's role does not allow this endpoint.",
    "429": "The key's rate limit is exceeded; retry after `Retry-After` seconds.",
    "503": "The database, pipeline or blob store is unavailable; retry after `Retry-After`"
    " seconds.",
}


def install_openapi(
    app: FastAPI, *, models: Sequence[type[BaseModel]], problem: type[BaseModel]
) -> None:
    """Make ``app.openapi()`` register ``models`` (referenced by hand in ``openapi_extra``) and
    document the bearer scheme and the guarded responses on every ``/v1`` operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        _, top = models_json_schema(
            [(m, "validation") for m in (*models, problem)], ref_template=_REF
        )
        for name, definition in top.get("$defs", {}).items():
            schemas.setdefault(name, definition)
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "An API key (`dream keys create`) or an OIDC access token.",
        }  # fmt: skip
        problem_ref = {"$ref": _REF.format(model=problem.__name__)}
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for operation in item.values():
                operation.setdefault("security", [{"bearer": []}])
                responses = operation.setdefault("responses", {})
                guarded = dict(_GUARDED_RESPONSES)
                if "requestBody" in operation:  # FastAPI's own answer to an unreadable body
                    guarded["400"] = "The body could not be parsed (not UTF-8 JSON, a broken form)."
                for status, description in guarded.items():
                    responses.setdefault(status, {
                        "description": description,
                        "content": {"application/json": {"schema": problem_ref}},
                    })  # fmt: skip
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
