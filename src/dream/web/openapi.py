"""The published OpenAPI schema, complete: what FastAPI cannot infer from the routes.

``POST /v1/snapshots`` reads its body by hand (JSON or multipart, size and time limits), so its
request schema is declared in ``openapi_extra`` and its model registered here. Every ``/v1``
endpoint sits behind the bearer check (``dream.security.auth``) and a database or pipeline that
may be down: those responses are added to each operation, so a client (or a schema-driven
tester) sees every status code the api really answers.

``/docs`` (Swagger UI) and ``/redoc`` load their scripts and styles from the package
(``dream/dashboard/static/vendor``), never from a CDN: the api's own documentation must read
on a machine with no way out to the internet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dream.dashboard import ASSET_PREFIX

_REF = "#/components/schemas/{model}"
# Answered by the bearer check and the error handlers, on any /v1 operation.
_GUARDED_RESPONSES: dict[str, str] = {
    "401": "Missing or invalid credentials (`Authorization: Bearer <key or token>`).",
    "403": "The key's role does not allow this endpoint.",
    "429": "The key's rate limit is exceeded; retry after `Retry-After` seconds.",
    "503": "The database, pipeline or blob store is unavailable; retry after `Retry-After`"
    " seconds.",
}


# The vendored files the documentation pages load, under ``ASSET_PREFIX``.
DOCS_ASSETS = {
    "swagger_js": "vendor/swagger-ui/swagger-ui-bundle.js",
    "swagger_css": "vendor/swagger-ui/swagger-ui.css",
    "redoc_js": "vendor/redoc/redoc.standalone.js",
    "favicon": "favicon.svg",
}
# The pages' images, fonts and calls from this origin only: ReDoc's sidebar links a logo on
# cdn.redoc.ly, which the browser then never asks for (the scripts are FastAPI's inline ones).
_DOCS_CSP = (
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)


def install_docs(app: FastAPI) -> None:
    """``GET /docs`` and ``GET /redoc`` over ``app.openapi_url``, assets from the package (the
    app is built with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not)."""
    assert app.openapi_url is not None, "the docs pages render the published schema"
    openapi_url = app.openapi_url

    def urls(request: Request) -> dict[str, str]:  # behind a proxy's prefix too
        root = request.scope.get("root_path", "").rstrip("/")
        found = {key: root + ASSET_PREFIX + name for key, name in DOCS_ASSETS.items()}
        return found | {"openapi": root + openapi_url}

    pages: dict[str, Callable[[dict[str, str]], HTMLResponse]] = {
        "/docs": lambda url: get_swagger_ui_html(
            openapi_url=url["openapi"], title=f"{app.title} — Swagger UI",
            swagger_js_url=url["swagger_js"], swagger_css_url=url["swagger_css"],
            swagger_favicon_url=url["favicon"],
            swagger_ui_parameters={"validatorUrl": None},  # else a badge from validator.swagger.io
        ),
        "/redoc": lambda url: get_redoc_html(
            openapi_url=url["openapi"], title=f"{app.title} — ReDoc", redoc_js_url=url["redoc_js"],
            redoc_favicon_url=url["favicon"], with_google_fonts=False,
        ),
    }  # fmt: skip

    def route(render: Callable[[dict[str, str]], HTMLResponse]) -> Callable[..., Any]:
        async def page(request: Request) -> HTMLResponse:
            answer = render(urls(request))
            answer.headers["Content-Security-Policy"] = _DOCS_CSP
            return answer

        return page

    for path, render in pages.items():
        app.add_api_route(path, route(render), methods=["GET"], include_in_schema=False)


def install_openapi(
    app: FastAPI, *, models: Sequence[type[BaseModel]], problem: type[BaseModel]
) -> None:
    """Make ``app.openapi()`` register ``models`` (referenced by hand in ``openapi_extra``) and
    document the bearer scheme and the guarded responses on every ``/v1`` operation; serve
    ``/docs`` and ``/redoc`` from the package (``install_docs``)."""
    install_docs(app)
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
