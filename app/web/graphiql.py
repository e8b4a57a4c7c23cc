"""GraphiQL from the package: the page at ``/graphql`` and its pinned assets under
``/static/`` (vendored by ``scripts/vendor_graphiql.sh``), so that the IDE loads without a CDN,
offline too. Served only while GraphiQL is on (``OMS_GRAPHIQL``; off in production).

The page loads nothing from elsewhere and runs no inline script; its Content-Security-Policy
says so to the browser."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PATH = "/static"

# Relative URLs: the page is /graphql, so they resolve under /static/ (behind a path prefix
# too). The vendored files keep their upstream names; VERSIONS says which versions they are.
PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>preorder-oms · GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="static/graphiql/graphiql.min.css" />
    <link rel="stylesheet" href="static/graphiql/graphiql-plugin-explorer.css" />
    <link rel="stylesheet" href="static/oms-graphiql.css" />
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="static/graphiql/react.production.min.js"></script>
    <script src="static/graphiql/react-dom.production.min.js"></script>
    <script src="static/graphiql/graphiql.min.js"></script>
    <script src="static/graphiql/graphiql-plugin-explorer.umd.js"></script>
    <script src="static/oms-graphiql.js"></script>
  </body>
</html>
"""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL's editors add <style> elements; its fonts are data: URLs in its CSS
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",  # the API itself, over HTTP and WebSocket
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(
        PAGE,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def graphiql_routes(enabled: bool) -> list[BaseRoute]:
    """The routes of GraphiQL's assets (none while GraphiQL is off)."""
    if not enabled:
        return []
    return [Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="static")]
