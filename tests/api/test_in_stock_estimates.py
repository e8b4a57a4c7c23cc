"""A READY line's delivery estimate is the window the PDP showed when it was ordered: handling,
then transit for the order's region and carrier service, from the placement day in the store's
time zone. It does not move with the clock and stays once the line has shipped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from tests.api.placement_helpers import product
from tests.support import LiveServer, live_server

# Auckland is 12 or 13 hours ahead of UTC: at 13:00 UTC it is already the next day there.
STORE_TIMEZONE = "Pacific/Auckland"

PDP = """
query($sku: String!, $service: String) {
  productAvailability(sku: $sku, region: "EU", carrierService: $service) {
    state deliveryEstimate { earliest latest reason confidence }
  }
}
"""

LINE_FIELDS = "id state status deliveryEstimate { earliest latest reason confidence }"

PLACE = f"""
mutation($input: PlaceOrderInput!) {{
  placeOrder(input: $input) {{
    order {{ id lines {{ {LINE_FIELDS} }} }}
    userErrors {{ field code message }}
  }}
}}
"""

ORDER = f"query($id: ID!) {{ order(id: $id) {{ lines {{ {LINE_FIELDS} }} }} }}"

DISPATCH = """
mutation($id: ID!) {
  dispatchOrderLines(input: {orderId: $id}) { userErrors { field code message } }
}
"""

CANCEL = """
mutation($id: ID!) { cancelOrder(input: {id: $id}) { userErrors { field code message } } }
"""


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, store_timezone=STORE_TIMEZONE) as live:
        yield live


async def _stocked(server: LiveServer, sku: str) -> None:
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 9}})')


async def _pdp(server: LiveServer, sku: str, service: str | None) -> dict[str, Any]:
    answer = (await server.gql(PDP, {"sku": sku, "service": service})).data
    assert answer["productAvailability"]["state"] == "IN_STOCK"
    estimate: dict[str, Any] = answer["productAvailability"]["deliveryEstimate"]
    return estimate


async def _place(server: LiveServer, sku: str, service: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"region": "EU", "postalCode": "1011"}
    if service is not None:
        address["carrierService"] = service
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": "stock@example.com", "name": "Stock"},
                "shippingAddress": address,
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    payload = result.data["placeOrder"]
    assert payload["userErrors"] == []
    order: dict[str, Any] = payload["order"]
    return order


async def _line(server: LiveServer, order_id: str) -> dict[str, Any]:
    line: dict[str, Any] = (await server.gql(ORDER, {"id": order_id})).data["order"]["lines"][0]
    return line


async def test_an_in_stock_line_is_promised_the_window_the_pdp_showed_for_its_carrier_service(
    server: LiveServer,
) -> None:
    server.clock.current = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)  # 5 March in Auckland
    await _stocked(server, "ISE-EXPRESS")
    shown = await _pdp(server, "ISE-EXPRESS", "EXPRESS")
    order = await _place(server, "ISE-EXPRESS", "EXPRESS")
    line = order["lines"][0]
    assert (line["state"], line["status"]) == ("READY", "RESERVED")
    assert line["deliveryEstimate"] == shown
    # counted from the store's day (1 handling day, EU express 1-2 days), not UTC's
    assert (shown["earliest"], shown["latest"]) == ("2031-03-07", "2031-03-08")
    assert (shown["reason"], shown["confidence"]) == (None, "HIGH")


async def test_an_in_stock_line_without_a_carrier_service_gets_the_regions_own_window(
    server: LiveServer,
) -> None:
    server.clock.current = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)
    await _stocked(server, "ISE-STANDARD")
    shown = await _pdp(server, "ISE-STANDARD", None)
    order = await _place(server, "ISE-STANDARD", None)
    assert order["lines"][0]["deliveryEstimate"] == shown
    assert (shown["earliest"], shown["latest"]) == ("2031-03-08", "2031-03-10")  # EU: 2-4 days


async def test_the_estimate_of_an_in_stock_line_stays_as_days_pass_and_once_it_has_shipped(
    server: LiveServer,
) -> None:
    server.clock.current = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)
    await _stocked(server, "ISE-SHIPPED")
    order = await _place(server, "ISE-SHIPPED", "EXPRESS")
    promised = order["lines"][0]["deliveryEstimate"]
    server.clock.advance(days=3)
    assert (await _line(server, order["id"]))["deliveryEstimate"] == promised
    assert (await _pdp(server, "ISE-SHIPPED", "EXPRESS")) != promised  # the PDP moved on
    dispatched = await server.gql(DISPATCH, {"id": order["id"]})
    assert dispatched.data["dispatchOrderLines"]["userErrors"] == []
    shipped = await _line(server, order["id"])
    assert shipped["status"] == "SHIPPED"
    assert shipped["deliveryEstimate"] == promised


async def test_a_cancelled_in_stock_line_has_no_estimate(server: LiveServer) -> None:
    server.clock.current = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)
    await _stocked(server, "ISE-CANCELLED")
    order = await _place(server, "ISE-CANCELLED", None)
    cancelled = await server.gql(CANCEL, {"id": order["id"]})
    assert cancelled.data["cancelOrder"]["userErrors"] == []
    line = await _line(server, order["id"])
    assert line["status"] == "CANCELLED"
    assert line["deliveryEstimate"] is None
