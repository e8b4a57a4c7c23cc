"""Authorizations outlive their validity only by being renewed; priority customers are tagged."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number tags payments { kind amount { amountMinor } }
          paymentSummary { authorized { amountMinor } voided { amountMinor } } }
  userErrors { code message } } }
"""
ORDER = """
query($id: ID!) { order(id: $id) { payments { kind amount { amountMinor } note }
  paymentSummary { authorized { amountMinor } voided { amountMinor } }
  events { kind } } }
"""
RENEW = "mutation { renewExpiringAuthorizations(input: {}) { renewed userErrors { code } } }"


async def _place(server: LiveServer, sku: str, email: str = "grace@example.com") -> Any:
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": email, "name": "Grace"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    payload = result.data["placeOrder"]
    assert payload["userErrors"] == [], payload
    return payload["order"]


async def test_an_authorization_about_to_expire_before_release_is_renewed_and_the_old_voided(
    server: LiveServer,
) -> None:
    created = await server.gql(
        """mutation {
          createProduct(input: {sku: "AUTH-FAR", name: "Far launch",
            price: {amountMinor: 3000, currency: EUR}})
            { userErrors { code } }
          configurePreorder(input: {sku: "AUTH-FAR", enabled: true, releaseDate: "2035-01-01",
            paymentTerms: {kind: AUTHORIZE}}) { userErrors { code } }
        }"""
    )
    assert created.data["configurePreorder"]["userErrors"] == []
    order = await _place(server, "AUTH-FAR")
    assert order["paymentSummary"]["authorized"]["amountMinor"] == 3000
    # Nothing to renew yet: the authorization is valid for days.
    assert (await server.gql(RENEW)).data["renewExpiringAuthorizations"]["renewed"] == 0
    server.clock.advance(days=6, hours=12)
    try:
        renewed = (await server.gql(RENEW)).data["renewExpiringAuthorizations"]["renewed"]
        assert renewed >= 1
        after = (await server.gql(ORDER, {"id": order["id"]})).data["order"]
        assert [p["kind"] for p in after["payments"]] == ["AUTHORIZE", "VOID", "REAUTHORIZE"]
        assert after["paymentSummary"]["authorized"]["amountMinor"] == 3000
        assert after["paymentSummary"]["voided"]["amountMinor"] == 3000
        assert "PAYMENT_REAUTHORIZED" in [e["kind"] for e in after["events"]]
        # Renewed once: running again at once renews nothing more for this order.
        again = (await server.gql(RENEW)).data["renewExpiringAuthorizations"]["renewed"]
        assert again == 0
    finally:
        server.clock.advance(days=-6, hours=-12)


async def test_renewal_needs_the_ops_scope(server: LiveServer) -> None:
    storefront = await server.key_with("storefront")
    result = await server.gql(RENEW, key=storefront)
    assert result.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_priority_customers_next_order_is_tagged_priority(server: LiveServer) -> None:
    await server.gql(
        """mutation { createProduct(input: {sku: "PRIO-1", name: "P"}) { userErrors { code } }
           setStock(input: {sku: "PRIO-1", location: "main", quantity: 10})
             { userErrors { code } } }"""
    )
    first = await _place(server, "PRIO-1", email="vip@example.com")
    assert "PRIORITY" not in first["tags"]
    marked = await server.gql(
        """mutation { setCustomerPriority(input: {email: "VIP@example.com", priority: true})
             { email priority userErrors { code } } }"""
    )
    assert marked.data["setCustomerPriority"] == {
        "email": "vip@example.com",
        "priority": True,
        "userErrors": [],
    }
    second = await _place(server, "PRIO-1", email="vip@example.com")
    assert "PRIORITY" in second["tags"]
    audit = await server.sql(
        "SELECT actor FROM events WHERE subject = 'CUSTOMER' AND subject_id = 'vip@example.com'"
    )
    assert len(audit) == 1


async def test_an_unknown_customer_cannot_be_marked(server: LiveServer) -> None:
    result = await server.gql(
        """mutation { setCustomerPriority(input: {email: "nobody@example.com", priority: true})
             { priority userErrors { field code } } }"""
    )
    assert result.data["setCustomerPriority"]["userErrors"] == [
        {"field": ["input", "email"], "code": "NOT_FOUND"}
    ]


async def test_a_storefront_typing_a_priority_customers_email_gets_no_priority(
    server: LiveServer,
) -> None:
    await server.gql(
        """mutation { createProduct(input: {sku: "PRIO-2", name: "P"}) { userErrors { code } }
           setStock(input: {sku: "PRIO-2", location: "main", quantity: 10})
             { userErrors { code } } }"""
    )
    await _place(server, "PRIO-2", email="boss@example.com")
    await server.gql(
        """mutation { setCustomerPriority(input: {email: "boss@example.com", priority: true})
             { userErrors { code } } }"""
    )
    storefront = await server.key_with("storefront")
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": "sf-boss-1",
                "channel": "webstore",
                "customer": {"email": "boss@example.com", "name": "Not the boss"},
                "lines": [{"sku": "PRIO-2", "quantity": 1}],
            }
        },
        key=storefront,
    )
    assert "PRIORITY" not in result.data["placeOrder"]["order"]["tags"]
