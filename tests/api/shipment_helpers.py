"""GraphQL documents and small functions shared by the shipment test modules (no tests)."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from typing import Any

from tests.support import LiveServer

SHIPMENT_FIELDS = """
  id number status kind heldFrom holdReason holdNote channel region carrierService
  carrier trackingNumber trackingUrl readyAt dispatchDeadline urgency packedAt dispatchedAt
  deliveredOn cancelledAt
  order { id number }
  orders { id number }
  lines { id sku quantity state status shippedAt deliveredOn }
  events { kind subjectKey payload before order { id } }
"""

SHIPMENT = f"query($id: ID!) {{ shipment(id: $id) {{ {SHIPMENT_FIELDS} }} }}"

SHIPMENTS = f"""
query($first: Int, $after: String, $filter: ShipmentFilterInput) {{
  shipments(first: $first, after: $after, filter: $filter) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {SHIPMENT_FIELDS} }}
  }}
}}
"""

ORDER_SHIPMENTS = f"""
query($id: ID!) {{
  order(id: $id) {{
    id status
    shipments {{ {SHIPMENT_FIELDS} }}
    lines {{ id status state shipment {{ id number }} deliveryEstimate {{ earliest latest }}
             promiseHistory {{ earliest latest cause delayedDays }} }}
    payments {{ kind amount {{ amountMinor }} note line {{ id }} }}
    paymentSummary {{ captured {{ amountMinor }} dueAtDispatch {{ amountMinor }} }}
    events {{ kind subjectKey payload }}
  }}
}}
"""


def mutation(name: str, input_type: str) -> str:
    return f"""
mutation($input: {input_type}!) {{
  {name}(input: $input) {{
    shipment {{ {SHIPMENT_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""


ADVANCE = mutation("advanceShipment", "AdvanceShipmentInput")
HOLD = mutation("holdShipment", "HoldShipmentInput")
RELEASE = mutation("releaseShipment", "ReleaseShipmentInput")
DISPATCH = mutation("dispatchShipment", "DispatchShipmentInput")
DELIVER = mutation("markShipmentDelivered", "MarkShipmentDeliveredInput")
CANCEL = mutation("cancelShipment", "CancelShipmentInput")

RUN_JOB = "mutation($job: ScheduledJob!) { runScheduledJob(input: {job: $job}) { ran result } }"

ACCURACY = """query($sku: String) {
  promiseAccuracy(sku: $sku) { deliveredLines onTimeLines }
}"""

STOCK = """query($sku: String!) {
  product(sku: $sku) { onHand pools { kind channel committed } }
}"""


def db_id(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id).decode().split(":", 1)[1])


async def run_job(server: LiveServer, job: str) -> Any:
    result = await server.gql(RUN_JOB, {"job": job})
    payload = result.data["runScheduledJob"]
    assert payload["ran"] is True, payload
    return payload["result"]


async def open_shipments(server: LiveServer) -> Any:
    return await run_job(server, "OPEN_SHIPMENTS")


async def move(
    server: LiveServer, document: str, *, key: str | None = None, **data: Any
) -> dict[str, Any]:
    """A shipment mutation's payload (shipment and userErrors)."""
    result = await server.gql(document, {"input": data}, key=key)
    payload: dict[str, Any] = next(iter(result.data.values()))
    return payload


async def moved(server: LiveServer, document: str, **data: Any) -> dict[str, Any]:
    """A shipment mutation that must succeed: the shipment after it."""
    payload = await move(server, document, **data)
    assert payload["userErrors"] == [], payload["userErrors"]
    shipment: dict[str, Any] = payload["shipment"]
    return shipment


async def shipment(server: LiveServer, shipment_id: str, key: str | None = None) -> Any:
    return (await server.gql(SHIPMENT, {"id": shipment_id}, key=key)).data["shipment"]


async def order_view(server: LiveServer, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await server.gql(ORDER_SHIPMENTS, {"id": order_id})).data["order"]
    return found


async def shipments_of(server: LiveServer, order_id: str) -> list[dict[str, Any]]:
    return list((await order_view(server, order_id))["shipments"])


async def the_shipment(server: LiveServer, order_id: str) -> dict[str, Any]:
    """The one shipment of an order that must have exactly one."""
    found = await shipments_of(server, order_id)
    assert len(found) == 1, found
    return found[0]


async def to_awaiting(server: LiveServer, shipment_id: str) -> dict[str, Any]:
    await moved(server, ADVANCE, id=shipment_id)
    return await moved(server, ADVANCE, id=shipment_id)


async def stock_view(server: LiveServer, sku: str) -> dict[str, Any]:
    product = (await server.gql(STOCK, {"sku": sku})).data["product"]
    view: dict[str, Any] = {"onHand": product["onHand"]}
    for pool in product["pools"]:
        view[pool["channel"] or pool["kind"]] = pool["committed"]
    return view


def parcel(number: str | None = None) -> dict[str, str]:
    tracking = number or f"TRK{uuid.uuid4().hex[:8].upper()}"
    return {
        "carrier": "DHL",
        "trackingNumber": tracking,
        "trackingUrl": f"https://track.example/{tracking}",
    }


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


async def accuracy(server: LiveServer, sku: str) -> tuple[int, int]:
    found = (await server.gql(ACCURACY, {"sku": sku})).data["promiseAccuracy"]
    return found["deliveredLines"], found["onTimeLines"]


def day_after(server: LiveServer, days: int = 0) -> str:
    return (server.services.today() + timedelta(days=days)).isoformat()


RECEIVE = """
mutation($input: ReceiveGoodsInput!) {
  receiveGoods(input: $input) { receipt { allocated toStock } userErrors { field code message } }
}
"""


async def receive(server: LiveServer, sku: str, quantity: int, location: str = "main") -> Any:
    data = {
        "sku": sku,
        "quantity": quantity,
        "location": location,
        "reference": f"GRN-{uuid.uuid4().hex[:8]}",
    }
    payload = (await server.gql(RECEIVE, {"input": data})).data["receiveGoods"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["receipt"]
