"""Lists never cost one query per row: DataLoaders batch every relation a list can ask for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

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


@contextmanager
def count_statements(server: LiveServer) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = server.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


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
    with count_statements(server) as small:
        result = await server.gql(LIST_QUERY, {"first": 10})
    assert len(result.data["products"]["edges"]) == 10
    with count_statements(server) as large:
        result = await server.gql(LIST_QUERY, {"first": 100})
    assert len(result.data["products"]["edges"]) == 100
    assert len(large) == len(small)
    # the page, one batched snapshot query, one read of regions and channels
    assert len(large) <= 3, large
