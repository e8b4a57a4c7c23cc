"""Anonymous PDP reads are cached briefly and dropped on any inventory change; documents can
be sent as a sha256 hash (trusted documents and automatic persisted queries)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from app.web.documents import TRUSTED_DIR
from tests.support import LiveServer, live_server

PDP = """query Pdp($sku: String!) { productAvailability(sku: $sku) {
  state availableQuantity } }"""


@pytest_asyncio.fixture(scope="module")
async def cached(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, pdp_cache_seconds=30) as live:
        for _ in range(200):
            if live.app.state.listener.connected:
                break
            await asyncio.sleep(0.02)
        assert live.app.state.listener.connected
        yield live


async def _post(server: LiveServer, body: dict[str, Any], **headers: str) -> Any:
    return await server.client.post("/graphql", json=body, headers=headers)


async def _product(server: LiveServer, sku: str, stock: int) -> None:
    result = await server.gql(
        """mutation($sku: String!, $q: Int!) {
             createProduct(input: {sku: $sku, name: "Cached"}) { userErrors { code } }
             setStock(input: {sku: $sku, location: "main", quantity: $q}) { userErrors { code } }
           }""",
        {"sku": sku, "q": stock},
    )
    assert result.data["setStock"]["userErrors"] == []


async def test_an_anonymous_pdp_read_is_served_from_cache_with_an_etag(cached: LiveServer) -> None:
    await _product(cached, "CACHE-1", 5)
    body = {"query": PDP, "variables": {"sku": "CACHE-1"}}
    first = await _post(cached, body)
    second = await _post(cached, body)
    assert first.json() == second.json()
    assert first.json()["data"]["productAvailability"]["availableQuantity"] == 5
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["cache-control"] == "public, max-age=30"
    not_modified = await _post(cached, body, **{"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304


async def test_an_inventory_change_on_any_replica_drops_the_cached_answer_at_once(
    cached: LiveServer,
) -> None:
    await _product(cached, "CACHE-2", 5)
    body = {"query": PDP, "variables": {"sku": "CACHE-2"}}
    assert (await _post(cached, body)).json()["data"]["productAvailability"][
        "availableQuantity"
    ] == 5
    # A change committed straight in the database, as another replica would: only NOTIFY
    # tells this replica about it.
    await cached.sql(
        "UPDATE stock_levels SET on_hand = 2 FROM products p "
        "WHERE p.id = product_id AND p.sku = 'CACHE-2'"
    )
    await cached.sql("SELECT pg_notify('oms_inventory', 'CACHE-2')")
    for _ in range(100):
        answer = (await _post(cached, body)).json()["data"]["productAvailability"]
        if answer["availableQuantity"] == 2:
            break
        await asyncio.sleep(0.02)
    assert answer["availableQuantity"] == 2


async def test_authenticated_reads_and_mutations_are_never_cached(cached: LiveServer) -> None:
    await _product(cached, "CACHE-3", 1)
    body = {"query": PDP, "variables": {"sku": "CACHE-3"}}
    response = await _post(cached, body, Authorization=f"Bearer {cached.ops_key}")
    assert "etag" not in response.headers
    mutation = await cached.gql(
        'mutation { setSafetyStock(input: {sku: "CACHE-3", quantity: 0}) { userErrors { code } } }'
    )
    assert "etag" not in mutation.headers


async def test_the_trusted_pdp_document_can_be_sent_as_its_hash_alone(cached: LiveServer) -> None:
    await _product(cached, "CACHE-4", 3)
    text = (TRUSTED_DIR / "pdp.graphql").read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    response = await _post(
        cached,
        {
            "operationName": "PDP",
            "variables": {"sku": "CACHE-4"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
        },
    )
    answer = response.json()["data"]["productAvailability"]
    assert answer["state"] == "IN_STOCK"
    assert answer["buttonLabel"] == "Add to cart"


async def test_automatic_persisted_queries_register_on_a_miss_and_then_work_by_hash(
    cached: LiveServer,
) -> None:
    text = "query Apq { products(first: 1) { edges { cursor } } }"
    digest = hashlib.sha256(text.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    miss = (await _post(cached, {"extensions": ext})).json()
    assert miss["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = (await _post(cached, {"query": text, "extensions": ext})).json()
    assert "data" in registered
    by_hash = (await _post(cached, {"extensions": ext})).json()
    assert by_hash["data"] == registered["data"]


async def test_a_hash_that_does_not_match_its_document_is_refused(cached: LiveServer) -> None:
    response = await _post(
        cached,
        {
            "query": "{ __typename }",
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
        },
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH"


async def test_a_stock_mutation_is_visible_to_the_next_anonymous_read(cached: LiveServer) -> None:
    await _product(cached, "CACHE-5", 7)
    body = {"query": PDP, "variables": {"sku": "CACHE-5"}}
    assert (await _post(cached, body)).json()["data"]["productAvailability"][
        "availableQuantity"
    ] == 7
    result = await cached.gql(
        """mutation { adjustStock(input: {sku: "CACHE-5", location: "main", delta: -3,
             reason: DAMAGE}) { userErrors { code } } }"""
    )
    assert result.data["adjustStock"]["userErrors"] == []
    for _ in range(100):
        answer = (await _post(cached, body)).json()["data"]["productAvailability"]
        if answer["availableQuantity"] == 4:
            break
        await asyncio.sleep(0.01)
    assert answer["availableQuantity"] == 4
