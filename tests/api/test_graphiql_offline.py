"""GraphiQL loads without internet: the page at /graphql names only the service's own pinned
assets, each served with its content type; in production there is neither page nor assets
(unless OMS_GRAPHIQL says so)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from app.web.graphiql import STATIC_DIR
from tests.support import LiveServer, live_server

HTML = {"Accept": "text/html"}


def _assets(page: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)


async def test_the_graphiql_page_loads_only_local_assets_each_with_its_content_type(
    server: LiveServer,
) -> None:
    response = await server.client.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "unpkg" not in page
    assert "cdn" not in page.lower()
    assets = _assets(page)
    assert len(assets) >= 6
    page_url = f"{server.base_url}/graphql"
    for asset in assets:
        if asset.startswith("data:"):  # inline: nothing is fetched
            continue
        url = urljoin(page_url, asset)
        assert urlsplit(url).netloc == urlsplit(server.base_url).netloc, asset
        got = await server.client.get(url)
        assert got.status_code == 200, asset
        kind = got.headers["content-type"]
        if asset.endswith(".js"):
            assert kind.split(";")[0] in ("text/javascript", "application/javascript"), asset
        else:
            assert kind.startswith("text/css"), asset
        assert len(got.content) > 0
    # nothing on the page runs unless it comes from here
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "<script>" not in page


async def test_the_vendored_assets_say_which_pinned_versions_they_are() -> None:
    versions = (STATIC_DIR / "graphiql" / "VERSIONS").read_text(encoding="utf-8")
    for package in ("graphiql 4.", "react 18.", "react-dom 18."):
        assert package in versions
    for asset in ("graphiql.min.js", "react.production.min.js", "react-dom.production.min.js"):
        assert (STATIC_DIR / "graphiql" / asset).stat().st_size > 1000


async def test_in_production_there_is_no_page_no_asset_and_no_introspection(
    database_url: str,
) -> None:
    async with live_server(database_url, env="production") as production:
        response = await production.client.get("/graphql", headers=HTML)
        assert "<html" not in response.text.lower()
        asset = await production.client.get("/static/graphiql/graphiql.min.js")
        assert asset.status_code == 404
        introspection = await production.gql("{ __schema { queryType { name } } }")
        assert introspection.errors
        assert (await production.gql("{ __typename }")).data == {"__typename": "Query"}


async def test_in_production_an_explicit_setting_turns_graphiql_back_on(
    database_url: str,
) -> None:
    async with live_server(database_url, env="production", graphiql=True) as production:
        response = await production.client.get("/graphql", headers=HTML)
        assert response.status_code == 200
        assert "graphiql.min.js" in response.text
