"""Channel holds: a channel's orders draw its hold first and then shared stock, other channels never
take held units, and cancelling returns units to the hold."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.placement_helpers import (
    assert_ledgers_agree,
    available_quantity,
    cancel_line,
    committed,
    place,
    placed,
    pools,
    product,
)
from tests.support import LiveServer


async def test_a_marketplace_order_draws_its_channel_hold_first_then_shared_ready_stock(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-HOLD",
        'setStock(input: {sku: "PM-HOLD", location: "main", quantity: 5})',
        'allocateChannelPool(input: {sku: "PM-HOLD", channel: "marketplace", quantity: 2})',
    )
    before = await pools(server, "PM-HOLD")
    assert (before["marketplace"]["capacity"], before["READY"]["capacity"]) == (2, 3)
    marketplace = await server.key_with("channel:marketplace")
    order = await placed(
        server, [{"sku": "PM-HOLD", "quantity": 3}], channel="marketplace", api_key=marketplace
    )
    parts = [
        (
            ln["subNumber"],
            ln["state"],
            ln["status"],
            ln["reservedPool"],
            ln["reservedChannel"],
            ln["quantity"],
            ln["shipmentGroup"],
        )
        for ln in order["lines"]
    ]
    assert parts == [
        (1, "READY", "RESERVED", "CHANNEL", "marketplace", 2, 1),
        (2, "READY", "RESERVED", "READY", None, 1, 1),
    ]
    assert order["channel"] == "marketplace"
    assert order["tags"] == []
    assert [(g["number"], g["states"]) for g in order["shipmentGroups"]] == [(1, ["READY"])]
    p = await pools(server, "PM-HOLD")
    assert (p["marketplace"]["committed"], p["marketplace"]["available"]) == (2, 0)
    assert (p["READY"]["committed"], p["READY"]["available"]) == (1, 2)

    # the webstore sees only the shared part: 2 left, never the held units
    assert await available_quantity(server, "PM-HOLD") == 2
    too_many = await place(server, [{"sku": "PM-HOLD", "quantity": 3}])
    assert too_many["order"] is None
    assert too_many["userErrors"][0]["code"] == "SOLD_OUT"
    assert too_many["userErrors"][0]["field"] == ["input", "lines", "0", "quantity"]
    assert "Only 2 of 3" in too_many["userErrors"][0]["message"]
    webstore = await placed(server, [{"sku": "PM-HOLD", "quantity": 2}])
    assert [(ln["reservedPool"], ln["quantity"]) for ln in webstore["lines"]] == [("READY", 2)]
    last = await place(server, [{"sku": "PM-HOLD", "quantity": 1}])
    assert last["userErrors"][0]["code"] == "SOLD_OUT"
    assert await committed(server, "PM-HOLD") == {
        "READY": 3,
        "PRE_ORDER": 0,
        "BACKORDER": 0,
        "RESERVED": 0,
        "marketplace": 2,
    }


async def test_a_webstore_order_backorders_rather_than_take_units_held_for_the_marketplace(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-HOLD2",
        'setStock(input: {sku: "PM-HOLD2", location: "main", quantity: 4})',
        'allocateChannelPool(input: {sku: "PM-HOLD2", channel: "marketplace", quantity: 3})',
        'configureBackorder(input: {sku: "PM-HOLD2", allowed: true})',
    )
    order = await placed(server, [{"sku": "PM-HOLD2", "quantity": 2}])
    assert [(ln["state"], ln["reservedPool"], ln["quantity"]) for ln in order["lines"]] == [
        ("READY", "READY", 1),
        ("BACKORDER", "BACKORDER", 1),
    ]
    c = await committed(server, "PM-HOLD2")
    assert (c["READY"], c["BACKORDER"], c["marketplace"]) == (1, 1, 0)
    # the marketplace still has all of its hold
    intake = await placed(server, [{"sku": "PM-HOLD2", "quantity": 3}], channel="marketplace")
    assert [
        (ln["reservedPool"], ln["reservedChannel"], ln["quantity"]) for ln in intake["lines"]
    ] == [("CHANNEL", "marketplace", 3)]
    assert (await committed(server, "PM-HOLD2"))["marketplace"] == 3


async def test_cancelling_a_channel_pool_line_returns_the_units_to_the_channel_hold(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-HOLD3",
        'setStock(input: {sku: "PM-HOLD3", location: "main", quantity: 3})',
        'allocateChannelPool(input: {sku: "PM-HOLD3", channel: "marketplace", quantity: 2})',
    )
    marketplace = await server.key_with("channel:marketplace")
    order = await placed(
        server, [{"sku": "PM-HOLD3", "quantity": 2}], channel="marketplace", api_key=marketplace
    )
    (line,) = order["lines"]
    assert (line["reservedPool"], line["reservedChannel"]) == ("CHANNEL", "marketplace")
    assert (await pools(server, "PM-HOLD3"))["marketplace"]["available"] == 0

    payload = await cancel_line(server, order["id"], line["id"], "oversold", api_key=marketplace)
    assert payload["userErrors"] == []
    assert payload["order"]["status"] == "CANCELLED"
    p = await pools(server, "PM-HOLD3")
    assert (p["marketplace"]["committed"], p["marketplace"]["available"]) == (0, 2)
    assert p["READY"]["committed"] == 0
    # the webstore still cannot sell the held units; the marketplace can again
    assert await available_quantity(server, "PM-HOLD3") == 1
    again = await placed(
        server, [{"sku": "PM-HOLD3", "quantity": 2}], channel="marketplace", api_key=marketplace
    )
    assert [ln["reservedPool"] for ln in again["lines"]] == ["CHANNEL"]


async def test_two_lines_of_a_held_sku_draw_the_hold_cumulatively_then_shared_stock(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-HOLD4",
        'setStock(input: {sku: "PM-HOLD4", location: "main", quantity: 4})',
        'allocateChannelPool(input: {sku: "PM-HOLD4", channel: "marketplace", quantity: 2})',
    )
    order = await placed(
        server,
        [{"sku": "PM-HOLD4", "quantity": 1}, {"sku": "PM-HOLD4", "quantity": 2}],
        channel="marketplace",
    )
    parts = [
        (ln["lineNumber"], ln["subNumber"], ln["reservedPool"], ln["quantity"])
        for ln in order["lines"]
    ]
    assert parts == [(1, 1, "CHANNEL", 1), (2, 1, "CHANNEL", 1), (2, 2, "READY", 1)]
    c = await committed(server, "PM-HOLD4")
    assert (c["marketplace"], c["READY"]) == (2, 1)


async def test_concurrent_orders_never_take_more_than_the_hold_or_the_shared_stock(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-RACE-HOLD",
        'setStock(input: {sku: "PM-RACE-HOLD", location: "main", quantity: 10})',
        'allocateChannelPool(input: {sku: "PM-RACE-HOLD", channel: "marketplace", quantity: 4})',
    )
    marketplace = await server.key_with("channel:marketplace")

    async def attempt(i: int) -> Any:
        on_marketplace = i % 2 == 1
        return await place(
            server,
            [{"sku": "PM-RACE-HOLD", "quantity": 1}],
            idem=f"pm-race-hold-{i}",
            channel="marketplace" if on_marketplace else "webstore",
            api_key=marketplace if on_marketplace else None,
        )

    results = await asyncio.gather(*(attempt(i) for i in range(40)))
    accepted = [r["order"] for r in results if r["order"] is not None]
    refused = [r for r in results if r["order"] is None]
    assert {r["userErrors"][0]["code"] for r in refused} <= {"SOLD_OUT"}
    drawn: dict[str, int] = {}
    for order in accepted:
        for ln in order["lines"]:
            assert ln["state"] == "READY"
            if order["channel"] == "webstore":
                assert ln["reservedPool"] == "READY"
            name = ln["reservedChannel"] or ln["reservedPool"]
            drawn[name] = drawn.get(name, 0) + ln["quantity"]
    c = await committed(server, "PM-RACE-HOLD")
    assert c["marketplace"] == drawn.get("marketplace", 0) <= 4
    assert c["READY"] == drawn.get("READY", 0) <= 6
    # whatever a lost race left unsold is still there to be sold, and no more
    for channel, api_key in (("marketplace", marketplace), ("webstore", None)):
        for _ in range(11):
            more = await place(
                server, [{"sku": "PM-RACE-HOLD", "quantity": 1}], channel=channel, api_key=api_key
            )
            if more["order"] is None:
                assert more["userErrors"][0]["code"] == "SOLD_OUT"
                break
        else:
            pytest.fail(f"{channel} kept selling past the stock")
    c = await committed(server, "PM-RACE-HOLD")
    assert (c["marketplace"], c["READY"]) == (4, 6)


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
