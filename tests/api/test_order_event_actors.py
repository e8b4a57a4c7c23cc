"""Who sees which API key made a change to an order: ops and the order's channel see the key;
a customer with the order's token, or a storefront, sees only its own key and `store` for the
others."""

from __future__ import annotations

import re
from typing import Any

from app.services.auth import create_api_key
from tests.api.placement_helpers import cancel_line, place, product
from tests.support import LiveServer

EVENTS = """query($n: String!, $t: String) {
  orderByNumber(number: $n, token: $t) { events { kind actor } }
}"""


async def _actors(server: LiveServer, number: str, token: str | None, **who: Any) -> list[str]:
    result = await server.gql(EVENTS, {"n": number, "t": token}, **who)
    return [e["actor"] for e in result.data["orderByNumber"]["events"]]


async def _order(server: LiveServer, sku: str, storefront: str) -> tuple[dict[str, Any], str]:
    await product(
        server,
        sku,
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: 1}})',
        f'configureBackorder(input: {{sku: "{sku}", allowed: true}})',
    )
    payload = await place(server, [{"sku": sku, "quantity": 2}], api_key=storefront)
    order = payload["order"]
    # ops cancels the waiting line: an event made by another key
    await cancel_line(server, order["id"], order["lines"][1]["id"], "out of stock")
    return order, payload["orderToken"]


async def test_a_customer_with_the_order_token_sees_store_instead_of_any_key(
    server: LiveServer,
) -> None:
    storefront = await server.key_with("storefront")
    order, token = await _order(server, "ACT-CUST", storefront)
    actors = await _actors(server, order["number"], token, anonymous=True)
    assert len(actors) >= 4
    assert set(actors) == {"store"}


async def test_a_storefront_sees_its_own_key_and_store_for_the_others(
    server: LiveServer,
) -> None:
    storefront = await server.key_with("storefront")
    order, token = await _order(server, "ACT-SHOP", storefront)
    own = f"key:{storefront.split('_')[1]}:storefront"
    actors = await _actors(server, order["number"], token, key=storefront)
    assert actors[:3] == [own, own, own]  # placed, reserved, queued
    assert set(actors[3:]) == {"store"}  # ops' cancellation and refund

    another = (await create_api_key(server.services, "other-shop", ["storefront"])).key
    assert set(await _actors(server, order["number"], token, key=another)) == {"store"}


async def test_ops_and_the_orders_channel_see_every_key(server: LiveServer) -> None:
    storefront = await server.key_with("storefront")
    order, token = await _order(server, "ACT-OPS", storefront)
    for who in ({}, {"key": await server.key_with("channel:webstore")}):
        actors = await _actors(server, order["number"], token, **who)
        assert all(re.fullmatch(r"key:[0-9a-f]{12}:[a-z:,-]+", a) for a in actors), actors
        assert re.fullmatch(r"key:[0-9a-f]{12}:tests-ops", actors[-1]), actors
