"""Lists never cost one query per row: DataLoaders batch every relation a list can ask for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

from tests.support import LiveServer

LIST_QUERY = """
query List($first: Int!) {
  products(first: $first) {
    edges { node {
      sku name onHand
      preorder { enabled cap committed }
      backorder { allowed cap }
      availability(channel: "webstore") { state buttonLabel split { state quantity }
                                          deliveryEstimate { earliest latest } }
      pools { kind capacity committed available channel }
    } }
  }
}
"""


def _connections(pool: asyncpg.Pool) -> list[asyncpg.Connection]:
    # the pool's open connections (asyncpg has no public list of them)
    return [h._con for h in pool._holders if h._con is not None]


@contextmanager
def count_statements(server: LiveServer) -> Iterator[list[str]]:
    """Every statement the service sends on any pooled connection while the block runs (run
    the request once before, so that the pools hold every connection it needs)."""
    statements: list[str] = []

    def record(logged: Any) -> None:
        statements.append(logged.query)

    connections = [
        conn
        for pool in (server.services.read_pool, server.services.write_pool)
        for conn in _connections(pool)
    ]
    for conn in connections:
        conn.add_query_logger(record)
    try:
        yield statements
    finally:
        for conn in connections:
            conn.remove_query_logger(record)


async def _create(server: LiveServer, count: int, prefix: str) -> None:
    for i in range(count):
        result = await server.gql(
            """mutation($sku: String!) {
                 createProduct(input: {sku: $sku, name: "Counted"}) { userErrors { code } }
                 setStock(input: {sku: $sku, location: "main", quantity: 3}) { userErrors { code } }
               }""",
            {"sku": f"{prefix}-{i:03d}"},
        )
        assert result.data["createProduct"]["userErrors"] == []
        await server.gql(
            """mutation($sku: String!) { allocateChannelPool(input: {sku: $sku,
                 channel: "marketplace", quantity: 1}) { userErrors { code } } }""",
            {"sku": f"{prefix}-{i:03d}"},
        )


async def test_a_hundred_products_with_availability_and_pools_cost_as_many_queries_as_ten(
    server: LiveServer,
) -> None:
    await _create(server, 100, "QC")
    await server.gql(LIST_QUERY, {"first": 100})  # the pools open what the request needs
    with count_statements(server) as small:
        result = await server.gql(LIST_QUERY, {"first": 10})
    assert len(result.data["products"]["edges"]) == 10
    with count_statements(server) as large:
        result = await server.gql(LIST_QUERY, {"first": 100})
    assert len(result.data["products"]["edges"]) == 100
    assert len(large) == len(small)
    # the API key, the page, one batched snapshot query (regions and channels are cached)
    assert len(large) <= 3, large
