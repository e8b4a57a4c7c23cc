"""Helpers shared by the queue-race and delay-consent test modules (a plain module, no tests)."""

from __future__ import annotations

from typing import Any

from tests.api.test_supply_and_allocation import (
    UPDATE_ETA,
    backorderable,
    days,
    fresh_line,
    order_mutation,
    place,
    product,
    purchase_order,
    run_job,
)
from tests.support import LiveServer

CANCEL_ORDER = order_mutation("cancelOrder", "CancelOrderInput")


async def delayed_line(server: LiveServer, sku: str) -> dict[str, Any]:
    """An order whose only line waits for a delay answer (REQUESTED), the customer told."""
    await product(server, sku, *backorderable(sku), price=2000)
    po = await purchase_order(server, sku, 10, 10, supplier="RV-CONSENT")
    order = await place(server, sku, 2)
    await run_job(server, "PROMISE_NEW_LINES")
    moved = await server.gql(
        UPDATE_ETA, {"input": {"id": po["id"], "expectedOn": days(server, 60), "reason": "fire"}}
    )
    assert moved.data["updateSupplyEta"]["userErrors"] == []
    await run_job(server, "SEND_NOTIFICATIONS")  # the customer is told: their clock starts
    told = await fresh_line(server, order)
    assert told["delayConsent"] == "REQUESTED"
    assert told["consentDueAt"] is not None
    return order
