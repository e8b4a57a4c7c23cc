"""Who may read an order: an anonymous caller cannot even learn whether an order number exists."""

from __future__ import annotations

import uuid

from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { number } userErrors { code } } }
"""
BY_NUMBER = "query($n: String!) { orderByNumber(number: $n) { number } }"


async def test_anonymous_order_by_number_does_not_reveal_whether_the_order_exists(
    server: LiveServer,
) -> None:
    created = await server.gql(
        """mutation {
          a: createProduct(input: {sku: "RV-ANON", name: "x", price: {amountMinor: 100, currency: EUR}})
            { userErrors { code } }
          b: setStock(input: {sku: "RV-ANON", location: "main", quantity: 5})
            { userErrors { code } }
        }"""
    )
    assert created.data["a"]["userErrors"] == []
    placed = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": "anon@example.com", "name": "Anon"},
                "lines": [{"sku": "RV-ANON", "quantity": 1}],
            }
        },
    )
    number = placed.data["placeOrder"]["order"]["number"]
    existing = await server.gql(BY_NUMBER, {"n": number}, anonymous=True)
    missing = await server.gql(BY_NUMBER, {"n": "PO-1999-999999"}, anonymous=True)
    codes = [[e.get("extensions", {}).get("code") for e in r.errors] for r in (existing, missing)]
    assert codes[0] == codes[1], codes
