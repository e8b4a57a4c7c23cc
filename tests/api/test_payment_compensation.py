"""No payment is left uncompensated or lapsed: a placement that loses the race after capturing
refunds, cancelling refunds the capture by its reference, and an expiring renewal is renewed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.domain.payments import PaymentKind
from app.services.gateway import GatewayResult
from app.services.orders.cancellation import cancel
from app.services.orders.placement import LineInput, PlaceOrderInput, place_order
from app.services.results import SYSTEM
from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id payments { kind amount { amountMinor } reference } }
  userErrors { code message } } }
"""
ORDER = """
query($id: ID!) { order(id: $id) { payments { kind amount { amountMinor } reference note } } }
"""
RENEW = "mutation { renewExpiringAuthorizations(input: {}) { renewed userErrors { code } } }"


async def _mutate(server: LiveServer, body: str) -> None:
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def _place(server: LiveServer, sku: str, quantity: int = 1) -> Any:
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": "pay@example.com", "name": "Pay"},
                "lines": [{"sku": sku, "quantity": quantity}],
            }
        },
    )
    payload = result.data["placeOrder"]
    assert payload["userErrors"] == [], payload
    return payload["order"]


@dataclass
class RecordingGateway:
    """A PSP stand-in: records every call; ``before_call`` runs before answering."""

    name: str = "recording"
    calls: list[tuple[PaymentKind, int, str | None]] = field(default_factory=list)
    before_call: Any = None

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        if self.before_call is not None:
            hook, self.before_call = self.before_call, None
            await hook()
        self.calls.append((kind, amount_minor, reference))
        return GatewayResult(f"psp-{len(self.calls)}", approved=True)


async def test_an_authorization_is_renewed_again_when_the_renewal_itself_expires(
    server: LiveServer,
) -> None:
    await _mutate(
        server,
        """a: createProduct(input: {sku: "RV-AUTH2", name: "Far", price: {amountMinor: 3000, currency: EUR}})
             { userErrors { code } }
           b: configurePreorder(input: {sku: "RV-AUTH2", enabled: true,
             releaseDate: "2035-01-01", paymentTerms: {kind: AUTHORIZE}}) { userErrors { code } }""",
    )
    order = await _place(server, "RV-AUTH2")
    moved = 0.0
    try:
        server.clock.advance(days=6, hours=12)
        moved += 6.5
        assert (await server.gql(RENEW)).data["renewExpiringAuthorizations"]["renewed"] >= 1
        # The REAUTHORIZE is valid for OMS_AUTHORIZATION_VALID_DAYS from now; go to its last day.
        server.clock.advance(days=6, hours=12)
        moved += 6.5
        await server.gql(RENEW)
        kinds = [
            p["kind"]
            for p in (await server.gql(ORDER, {"id": order["id"]})).data["order"]["payments"]
        ]
        assert kinds.count("REAUTHORIZE") == 2, kinds
    finally:
        server.clock.advance(days=-moved)


async def test_a_lost_race_after_capture_leaves_no_uncompensated_charge(
    server: LiveServer,
) -> None:
    await _mutate(
        server,
        """a: createProduct(input: {sku: "RV-RACEPAY", name: "x", price: {amountMinor: 2500, currency: EUR}})
             { userErrors { code } }
           b: setStock(input: {sku: "RV-RACEPAY", location: "main", quantity: 1})
             { userErrors { code } }""",
    )

    async def competitor() -> None:  # another customer takes the last unit meanwhile
        await _place(server, "RV-RACEPAY")

    gateway = RecordingGateway(before_call=competitor)
    result = await place_order(
        server.services.with_gateway(gateway),
        SYSTEM,
        PlaceOrderInput(
            idempotency_key=str(uuid.uuid4()),
            channel="webstore",
            customer_email="loser@example.com",
            customer_name="Loser",
            lines=(LineInput("RV-RACEPAY", 1),),
        ),
    )
    assert result.value is None
    assert result.errors[0].code == "SOLD_OUT"
    captured = sum(a for k, a, _ in gateway.calls if k is PaymentKind.CAPTURE)
    refunded = sum(a for k, a, _ in gateway.calls if k is PaymentKind.REFUND)
    assert captured - refunded == 0, gateway.calls


async def test_cancel_refunds_the_capture_by_its_reference(server: LiveServer) -> None:
    await _mutate(
        server,
        """a: createProduct(input: {sku: "RV-REFREF", name: "x", price: {amountMinor: 1200, currency: EUR}})
             { userErrors { code } }
           b: setStock(input: {sku: "RV-REFREF", location: "main", quantity: 3})
             { userErrors { code } }""",
    )
    order = await _place(server, "RV-REFREF")
    (capture,) = order["payments"]
    rows = await server.sql(
        "SELECT id FROM orders WHERE id = (SELECT order_id FROM payment_entries "
        "WHERE reference = $1)",
        capture["reference"],
    )
    gateway = RecordingGateway()
    result = await cancel(
        server.services.with_gateway(gateway), SYSTEM, rows[0]["id"], None, "review"
    )
    assert result.errors == []
    assert gateway.calls == [(PaymentKind.REFUND, 1200, capture["reference"])]
