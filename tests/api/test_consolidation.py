"""consolidateShipments: one customer's waiting backorder and pre-order shipments to one
address by one carrier service become one shipment (the earliest deadline survives and keeps
it), the estimates follow the latest line; anything that cannot merge is refused with its
reason and nothing changes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.placement_helpers import product
from tests.api.shipment_helpers import (
    ADVANCE,
    SHIPMENT_FIELDS,
    moved,
    order_view,
    receive,
    the_shipment,
)
from tests.support import LiveServer

CONSOLIDATE = f"""
mutation($input: ConsolidateShipmentsInput!) {{
  consolidateShipments(input: $input) {{
    shipment {{ {SHIPMENT_FIELDS} }}
    shipmentsSaved
    userErrors {{ field code message }}
  }}
}}
"""

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id number lines { id state status } } userErrors { code } }
}
"""

HOME = {"region": "EU", "postalCode": "1011", "lines": ["Main street 1"]}


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


async def backorderable(server: LiveServer, sku: str) -> None:
    await product(
        server,
        sku,
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
        f'configureBackorder(input: {{sku: "{sku}", allowed: true}})',
    )


async def place(
    server: LiveServer,
    sku: str,
    *,
    email: str = "cora@example.com",
    address: dict[str, Any] | None = None,
    channel: str = "webstore",
    quantity: int = 1,
) -> dict[str, Any]:
    data = {
        "idempotencyKey": str(uuid.uuid4()),
        "channel": channel,
        "customer": {"email": email, "name": "Cora"},
        "shippingAddress": address or HOME,
        "lines": [{"sku": sku, "quantity": quantity}],
    }
    payload = (await server.gql(PLACE, {"input": data})).data["placeOrder"]
    assert payload["userErrors"] == [], payload["userErrors"]
    order: dict[str, Any] = payload["order"]
    assert order["lines"][0]["state"] == "BACKORDER"
    return order


async def consolidate(server: LiveServer, key: str | None = None, **data: Any) -> dict[str, Any]:
    result = await server.gql(CONSOLIDATE, {"input": data}, key=key)
    payload: dict[str, Any] = result.data["consolidateShipments"]
    return payload


async def snapshot(server: LiveServer, *orders: dict[str, Any]) -> list[Any]:
    """What a refusal must leave as it was: the orders' lines and shipments, and the ledger."""
    order_ids = [uuid.UUID(_raw(o["id"])) for o in orders]
    lines = await server.sql(
        "SELECT id, shipment_id, status, promised_latest FROM order_lines "
        "WHERE order_id = ANY($1::uuid[]) ORDER BY id",
        order_ids,
    )
    shipments = await server.sql(
        "SELECT id, status, kind, dispatch_deadline FROM shipments "
        "WHERE order_id = ANY($1::uuid[]) ORDER BY id",
        order_ids,
    )
    events = await server.sql("SELECT max(id) FROM events")
    return [[dict(r) for r in lines], [dict(r) for r in shipments], events[0][0]]


def _raw(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id).decode().split(":", 1)[1]


def errors(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def two_waiting_orders(
    server: LiveServer, sku: str, second: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two backorders of ``sku`` by one customer (the second with ``second``'s changes),
    allocated by one receipt: a shipment each."""
    await backorderable(server, sku)
    first = await place(server, sku)
    other = await place(server, sku, **(second or {}))
    await receive(server, sku, 2)
    return first, other


async def test_two_backorders_of_one_customer_merge_into_the_shipment_with_the_earliest_deadline(
    server: LiveServer,
) -> None:
    await backorderable(server, "CO-EARLY")
    await backorderable(server, "CO-LATE")
    early = await place(server, "CO-EARLY")
    late = await place(server, "CO-LATE")
    await receive(server, "CO-EARLY", 1)
    server.clock.advance(days=3)  # the second arrives 3 days later: a later window
    await receive(server, "CO-LATE", 1)
    kept = await the_shipment(server, early["id"])
    gone = await the_shipment(server, late["id"])
    assert (kept["kind"], gone["kind"]) == ("BACKORDER", "BACKORDER")
    assert kept["dispatchDeadline"] < gone["dispatchDeadline"]
    late_line = (await order_view(server, late["id"]))["lines"][0]["deliveryEstimate"]

    payload = await consolidate(server, orderIds=[late["id"], early["id"]])
    assert payload["userErrors"] == []
    assert payload["shipmentsSaved"] == 1
    merged = payload["shipment"]
    assert (merged["id"], merged["status"]) == (kept["id"], "PICKING")
    assert merged["dispatchDeadline"] == kept["dispatchDeadline"]  # the survivor's stays
    assert sorted(o["id"] for o in merged["orders"]) == sorted([early["id"], late["id"]])
    assert sorted(line["sku"] for line in merged["lines"]) == ["CO-EARLY", "CO-LATE"]
    assert [e["kind"] for e in merged["events"]][-2:] == ["SHIPMENTS_CONSOLIDATED"] * 2
    assert merged["events"][-1]["payload"]["merged"] == [gone["number"]]

    of_late = {s["id"]: s for s in (await order_view(server, late["id"]))["shipments"]}
    assert {sid: s["status"] for sid, s in of_late.items()} == {
        merged["id"]: "PICKING",
        gone["id"]: "CANCELLED",
    }
    gone_after = of_late[gone["id"]]
    assert gone_after["events"][-1]["kind"] == "SHIPMENTS_CONSOLIDATED"
    assert gone_after["events"][-1]["payload"]["into"] == kept["number"]

    # the earlier line now leaves with the later one: re-promised to its window, as a delay
    early_line = (await order_view(server, early["id"]))["lines"][0]
    assert early_line["deliveryEstimate"] == late_line
    last = early_line["promiseHistory"][-1]
    assert (last["cause"], last["delayedDays"]) == ("CONSOLIDATION", 3)
    assert early_line["shipment"]["id"] == merged["id"]


async def test_a_customer_and_sku_merge_only_that_customers_shipments_of_the_sku(
    server: LiveServer,
) -> None:
    await backorderable(server, "CO-SKU")
    mine = [await place(server, "CO-SKU", email="Dora@Example.com") for _ in range(3)]
    theirs = await place(server, "CO-SKU", email="eve@example.com")
    await receive(server, "CO-SKU", 4)
    payload = await consolidate(server, customerEmail="dora@example.com", sku="CO-SKU")
    assert payload["userErrors"] == []
    assert payload["shipmentsSaved"] == 2
    assert sorted(o["id"] for o in payload["shipment"]["orders"]) == sorted(m["id"] for m in mine)
    assert (await the_shipment(server, theirs["id"]))["status"] == "PICKING"
    again = await consolidate(server, customerEmail="dora@example.com", sku="CO-SKU")
    assert errors(again) == [(["input", "customerEmail"], "NOTHING_TO_CONSOLIDATE")]
    assert again["shipmentsSaved"] == 0


async def test_another_address_is_refused_and_nothing_changes(server: LiveServer) -> None:
    first, other = await two_waiting_orders(
        server, "CO-ADDR", {"address": {**HOME, "lines": ["Dam 2"]}}
    )
    before = await snapshot(server, first, other)
    payload = await consolidate(server, orderIds=[first["id"], other["id"]])
    assert errors(payload) == [(["input", "orderIds", "1"], "DIFFERENT_ADDRESS")]
    assert payload["shipment"] is None
    assert await snapshot(server, first, other) == before


async def test_another_carrier_service_is_refused_and_nothing_changes(server: LiveServer) -> None:
    first, other = await two_waiting_orders(
        server, "CO-SERVICE", {"address": {**HOME, "carrierService": "EXPRESS"}}
    )
    before = await snapshot(server, first, other)
    payload = await consolidate(server, orderIds=[first["id"], other["id"]])
    assert errors(payload) == [(["input", "orderIds", "1"], "DIFFERENT_CARRIER_SERVICE")]
    assert "EXPRESS" in payload["userErrors"][0]["message"]
    assert await snapshot(server, first, other) == before


async def test_an_already_packed_shipment_is_refused_and_nothing_changes(
    server: LiveServer,
) -> None:
    first, other = await two_waiting_orders(server, "CO-PACKED")
    await moved(server, ADVANCE, id=(await the_shipment(server, other["id"]))["id"])
    before = await snapshot(server, first, other)
    payload = await consolidate(server, orderIds=[first["id"], other["id"]])
    assert errors(payload) == [(["input", "orderIds", "1"], "ALREADY_PACKED")]
    assert "PACKED" in payload["userErrors"][0]["message"]
    assert await snapshot(server, first, other) == before


async def test_a_line_whose_units_are_not_all_there_is_refused_and_nothing_changes(
    server: LiveServer,
) -> None:
    first, other = await two_waiting_orders(server, "CO-SHORT")
    short = await place(server, "CO-SHORT", quantity=2)
    await receive(server, "CO-SHORT", 1)  # one of its two units
    before = await snapshot(server, first, other, short)
    payload = await consolidate(server, orderIds=[first["id"], other["id"], short["id"]])
    assert errors(payload) == [(["input", "orderIds", "2"], "NOT_ALLOCATED")]
    assert "has 1 of its 2 units" in payload["userErrors"][0]["message"]
    assert await snapshot(server, first, other, short) == before


async def test_another_customers_order_is_refused_and_nothing_changes(server: LiveServer) -> None:
    first, other = await two_waiting_orders(server, "CO-WHO", {"email": "finn@example.com"})
    before = await snapshot(server, first, other)
    payload = await consolidate(server, orderIds=[first["id"], other["id"]])
    assert errors(payload) == [(["input", "orderIds", "1"], "DIFFERENT_CUSTOMER")]
    assert await snapshot(server, first, other) == before


async def test_one_shipment_alone_is_nothing_to_consolidate(server: LiveServer) -> None:
    await backorderable(server, "CO-ALONE")
    alone = await place(server, "CO-ALONE")
    await receive(server, "CO-ALONE", 1)
    payload = await consolidate(server, orderIds=[alone["id"]])
    assert errors(payload) == [(["input", "orderIds", "0"], "NOTHING_TO_CONSOLIDATE")]


async def test_the_input_takes_one_form_and_another_channels_orders_are_not_found(
    server: LiveServer,
) -> None:
    first, other = await two_waiting_orders(server, "CO-FORM")
    for data, field in (
        ({}, ["input"]),
        ({"orderIds": [first["id"]], "customerEmail": "cora@example.com", "sku": "X"}, ["input"]),
        ({"customerEmail": "cora@example.com"}, ["input", "sku"]),
        ({"orderIds": []}, ["input", "orderIds"]),
        ({"customerEmail": "not an address", "sku": "CO-FORM"}, ["input", "customerEmail"]),
    ):
        payload = await consolidate(server, **data)
        assert errors(payload) == [(field, "INVALID")], data
    unknown = await consolidate(server, orderIds=[first["id"], "bm90LWFuLW9yZGVy"])
    assert errors(unknown) == [(["input", "orderIds", "1"], "NOT_FOUND")]
    marketplace = await server.key_with("channel:marketplace")
    hidden = await consolidate(server, marketplace, orderIds=[first["id"], other["id"]])
    assert errors(hidden) == [
        (["input", "orderIds", "0"], "NOT_FOUND"),
        (["input", "orderIds", "1"], "NOT_FOUND"),
    ]
    unseen = await consolidate(server, marketplace, customerEmail="cora@example.com", sku="CO-FORM")
    assert errors(unseen) == [(["input", "customerEmail"], "NOTHING_TO_CONSOLIDATE")]
    refused = await server.gql(
        CONSOLIDATE,
        {"input": {"orderIds": [first["id"]]}},
        key=await server.key_with("storefront"),
    )
    assert [e["extensions"]["code"] for e in refused.errors] == ["FORBIDDEN"]
    webstore = await consolidate(
        server, await server.key_with("channel:webstore"), orderIds=[first["id"], other["id"]]
    )
    assert webstore["userErrors"] == []
    assert webstore["shipmentsSaved"] == 1
