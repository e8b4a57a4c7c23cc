"""Auto-consolidation: on a channel that asks for it, one customer's pre-order and backorder
lines that can ship at the same time leave as one shipment across their orders; each line's
estimate then follows the latest line of the shipment, re-promised as a delay when that moves
it later. Other customers, READY lines and channels without the option are not merged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from app.services.invariants import check
from tests.api.placement_helpers import placed, product
from tests.api.shipment_helpers import (
    CANCEL,
    DISPATCH,
    kinds,
    moved,
    order_view,
    parcel,
    receive,
    run_job,
    shipments_of,
    the_shipment,
    to_awaiting,
)
from tests.support import LiveServer

SET_FULFILMENT = """
mutation($input: SetChannelFulfilmentInput!) {
  setChannelFulfilment(input: $input) { userErrors { field code message } }
}
"""


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


async def _consolidating(server: LiveServer, channel: str = "marketplace") -> None:
    result = await server.gql(
        SET_FULFILMENT,
        {"input": {"channel": channel, "slaHours": 48, "autoConsolidate": True}},
    )
    assert result.data["setChannelFulfilment"]["userErrors"] == []


async def _order(server: LiveServer, sku: str, email: str, channel: str) -> dict[str, Any]:
    return dict(await placed(server, [{"sku": sku, "quantity": 1}], email=email, channel=channel))


async def test_one_customers_orders_waiting_for_one_release_leave_as_one_shipment(
    server: LiveServer,
) -> None:
    await _consolidating(server)
    sku = "SH-CONS-LAUNCH"
    launch = server.services.today() + timedelta(days=5)
    await product(
        server,
        sku,
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, '
        f'releaseDate: "{launch.isoformat()}"}})',
    )
    ada = [await _order(server, sku, "ada@example.com", "marketplace") for _ in range(2)]
    bob = await _order(server, sku, "bob@example.com", "marketplace")
    carl = [await _order(server, sku, "carl@example.com", "webstore") for _ in range(2)]
    await receive(server, sku, 10)
    server.clock.set_today(launch)
    await run_job(server, "RELEASE_PREORDERS")

    merged = await the_shipment(server, ada[0]["id"])
    assert merged["kind"] == "PRE_ORDER"
    assert sorted(o["id"] for o in merged["orders"]) == sorted(o["id"] for o in ada)
    assert len(merged["lines"]) == 2
    assert (await the_shipment(server, ada[1]["id"]))["id"] == merged["id"]
    created = [e for e in merged["events"] if e["kind"] == "SHIPMENT_CREATED"]
    assert sorted(e["order"]["id"] for e in created) == sorted(o["id"] for o in ada)
    assert all(e["payload"]["orders"] == 2 for e in created)
    for order in ada:  # each order's history shows the shipment
        assert "SHIPMENT_CREATED" in kinds((await order_view(server, order["id"]))["events"])
    assert (await the_shipment(server, bob["id"]))["id"] != merged["id"]  # another customer
    carl_shipments = {(await the_shipment(server, o["id"]))["id"] for o in carl}
    assert len(carl_shipments) == 2  # a channel without the option ships each order

    await to_awaiting(server, merged["id"])
    dispatched = await moved(server, DISPATCH, id=merged["id"], **parcel())
    assert {x["status"] for x in dispatched["lines"]} == {"SHIPPED"}
    for order in ada:
        view = await order_view(server, order["id"])
        assert view["status"] == "COMPLETED"
        assert kinds(view["events"]).count("SHIPMENT_DISPATCHED") == 1


async def test_a_line_consolidated_with_a_later_one_follows_its_estimate_as_a_delay(
    server: LiveServer,
) -> None:
    await _consolidating(server)
    early, late = "SH-CONS-EARLY", "SH-CONS-LATE"
    for sku in (early, late):
        await product(
            server,
            sku,
            f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
            f'configureBackorder(input: {{sku: "{sku}", allowed: true}})',
        )
    first = await _order(server, early, "dora@example.com", "marketplace")
    second = await _order(server, late, "dora@example.com", "marketplace")
    await receive(server, early, 1)
    alone = await the_shipment(server, first["id"])
    assert len(alone["orders"]) == 1  # the other order had nothing to ship yet
    # the warehouse undoes it; the line waits for the next opening
    await moved(server, CANCEL, id=alone["id"], reason="re-pick")
    before = (await order_view(server, first["id"]))["lines"][0]
    server.clock.advance(days=3)
    await receive(server, late, 1)

    merged = next(s for s in await shipments_of(server, second["id"]) if s["status"] == "PICKING")
    assert sorted(o["id"] for o in merged["orders"]) == sorted([first["id"], second["id"]])
    assert merged["kind"] == "BACKORDER"
    line = (await order_view(server, first["id"]))["lines"][0]
    later = (await order_view(server, second["id"]))["lines"][0]
    assert line["shipment"]["id"] == merged["id"]
    assert line["deliveryEstimate"] == later["deliveryEstimate"]  # the latest line's window
    last = line["promiseHistory"][-1]
    assert last["cause"] == "CONSOLIDATION"
    assert last["delayedDays"] == 3
    assert last["latest"] > before["deliveryEstimate"]["latest"]
    delayed = [
        e
        for e in (await order_view(server, first["id"]))["events"]
        if e["kind"] == "LINE_DELIVERY_DELAYED"
    ]
    assert delayed[-1]["payload"]["cause"] == "CONSOLIDATION"
    assert delayed[-1]["payload"]["delayedDays"] == 3
    # the later line's own estimate did not move
    assert later["promiseHistory"][-1]["cause"] != "CONSOLIDATION"


async def test_ready_lines_are_never_consolidated(server: LiveServer) -> None:
    await _consolidating(server)
    sku = "SH-CONS-READY"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 5}})')
    orders = [await _order(server, sku, "eve@example.com", "marketplace") for _ in range(2)]
    await run_job(server, "OPEN_SHIPMENTS")
    found = [await the_shipment(server, o["id"]) for o in orders]
    assert {s["kind"] for s in found} == {"READY"}
    assert len({s["id"] for s in found}) == 2


async def test_after_all_of_the_above_no_invariant_is_violated(server: LiveServer) -> None:
    violations = await check(server.services)
    assert [v for v in violations if v.is_error] == [], [str(v) for v in violations]
