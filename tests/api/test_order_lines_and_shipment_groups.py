"""How placement splits an order into lines and sub-lines by state (ready, pre-order, backorder)
and numbers its shipment groups."""

from __future__ import annotations

from datetime import timedelta

from tests.api.placement_helpers import (
    amounts,
    assert_ledgers_agree,
    committed,
    count,
    entries,
    place,
    placed,
    product,
)
from tests.support import LiveServer

# ---------------------------------------------------------------- mixed orders


async def test_a_mixed_order_gets_sub_lines_and_shipment_groups_numbered_ready_preorder_backorder(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-MIX-R",
        'setStock(input: {sku: "PM-MIX-R", location: "main", quantity: 5})',
        price=1000,
    )
    await product(
        server,
        "PM-MIX-P",
        'configurePreorder(input: {sku: "PM-MIX-P", enabled: true, releaseDate: "2035-07-01", '
        "paymentTerms: {kind: DEPOSIT, depositPercent: 10}})",
        price=3000,
    )
    await product(
        server,
        "PM-MIX-B",
        'configureBackorder(input: {sku: "PM-MIX-B", allowed: true, '
        "paymentTerms: {kind: AUTHORIZE}})",
        price=2000,
    )
    await product(
        server,
        "PM-MIX-S",
        'setStock(input: {sku: "PM-MIX-S", location: "store-1", quantity: 1})',
        'configureBackorder(input: {sku: "PM-MIX-S", allowed: true})',
        price=500,
    )
    # lines deliberately not in state order: groups follow states, not line numbers
    order = await placed(
        server,
        [
            {"sku": "PM-MIX-B", "quantity": 1},
            {"sku": "PM-MIX-P", "quantity": 2},
            {"sku": "PM-MIX-S", "quantity": 3},
            {"sku": "PM-MIX-R", "quantity": 2},
        ],
        email="mixed@example.com",
    )
    lines = [
        (
            ln["lineNumber"],
            ln["subNumber"],
            ln["sku"],
            ln["quantity"],
            ln["state"],
            ln["status"],
            ln["reservedPool"],
            ln["paymentTerms"],
            ln["shipmentGroup"],
        )
        for ln in order["lines"]
    ]
    assert lines == [
        (1, 1, "PM-MIX-B", 1, "BACKORDER", "WAITING", "BACKORDER", "AUTHORIZE", 3),
        (2, 1, "PM-MIX-P", 2, "PRE_ORDER", "WAITING", "PRE_ORDER", "DEPOSIT", 2),
        (3, 1, "PM-MIX-S", 1, "READY", "RESERVED", "READY", "FULL", 1),
        (3, 2, "PM-MIX-S", 2, "BACKORDER", "WAITING", "BACKORDER", "FULL", 3),
        (4, 1, "PM-MIX-R", 2, "READY", "RESERVED", "READY", "FULL", 1),
    ]
    assert [ln["unitPrice"] for ln in order["lines"]] == [
        {"amountMinor": p, "currency": "EUR"} for p in (2000, 3000, 500, 500, 1000)
    ]
    assert all(ln["reservedChannel"] is None for ln in order["lines"])
    ready = [ln for ln in order["lines"] if ln["state"] == "READY"]
    assert all(ln["queuePosition"] is None and ln["unitsAhead"] is None for ln in ready)
    waiting = [ln for ln in order["lines"] if ln["status"] == "WAITING"]
    assert all(ln["queuePosition"] == 1 and ln["unitsAhead"] == 0 for ln in waiting)

    groups = [
        (g["number"], g["states"], g["shipsWhen"], [(x["sku"], x["quantity"]) for x in g["lines"]])
        for g in order["shipmentGroups"]
    ]
    assert groups == [
        (1, ["READY"], "NOW", [("PM-MIX-S", 1), ("PM-MIX-R", 2)]),
        (2, ["PRE_ORDER"], "AT_RELEASE", [("PM-MIX-P", 2)]),
        (3, ["BACKORDER"], "WHEN_BACK_IN_STOCK", [("PM-MIX-B", 1), ("PM-MIX-S", 2)]),
    ]
    assert order["total"] == {"amountMinor": 2000 + 6000 + 500 + 1000 + 2000, "currency": "EUR"}
    assert order["tags"] == ["BACKORDER", "PREORDER"]
    assert order["status"] == "PLACED"
    assert order["customer"] == {"email": "mixed@example.com", "name": "Ada"}

    ids = [ln["id"] for ln in order["lines"]]
    assert sorted(entries(order), key=lambda e: ids.index(e[2])) == [
        ("AUTHORIZE", 2000, ids[0]),
        ("CAPTURE", 600, ids[1]),
        ("CAPTURE", 500, ids[2]),
        ("CAPTURE", 1000, ids[3]),
        ("CAPTURE", 2000, ids[4]),
    ]
    assert {p["gateway"] for p in order["payments"]} == {"ledger"}
    assert {p["amount"]["currency"] for p in order["payments"]} == {"EUR"}
    assert amounts(order["paymentSummary"]) == {
        "captured": 4100,
        "authorized": 2000,
        "refunded": 0,
        "voided": 0,
        "dueAtDispatch": 11500 - 4100,
    }
    per_line = [amounts(ln["paymentSummary"]) for ln in order["lines"]]
    assert [(s["captured"], s["authorized"], s["dueAtDispatch"]) for s in per_line] == [
        (0, 2000, 2000),
        (600, 0, 5400),
        (500, 0, 0),
        (1000, 0, 0),
        (2000, 0, 0),
    ]
    assert (await committed(server, "PM-MIX-R"))["READY"] == 2
    assert (await committed(server, "PM-MIX-P"))["PRE_ORDER"] == 2
    assert (await committed(server, "PM-MIX-B"))["BACKORDER"] == 1
    split = await committed(server, "PM-MIX-S")
    assert (split["READY"], split["BACKORDER"]) == (1, 2)
    assert [e["kind"] for e in order["events"]] == [
        "ORDER_PLACED",
        "LINE_QUEUED",
        "LINE_QUEUED",
        "LINE_RESERVED",
        "LINE_QUEUED",
        "LINE_RESERVED",
    ]


async def test_shipment_groups_are_numbered_from_one_when_an_order_has_no_ready_lines(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-NOREADY-P",
        'configurePreorder(input: {sku: "PM-NOREADY-P", enabled: true, releaseDate: "2035-03-01"})',
    )
    await product(
        server,
        "PM-NOREADY-B",
        'configureBackorder(input: {sku: "PM-NOREADY-B", allowed: true})',
    )
    order = await placed(
        server,
        [{"sku": "PM-NOREADY-B", "quantity": 1}, {"sku": "PM-NOREADY-P", "quantity": 1}],
    )
    assert [(ln["sku"], ln["shipmentGroup"]) for ln in order["lines"]] == [
        ("PM-NOREADY-B", 2),
        ("PM-NOREADY-P", 1),
    ]
    assert [(g["number"], g["states"]) for g in order["shipmentGroups"]] == [
        (1, ["PRE_ORDER"]),
        (2, ["BACKORDER"]),
    ]
    assert order["tags"] == ["BACKORDER", "PREORDER"]


async def test_ship_together_keeps_ready_preorder_and_backorder_lines_in_one_group(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-TOG-R", 'setStock(input: {sku: "PM-TOG-R", location: "main", quantity: 3})'
    )
    await product(
        server,
        "PM-TOG-P",
        'configurePreorder(input: {sku: "PM-TOG-P", enabled: true, releaseDate: "2035-03-01"})',
    )
    await product(server, "PM-TOG-B", 'configureBackorder(input: {sku: "PM-TOG-B", allowed: true})')
    order = await placed(
        server,
        [
            {"sku": "PM-TOG-B", "quantity": 1},
            {"sku": "PM-TOG-P", "quantity": 1},
            {"sku": "PM-TOG-R", "quantity": 1},
        ],
        shipTogether=True,
    )
    assert {ln["shipmentGroup"] for ln in order["lines"]} == {1}
    (group,) = order["shipmentGroups"]
    assert group["number"] == 1
    assert group["states"] == ["READY", "PRE_ORDER", "BACKORDER"]
    assert group["shipsWhen"] == "TOGETHER_WHEN_COMPLETE"
    assert len(group["lines"]) == 3


# ---------------------------------------------------------------- one SKU, several lines


async def test_two_lines_of_one_sku_consume_stock_cumulatively(server: LiveServer) -> None:
    await product(
        server,
        "PM-TWICE",
        'setStock(input: {sku: "PM-TWICE", location: "main", quantity: 3})',
        'configureBackorder(input: {sku: "PM-TWICE", allowed: true})',
    )
    order = await placed(
        server, [{"sku": "PM-TWICE", "quantity": 2}, {"sku": "PM-TWICE", "quantity": 2}]
    )
    parts = [
        (ln["lineNumber"], ln["subNumber"], ln["state"], ln["quantity"]) for ln in order["lines"]
    ]
    assert parts == [(1, 1, "READY", 2), (2, 1, "READY", 1), (2, 2, "BACKORDER", 1)]
    c = await committed(server, "PM-TWICE")
    assert (c["READY"], c["BACKORDER"]) == (3, 1)


async def test_two_lines_of_one_preorder_sku_together_over_the_cap_are_refused(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-TWICE-PRE",
        'configurePreorder(input: {sku: "PM-TWICE-PRE", enabled: true, releaseDate: "2035-01-01", '
        "cap: 3})",
    )
    orders_before = await count(server, "SELECT count(*) FROM orders")
    payload = await place(
        server, [{"sku": "PM-TWICE-PRE", "quantity": 2}, {"sku": "PM-TWICE-PRE", "quantity": 2}]
    )
    assert payload["order"] is None
    (error,) = payload["userErrors"]
    assert error["code"] == "SOLD_OUT"
    assert error["field"] == ["input", "lines", "1", "quantity"]
    assert "Only 1 of 2" in error["message"]
    assert (await committed(server, "PM-TWICE-PRE"))["PRE_ORDER"] == 0
    assert await count(server, "SELECT count(*) FROM orders") == orders_before


# ---------------------------------------------------------------- caps, launch dates and safety stock


async def test_a_preorder_beyond_its_cap_overflows_to_backorder_on_backorder_terms(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-OVER",
        'configurePreorder(input: {sku: "PM-OVER", enabled: true, releaseDate: "2035-05-01", '
        "cap: 2, paymentTerms: {kind: DEPOSIT, depositPercent: 50}})",
        'configureBackorder(input: {sku: "PM-OVER", allowed: true, paymentTerms: {kind: AUTHORIZE}})',
        price=1000,
    )
    order = await placed(server, [{"sku": "PM-OVER", "quantity": 5}])
    parts = [
        (ln["subNumber"], ln["state"], ln["quantity"], ln["paymentTerms"], ln["shipmentGroup"])
        for ln in order["lines"]
    ]
    assert parts == [(1, "PRE_ORDER", 2, "DEPOSIT", 1), (2, "BACKORDER", 3, "AUTHORIZE", 2)]
    pre, back = order["lines"]
    assert entries(order) == [("CAPTURE", 1000, pre["id"]), ("AUTHORIZE", 3000, back["id"])]
    assert order["tags"] == ["BACKORDER", "PREORDER"]
    assert [g["shipsWhen"] for g in order["shipmentGroups"]] == ["AT_RELEASE", "WHEN_BACK_IN_STOCK"]
    refused = await place(server, [{"sku": "PM-OVER", "quantity": 1, "acceptBackorder": False}])
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("BACKORDER_NOT_ACCEPTED", ["input", "lines", "0", "quantity"])
    ]
    c = await committed(server, "PM-OVER")
    assert (c["PRE_ORDER"], c["BACKORDER"], c["READY"]) == (2, 3, 0)


async def test_stock_before_the_launch_date_is_sold_as_preorder_and_as_ready_from_that_day(
    server: LiveServer,
) -> None:
    launch = server.services.today() + timedelta(days=1)
    await product(
        server,
        "PM-LAUNCH",
        f'configurePreorder(input: {{sku: "PM-LAUNCH", enabled: true, releaseDate: "{launch}"}})',
        'setStock(input: {sku: "PM-LAUNCH", location: "main", quantity: 5})',
    )
    early = await placed(server, [{"sku": "PM-LAUNCH", "quantity": 1}])
    assert [(ln["state"], ln["reservedPool"]) for ln in early["lines"]] == [
        ("PRE_ORDER", "PRE_ORDER")
    ]
    server.clock.advance(days=1)
    # Launch day: nothing is sold as READY until the release job has served the pre-orders.
    released = await server.gql(
        "mutation { runScheduledJob(input: {job: RELEASE_PREORDERS}) { ran result } }",
        key=await server.key_with("ops"),
    )
    assert released.data["runScheduledJob"] == {"ran": True, "result": ["PM-LAUNCH"]}
    on_the_day = await placed(server, [{"sku": "PM-LAUNCH", "quantity": 2}])
    assert [(ln["state"], ln["reservedPool"]) for ln in on_the_day["lines"]] == [("READY", "READY")]
    assert on_the_day["tags"] == []
    c = await committed(server, "PM-LAUNCH")
    assert (c["PRE_ORDER"], c["READY"], c["RESERVED"]) == (1, 2, 1)


async def test_safety_stock_is_never_sold_as_ready(server: LiveServer) -> None:
    await product(
        server,
        "PM-SAFE",
        'setStock(input: {sku: "PM-SAFE", location: "main", quantity: 5})',
        create=", safetyStock: 2",
    )
    refused = await place(server, [{"sku": "PM-SAFE", "quantity": 4}])
    assert refused["userErrors"][0]["code"] == "SOLD_OUT"
    assert "Only 3 of 4" in refused["userErrors"][0]["message"]
    order = await placed(server, [{"sku": "PM-SAFE", "quantity": 3}])
    assert [(ln["state"], ln["quantity"]) for ln in order["lines"]] == [("READY", 3)]
    assert (await committed(server, "PM-SAFE"))["READY"] == 3


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
