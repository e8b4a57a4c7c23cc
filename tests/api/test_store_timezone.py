"""Launch dates are read in the store's time zone, not the server's (UTC)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio

from tests.support import LiveServer, live_server


@pytest_asyncio.fixture(scope="module")
async def auckland(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, store_timezone="Pacific/Auckland") as live:
        yield live


async def test_a_product_launches_at_midnight_in_the_store_time_zone(auckland: LiveServer) -> None:
    result = await auckland.gql(
        """mutation {
             createProduct(input: {sku: "TZ-1", name: "Launch"}) { userErrors { code } }
             configurePreorder(input: {sku: "TZ-1", enabled: true, releaseDate: "2030-07-01"})
               { userErrors { code } }
             setStock(input: {sku: "TZ-1", location: "main", quantity: 5}) { userErrors { code } }
           }"""
    )
    assert result.data["configurePreorder"]["userErrors"] == []
    query = '{ productAvailability(sku: "TZ-1") { state released } }'
    # 11:59 UTC on 30 June is 23:59 in Auckland (NZST, UTC+12): not released yet.
    auckland.clock.current = datetime(2030, 6, 30, 11, 59, tzinfo=UTC)
    before = (await auckland.gql(query)).data["productAvailability"]
    assert before == {"state": "PRE_ORDER", "released": False}
    # 12:00 UTC on 30 June is midnight on 1 July in Auckland: launch day, sold from stock.
    auckland.clock.current = datetime(2030, 6, 30, 12, 0, tzinfo=UTC)
    after = (await auckland.gql(query)).data["productAvailability"]
    assert after == {"state": "IN_STOCK", "released": True}
