"""Dispatching shipments: what is due is captured, a declined capture holds the shipment
(PAYMENT_FAILED) and changes nothing else, racing dispatches ship once, units ring-fenced for
waiting lines are never shipped for another line, and dispatchOrderLines / confirmDelivery
work through shipments."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.domain.payments import PaymentKind
from app.services.gateway import GatewayResult
from app.services.invariants import check
from tests.api.placement_helpers import placed, product
from tests.api.shipment_helpers import (
    ADVANCE,
    DISPATCH,
    HOLD,
    RELEASE,
    SHIPMENTS,
    kinds,
    move,
    moved,
    open_shipments,
    order_view,
    parcel,
    receive,
    shipment,
    shipments_of,
    stock_view,
    the_shipment,
    to_awaiting,
)
from tests.support import LiveServer

DEPOSIT = "paymentTerms: {kind: DEPOSIT, depositPercent: 20}"

DISPATCH_LINES = """
mutation($input: DispatchOrderLinesInput!) {
  dispatchOrderLines(input: $input) {
    order { id status lines { id status } }
    userErrors { field code message }
  }
}
"""

CONFIRM = """
mutation($input: ConfirmDeliveryInput!) {
  confirmDelivery(input: $input) { order { id } userErrors { field code message } }
}
"""


@dataclass
class Declining:
    """A PSP that approves everything but the ``decline``-th capture it is asked for."""

    decline: int = 1
    name: str = "declining"
    calls: list[tuple[PaymentKind, int, str | None]] = field(default_factory=list)

    async def execute(
        self, kind: PaymentKind, amount_minor: int, currency: str, reference: str | None
    ) -> GatewayResult:
        self.calls.append((kind, amount_minor, reference))
        captures = [c for c in self.calls if c[0] is PaymentKind.CAPTURE]
        declined = kind is PaymentKind.CAPTURE and len(captures) == self.decline
        return GatewayResult(
            f"decl-{uuid.uuid4().hex[:8]}", approved=not declined, message="insufficient funds"
        )


@pytest.fixture
def gateway(server: LiveServer) -> Iterator[Declining]:
    """The live server pays through a gateway the test tells which capture to decline
    (none at first)."""
    saved = server.services.gateway
    fake = Declining(decline=0)
    server.services.gateway = fake
    try:
        yield fake
    finally:
        server.services.gateway = saved


async def _backorders_shipped_together(server: LiveServer, skus: tuple[str, ...]) -> Any:
    """One order shipping together: a backorder line of each SKU (20 % deposit), received."""
    for sku in skus:
        await product(
            server,
            sku,
            f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
            f'configureBackorder(input: {{sku: "{sku}", allowed: true, {DEPOSIT}}})',
        )
    order = await placed(server, [{"sku": sku, "quantity": 1} for sku in skus], shipTogether=True)
    for sku in skus:
        await receive(server, sku, 1)
    return order


def _captured(view: dict[str, Any]) -> int:
    return int(view["paymentSummary"]["captured"]["amountMinor"])


async def test_a_declined_capture_holds_the_shipment_and_ships_charges_and_moves_nothing(
    server: LiveServer, gateway: Declining
) -> None:
    skus = ("SH-DECL-A", "SH-DECL-B")
    order = await _backorders_shipped_together(server, skus)
    found = await the_shipment(server, order["id"])
    assert len(found["lines"]) == 2  # ship together: one shipment once both can ship
    await to_awaiting(server, found["id"])
    view = await order_view(server, order["id"])
    stock = [await stock_view(server, sku) for sku in skus]
    events = kinds(view["events"])
    gateway.calls.clear()
    gateway.decline = 2

    payload = await move(server, DISPATCH, id=found["id"], **parcel())

    assert [e["code"] for e in payload["userErrors"]] == ["PAYMENT_DECLINED"]
    held = payload["shipment"]
    assert (held["status"], held["heldFrom"], held["holdReason"]) == (
        "ON_HOLD",
        "AWAITING_SHIPMENT",
        "PAYMENT_FAILED",
    )
    assert "insufficient funds" in held["holdNote"]
    # the first balance was captured, the second declined: the first is refunded by its reference
    assert [(k, a) for k, a, _ in gateway.calls] == [
        (PaymentKind.CAPTURE, 800),
        (PaymentKind.CAPTURE, 800),
        (PaymentKind.REFUND, 800),
    ]
    assert [await stock_view(server, sku) for sku in skus] == stock
    after = await order_view(server, order["id"])
    assert {x["status"] for x in after["lines"]} == {"ALLOCATED"}
    assert _captured(after) == _captured(view)  # nothing captured was recorded
    assert after["payments"] == view["payments"]
    assert kinds(after["events"]) == [*events, "SHIPMENT_HELD"]
    on_hold = await server.gql(SHIPMENTS, {"filter": {"status": "ON_HOLD"}, "first": 100})
    assert found["id"] in {s["id"] for s in on_hold.data["shipments"]["nodes"]}

    # the payment is sorted out: released, the shipment leaves and the balances are captured
    gateway.decline = 0
    released = await moved(server, RELEASE, id=found["id"])
    assert released["status"] == "AWAITING_SHIPMENT"
    dispatched = await moved(server, DISPATCH, id=found["id"], **parcel())
    assert dispatched["status"] == "DISPATCHED"
    done = await order_view(server, order["id"])
    assert done["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 0
    assert _captured(done) == 2000
    assert done["status"] == "COMPLETED"


async def test_racing_dispatches_of_one_shipment_ship_it_once(server: LiveServer) -> None:
    sku = "SH-RACE"
    await product(
        server,
        sku,
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
        f'configureBackorder(input: {{sku: "{sku}", allowed: true, {DEPOSIT}}})',
    )
    order = await placed(server, [{"sku": sku, "quantity": 3}])
    await receive(server, sku, 3)
    found = await the_shipment(server, order["id"])
    await to_awaiting(server, found["id"])

    payloads = await asyncio.gather(
        *(move(server, DISPATCH, id=found["id"], **parcel(f"RACE{i}")) for i in range(10))
    )

    winners = [p for p in payloads if not p["userErrors"]]
    assert len(winners) == 1
    losers = [p["userErrors"][0]["code"] for p in payloads if p["userErrors"]]
    assert losers == ["INVALID_TRANSITION"] * 9
    assert (await stock_view(server, sku))["onHand"] == 0
    moves = await server.sql(
        "SELECT count(*) FROM events WHERE kind = 'stock.moved' AND subject_id = $1 "
        "AND payload->>'reason' = 'SHIPMENT'",
        sku,
    )
    assert moves[0][0] == 1
    view = await order_view(server, order["id"])
    assert _captured(view) == 3000  # the deposit and one balance
    now = await shipment(server, found["id"])
    assert kinds(now["events"]).count("SHIPMENT_DISPATCHED") == 1
    assert now["trackingNumber"] == winners[0]["shipment"]["trackingNumber"]


async def test_racing_holds_and_dispatches_leave_one_consistent_outcome(
    server: LiveServer,
) -> None:
    sku = "SH-RACE-HOLD"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 2}})')
    order = await placed(server, [{"sku": sku, "quantity": 1}])
    await open_shipments(server)
    found = await the_shipment(server, order["id"])
    await to_awaiting(server, found["id"])
    payloads = await asyncio.gather(
        move(server, DISPATCH, id=found["id"], **parcel()),
        move(server, HOLD, id=found["id"], reason="CUSTOMER_REQUEST"),
    )
    ok = [p for p in payloads if not p["userErrors"]]
    assert len(ok) == 1
    now = await shipment(server, found["id"])
    shipped = (await stock_view(server, sku))["onHand"] == 1
    assert (now["status"] == "DISPATCHED") == shipped
    assert now["status"] in ("DISPATCHED", "ON_HOLD")


async def test_a_dispatch_needs_a_carrier_and_a_tracking_number(server: LiveServer) -> None:
    sku = "SH-PARCEL"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 2}})')
    order = await placed(server, [{"sku": sku, "quantity": 1}])
    await open_shipments(server)
    found = await the_shipment(server, order["id"])
    await to_awaiting(server, found["id"])
    for bad, path in (
        ({"carrier": " ", "trackingNumber": "X1"}, "carrier"),
        ({"carrier": "DHL", "trackingNumber": ""}, "trackingNumber"),
        ({"carrier": "DHL", "trackingNumber": "X1", "trackingUrl": "ftp://x"}, "trackingUrl"),
    ):
        payload = await move(server, DISPATCH, id=found["id"], **bad)
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("INVALID", ["input", path])
        ]
    missing = await server.gql(
        'mutation($id: ID!) { dispatchShipment(input: {id: $id, carrier: "DHL"}) '
        "{ userErrors { code } } }",
        {"id": found["id"]},
    )
    assert missing.errors  # the schema requires it
    assert (await shipment(server, found["id"]))["status"] == "AWAITING_SHIPMENT"


async def test_a_dispatch_that_would_ship_units_ring_fenced_for_waiting_lines_is_refused(
    server: LiveServer,
) -> None:
    sku = "SH-FENCE"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 2}})')
    ready = await placed(server, [{"sku": sku, "quantity": 2}])
    await product_backorders(server, sku)
    waiting = await placed(server, [{"sku": sku, "quantity": 1}])
    assert waiting["lines"][0]["state"] == "BACKORDER"
    await receive(server, sku, 1)  # ring-fenced for the backorder
    counted = await server.gql(
        f'mutation {{ setStock(input: {{sku: "{sku}", location: "main", quantity: 2}}) '
        "{ userErrors { code } } }"
    )
    assert counted.data["setStock"]["userErrors"] == []  # a count found one unit less
    await open_shipments(server)
    found = await the_shipment(server, ready["id"])
    await to_awaiting(server, found["id"])
    before = await stock_view(server, sku)

    payload = await move(server, DISPATCH, id=found["id"], **parcel())
    assert [e["code"] for e in payload["userErrors"]] == ["INSUFFICIENT_STOCK"]
    assert "ring-fenced" in payload["userErrors"][0]["message"]
    wrapper = await server.gql(DISPATCH_LINES, {"input": {"orderId": ready["id"]}})
    assert [e["code"] for e in wrapper.data["dispatchOrderLines"]["userErrors"]] == [
        "INSUFFICIENT_STOCK"
    ]
    assert await stock_view(server, sku) == before
    assert (await shipment(server, found["id"]))["status"] == "AWAITING_SHIPMENT"
    # the backorder's units are still there for it
    backorder = await the_shipment(server, waiting["id"])
    await to_awaiting(server, backorder["id"])
    assert (await moved(server, DISPATCH, id=backorder["id"], **parcel()))["status"] == (
        "DISPATCHED"
    )


async def product_backorders(server: LiveServer, sku: str) -> None:
    result = await server.gql(
        f'mutation {{ configureBackorder(input: {{sku: "{sku}", allowed: true}}) '
        "{ userErrors { code } } }"
    )
    assert result.data["configureBackorder"]["userErrors"] == []


async def test_dispatch_order_lines_opens_advances_and_dispatches_their_shipments(
    server: LiveServer,
) -> None:
    sku = "SH-WRAP"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 5}})')
    order = await placed(server, [{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 1}])
    assert await shipments_of(server, order["id"]) == []
    first, second = order["lines"]
    result = await server.gql(
        DISPATCH_LINES,
        {"input": {"orderId": order["id"], "lineIds": [first["id"]], **parcel("WRAP1")}},
    )
    payload = result.data["dispatchOrderLines"]
    assert payload["userErrors"] == []
    assert [x["status"] for x in payload["order"]["lines"]] == ["SHIPPED", "RESERVED"]
    (made,) = await shipments_of(server, order["id"])
    assert (made["status"], made["trackingNumber"]) == ("DISPATCHED", "WRAP1")
    assert kinds(made["events"]) == [
        "SHIPMENT_CREATED",
        "SHIPMENT_ADVANCED",
        "SHIPMENT_DISPATCHED",
    ]
    # the job opens the other line's shipment; naming only part of a shipment is refused
    await open_shipments(server)
    other = next(s for s in await shipments_of(server, order["id"]) if s["status"] == "PICKING")
    held = await moved(server, HOLD, id=other["id"], reason="OTHER")
    refused = await server.gql(
        DISPATCH_LINES, {"input": {"orderId": order["id"], "lineIds": [second["id"]]}}
    )
    assert [e["code"] for e in refused.data["dispatchOrderLines"]["userErrors"]] == [
        "INVALID_TRANSITION"
    ]
    await moved(server, RELEASE, id=held["id"])
    done = await server.gql(DISPATCH_LINES, {"input": {"orderId": order["id"]}})
    assert done.data["dispatchOrderLines"]["userErrors"] == []
    assert done.data["dispatchOrderLines"]["order"]["status"] == "COMPLETED"
    # confirmDelivery delivers the lines and, all of them delivered, their shipments
    delivered = await server.gql(
        CONFIRM,
        {"input": {"orderId": order["id"], "deliveredOn": server.services.today().isoformat()}},
    )
    assert delivered.data["confirmDelivery"]["userErrors"] == []
    assert {s["status"] for s in await shipments_of(server, order["id"])} == {"DELIVERED"}


async def test_dispatch_order_lines_refuses_a_line_that_shares_its_shipment_with_others(
    server: LiveServer,
) -> None:
    sku = "SH-WRAP-PART"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 5}})')
    order = await placed(server, [{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 2}])
    await open_shipments(server)
    found = await the_shipment(server, order["id"])
    assert len(found["lines"]) == 2
    refused = await server.gql(
        DISPATCH_LINES,
        {"input": {"orderId": order["id"], "lineIds": [order["lines"][0]["id"]]}},
    )
    errors = refused.data["dispatchOrderLines"]["userErrors"]
    assert [e["code"] for e in errors] == ["NOT_DISPATCHABLE"]
    assert found["number"] in errors[0]["message"]
    assert (await moved(server, ADVANCE, id=found["id"]))["status"] == "PACKED"


async def test_after_all_of_the_above_no_invariant_is_violated(server: LiveServer) -> None:
    violations = await check(server.services)
    assert [v for v in violations if v.is_error] == [], [str(v) for v in violations]
