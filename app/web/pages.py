"""The pages people use: ``/`` (links), ``/ops`` (the ops dashboard) and ``/demo/pdp/{sku}``
(a storefront product page, the reference snippet for storefront developers). Rendered by
Jinja2; their scripts and styles are files under ``/assets/`` (``static/pages/``: ours, and
uPlot vendored by ``scripts/vendor_charts.sh``). No inline script, nothing from elsewhere: the
Content-Security-Policy says so, and the pages work offline.

Everything a page shows comes from the GraphQL API with the caller's own key: the ops page asks
for an ops key and keeps it in the browser session (sessionStorage); the PDP page gets the
configured demo storefront key (``OMS_DEMO_STOREFRONT_KEY``), never an ops key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.services.container import Services
from app.services.demo_pdp import key_for_page

TEMPLATES = Path(__file__).with_name("templates")
ASSETS = Path(__file__).with_name("static") / "pages"
ASSETS_PATH = "/assets"
DEMO_CHANNEL = "webstore"
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # the API itself, over HTTP and WebSocket
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "j2")),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(template: str, status: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(
        _env.get_template(template).render(**context), status_code=status, headers=HEADERS
    )


def page_routes(services: Callable[[], Services], graphiql: bool) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return _render("index.html.j2", graphiql=graphiql)

    async def ops(request: Request) -> Response:
        return _render("ops.html.j2")

    async def pdp(request: Request) -> Response:
        sku = request.path_params["sku"]
        if not SKU_PATTERN.match(sku):
            return _render("not_found.html.j2", status=404)
        key = await key_for_page(services())
        return _render("pdp.html.j2", sku=sku, storefront_key=key or "", channel=DEMO_CHANNEL)

    return [
        Route("/", index),
        Route("/ops", ops),
        Route("/demo/pdp/{sku}", pdp),
        Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS), name="assets"),
    ]
