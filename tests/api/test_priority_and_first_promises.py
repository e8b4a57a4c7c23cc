"""Promises that stay true: a new line's first promise counts the lines already promised ahead of
it, and tagging or placing a PRIORITY order re-promises the lines it jumps ahead of."""

from __future__ import annotations

from typing import Any

from tests.api.test_supply_and_allocation import (
    SET_POLICY,
    UPDATE_ETA,
    backorderable,
    days,
    events,
    fresh_line,
    line,
    mutate,
    order_mutation,
    place,
    product,
    purchase_order,
    read,
    run_job,
)
from tests.support import LiveServer

# ---------------------------------------------------------------- first promises


async def test_the_first_promise_of_a_new_line_counts_the_already_promised_lines_ahead_of_it(
    server: LiveServer,
) -> None:
    sku = "RV-FIRST-PROMISE"
    await product(server, sku, *backorderable(sku))
    await purchase_order(server, sku, 10, 10, supplier="RV-SUP")
    late = await purchase_order(server, sku, 10, 60, supplier="RV-SUP")
    first = await place(server, sku, 8)
    await run_job(server, "PROMISE_NEW_LINES")
    second = await place(server, sku, 8)
    live = (await fresh_line(server, second))["deliveryEstimate"]
    await run_job(server, "PROMISE_NEW_LINES")

    promised = await fresh_line(server, second)
    # 8 units ahead + its 8 > the 10 of the first PO: the second PO serves it
    assert promised["promiseHistory"][0]["latest"] == live["latest"]
    assert promised["promiseHistory"][0]["latest"] > late["expectedOn"]
    # nothing changed for it since: another supply far away does not "delay" it
    await purchase_order(server, sku, 5, 200, supplier="RV-SUP")
    assert events(await read(server, second), "LINE_DELIVERY_DELAYED") == []
    assert events(await read(server, first), "LINE_DELIVERY_DELAYED") == []


async def test_a_slip_right_after_placement_is_a_delay_of_the_first_promise_and_asks_consent(
    server: LiveServer,
) -> None:
    sku = "RV-SLIP-EARLY"
    await product(server, sku, *backorderable(sku))
    po = await purchase_order(server, sku, 10, 10, supplier="RV-EARLY")
    order = await place(server, sku, 2)
    # no promise job ran: the placement itself recorded the first promise
    await mutate(
        server,
        UPDATE_ETA,
        "updateSupplyEta",
        input={"id": po["id"], "expectedOn": days(server, 60), "reason": "fire"},
    )

    slipped = await read(server, order)
    history = line(slipped)["promiseHistory"]
    assert [p["cause"] for p in history] == ["PLACED", "SUPPLY_SLIPPED"]
    assert history[1]["delayedDays"] > 14
    assert line(slipped)["delayConsent"] == "REQUESTED"
    assert len(events(slipped, "LINE_DELIVERY_DELAYED")) == 1


# ---------------------------------------------------------------- promises that stay true

TAG_ORDER = order_mutation("tagOrder", "TagOrderInput")


async def _priority_sku(server: LiveServer, sku: str) -> tuple[dict[str, Any], dict[str, Any]]:
    await product(server, sku, *backorderable(sku))
    await mutate(server, SET_POLICY, "setAllocationPolicy", sku=sku, policy="PRIORITY_FIRST")
    soon = await purchase_order(server, sku, 10, 10, supplier="RV-PRIO")
    late = await purchase_order(server, sku, 10, 60, supplier="RV-PRIO")
    return soon, late


async def test_tagging_an_order_priority_re_promises_the_lines_it_jumps_ahead_of(
    server: LiveServer,
) -> None:
    soon, late = await _priority_sku(server, "RV-PRIO-TAG")
    plain = await place(server, "RV-PRIO-TAG", 8)
    tagged = await place(server, "RV-PRIO-TAG", 8)
    await run_job(server, "PROMISE_NEW_LINES")
    before = await fresh_line(server, plain)
    assert before["deliveryEstimate"]["latest"] < late["expectedOn"]

    await mutate(server, TAG_ORDER, "tagOrder", input={"id": tagged["id"], "add": ["PRIORITY"]})

    jumped = await read(server, plain)
    assert line(jumped)["deliveryEstimate"]["latest"] > late["expectedOn"]
    assert len(events(jumped, "LINE_DELIVERY_DELAYED")) == 1
    ahead = await fresh_line(server, tagged)
    assert ahead["deliveryEstimate"]["latest"] < late["expectedOn"]
    assert soon["expectedOn"] < ahead["deliveryEstimate"]["latest"]


async def test_a_priority_order_placed_ahead_of_promised_lines_re_promises_them_with_the_first_promise_job(
    server: LiveServer,
) -> None:
    marketplace = await server.key_with("channel:marketplace")
    await product(server, "RV-PRIO-SEED", *backorderable("RV-PRIO-SEED"))
    await place(server, "RV-PRIO-SEED", 1, email="rv-vip@example.com")
    await mutate(
        server,
        'mutation { setCustomerPriority(input: {email: "rv-vip@example.com", priority: true}) '
        "{ email priority userErrors { field code message } } }",
        "setCustomerPriority",
    )
    _soon, late = await _priority_sku(server, "RV-PRIO-PLACE")
    plain = await place(server, "RV-PRIO-PLACE", 8)
    await run_job(server, "PROMISE_NEW_LINES")
    vip = await place(
        server,
        "RV-PRIO-PLACE",
        8,
        key=marketplace,
        channel="marketplace",
        email="rv-vip@example.com",
    )
    assert "PRIORITY" in vip["tags"]

    await run_job(server, "PROMISE_NEW_LINES")

    jumped = await read(server, plain)
    assert line(jumped)["deliveryEstimate"]["latest"] > late["expectedOn"]
    assert len(events(jumped, "LINE_DELIVERY_DELAYED")) == 1
    assert (await fresh_line(server, vip))["deliveryEstimate"]["latest"] < late["expectedOn"]
