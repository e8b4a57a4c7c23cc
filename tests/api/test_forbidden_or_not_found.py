"""FORBIDDEN when a key's scopes can never do an operation; NOT_FOUND, exactly as for an order
that does not exist, when it may do the operation but not on this order (docs/api.md)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number } userErrors { code } } }
"""
CANCEL = """
mutation($id: ID!) { cancelOrder(input: {id: $id}) {
  order { status } userErrors { field code message } } }
"""
READ = "query($id: ID!) { order(id: $id) { number status } }"


async def _order(server: LiveServer, channel: str) -> dict[str, Any]:
    sku = f"FNF-{channel}"
    await server.gql(
        """mutation($sku: String!) {
             createProduct(input: {sku: $sku, name: "x", price: {amountMinor: 100, currency: EUR}}) { userErrors { code } }
             setStock(input: {sku: $sku, location: "main", quantity: 50}) { userErrors { code } }
           }""",
        {"sku": sku},
    )
    placed = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": channel,
                "customer": {"email": "fnf@example.com", "name": "F"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    order: dict[str, Any] = placed.data["placeOrder"]["order"]
    return order


async def _status(server: LiveServer, order: dict[str, Any]) -> str:
    status: str = (await server.gql(READ, {"id": order["id"]})).data["order"]["status"]
    return status


async def test_a_storefront_key_cancelling_an_order_is_forbidden_before_any_lookup(
    server: LiveServer,
) -> None:
    order = await _order(server, "webstore")
    storefront = await server.key_with("storefront")
    for target in (order["id"], "T3JkZXI6bm90LWEtdXVpZA=="):  # its own channel's, and none
        answer = await server.gql(CANCEL, {"id": target}, key=storefront)
        assert answer.body["data"] is None
        assert [e["extensions"]["code"] for e in answer.errors] == ["FORBIDDEN"]
    assert await _status(server, order) == "PLACED"


async def test_another_channels_order_is_not_found_exactly_like_a_missing_one(
    server: LiveServer,
) -> None:
    order = await _order(server, "webstore")
    marketplace = await server.key_with("channel:marketplace")
    missing = base64.urlsafe_b64encode(f"Order:{uuid.uuid4()}".encode()).decode()
    foreign = await server.gql(CANCEL, {"id": order["id"]}, key=marketplace)
    absent = await server.gql(CANCEL, {"id": missing}, key=marketplace)
    assert foreign.data["cancelOrder"] == absent.data["cancelOrder"]
    assert foreign.data["cancelOrder"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert await _status(server, order) == "PLACED"
    read_foreign = await server.gql(READ, {"id": order["id"]}, key=marketplace)
    read_absent = await server.gql(READ, {"id": missing}, key=marketplace)
    assert read_foreign.body == read_absent.body == {"data": {"order": None}}


async def test_a_channel_key_cancels_its_own_channels_order(server: LiveServer) -> None:
    order = await _order(server, "marketplace")
    marketplace = await server.key_with("channel:marketplace")
    answer = await server.gql(CANCEL, {"id": order["id"]}, key=marketplace)
    assert answer.data["cancelOrder"] == {"order": {"status": "CANCELLED"}, "userErrors": []}


async def test_a_key_of_two_channels_may_not_list_orders(server: LiveServer) -> None:
    two = await server.key_with("channel:marketplace", "channel:pos")
    answer = await server.gql("{ orders(first: 1) { edges { node { number } } } }", key=two)
    assert [e["extensions"]["code"] for e in answer.errors] == ["FORBIDDEN"]
