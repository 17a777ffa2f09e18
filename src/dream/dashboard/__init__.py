"""The dashboard: a static page at ``/`` that asks the analytics api what to draw.

Everything it needs ships inside the package (``static/``: HTML, CSS and JavaScript written for
Dream: ``app.js`` the page, ``api.js`` its calls to the api, ``links.js`` the REST call, command
and downloads under each panel, ``concurrency.js`` the seats-in-use panel, ``products.js``,
``hours.js`` and ``heatmap.js`` the top products, hours over time and week × hour panels,
``usage.js`` usage over time in small multiples, ``compare.js``, ``executables.js`` and
``fleet.js`` theirs (``bars.js`` their bars with intervals), ``empty.js`` the words a panel shows
when it has nothing to draw; charts drawn with Apache ECharts by ``plots.js``). Under ``static/vendor/``
sit third-party libraries copied from npm (ECharts; Swagger UI and ReDoc for ``/docs`` and
``/redoc``), their versions and licences in ``vendor/README.md``: nothing is fetched from
elsewhere at run time.
The page and its assets load without credentials; the data calls it makes carry the API key
typed into the page (kept in ``sessionStorage``) as ``Authorization: Bearer <key>``, so with
authentication on the data still needs a key with the ``query`` role.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

# What ``GET /dashboard/<name>`` serves (names below ``static/``) and as which media type.
ASSETS = {
    "api.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "calendar.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "concurrency.js": "text/javascript; charset=utf-8",
    "empty.js": "text/javascript; charset=utf-8",
    "heatmap.js": "text/javascript; charset=utf-8",
    "hours.js": "text/javascript; charset=utf-8",
    "links.js": "text/javascript; charset=utf-8",
    "plots.js": "text/javascript; charset=utf-8",
    "products.js": "text/javascript; charset=utf-8",
    "usage.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "bars.js": "text/javascript; charset=utf-8",
    "compare.js": "text/javascript; charset=utf-8",
    "executables.js": "text/javascript; charset=utf-8",
    "fleet.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    "vendor/echarts/echarts.min.js": "text/javascript; charset=utf-8",
    "vendor/swagger-ui/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "vendor/swagger-ui/swagger-ui.css": "text/css; charset=utf-8",
    "vendor/redoc/redoc.standalone.js": "text/javascript; charset=utf-8",
}
# The page's own policy: its scripts and styles from this origin only, data calls to this origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


ASSET_PREFIX = "/dashboard/"  # where ``GET /dashboard/<asset>`` serves the files of ``static/``


@cache
def asset(name: str) -> bytes:
    """A file of ``dream/dashboard/static`` (read once)."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


def dashboard_router() -> APIRouter:
    """``GET /`` (the page) and ``GET /dashboard/<asset>``; no credentials needed for these."""
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-cache"}  # fmt: skip

    @router.get("/", response_class=HTMLResponse)
    async def index() -> Response:
        return HTMLResponse(asset("index.html"), headers=headers)

    @router.get(ASSET_PREFIX + "{name:path}")
    async def static_asset(name: str) -> Response:
        media = ASSETS.get(name)
        if media is None:
            return Response(status_code=404)
        return Response(asset(name), media_type=media, headers=headers)

    return router


__all__ = ["ASSETS", "ASSET_PREFIX", "asset", "dashboard_router"]
