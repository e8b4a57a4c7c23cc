"""Cancelling an order or one line reverses that line's payments, returns its units to their pool
and refuses foreign or repeated cancels, leaving the ledgers in agreement."""

from __future__ import annotations

from tests.api.placement_helpers import (
    amounts,
    assert_ledgers_agree,
    available_quantity,
    cancel_line,
    cancel_order,
    committed,
    entries,
    place,
    placed,
    pools,
    product,
)
from tests.support import LiveServer

# ---------------------------------------------------------------- payments reversed


async def test_cancelling_an_order_refunds_captures_and_voids_authorizations_line_by_line(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-REF-R",
        'setStock(input: {sku: "PM-REF-R", location: "main", quantity: 5})',
        price=1000,
    )
    await product(
        server,
        "PM-REF-P",
        'configurePreorder(input: {sku: "PM-REF-P", enabled: true, releaseDate: "2035-05-01", '
        "paymentTerms: {kind: DEPOSIT, depositAmount: {amountMinor: 250, currency: EUR}}})",
        price=2000,
    )
    await product(
        server,
        "PM-REF-B",
        'configureBackorder(input: {sku: "PM-REF-B", allowed: true, paymentTerms: {kind: AUTHORIZE}})',
        price=700,
    )
    order = await placed(
        server,
        [
            {"sku": "PM-REF-R", "quantity": 1},
            {"sku": "PM-REF-P", "quantity": 2},
            {"sku": "PM-REF-B", "quantity": 3},
        ],
    )
    r, p, b = (ln["id"] for ln in order["lines"])
    assert entries(order) == [("CAPTURE", 1000, r), ("CAPTURE", 500, p), ("AUTHORIZE", 2100, b)]

    payload = await cancel_order(server, order["id"], "customer changed mind")
    assert payload["userErrors"] == []
    after = payload["order"]
    assert after["status"] == "CANCELLED"
    assert [ln["status"] for ln in after["lines"]] == ["CANCELLED"] * 3
    assert entries(after)[3:] == [("REFUND", 1000, r), ("REFUND", 500, p), ("VOID", 2100, b)]
    # each reversal names the entry it reverses, and the reason
    assert [e["note"] for e in after["payments"][3:]] == [
        f"refund of {order['payments'][0]['reference']}: customer changed mind",
        f"refund of {order['payments'][1]['reference']}: customer changed mind",
        f"void of {order['payments'][2]['reference']}: customer changed mind",
    ]
    summary = amounts(after["paymentSummary"])
    assert (summary["captured"], summary["refunded"]) == (1500, 1500)
    assert (summary["authorized"], summary["voided"]) == (0, 2100)
    per_line = {ln["id"]: amounts(ln["paymentSummary"]) for ln in after["lines"]}
    assert (per_line[r]["refunded"], per_line[p]["refunded"], per_line[b]["voided"]) == (
        1000,
        500,
        2100,
    )
    assert per_line[b]["authorized"] == 0
    assert after["shipmentGroups"] == []
    assert (await committed(server, "PM-REF-R"))["READY"] == 0
    assert (await committed(server, "PM-REF-P"))["PRE_ORDER"] == 0
    assert (await committed(server, "PM-REF-B"))["BACKORDER"] == 0
    rows = await server.sql(
        "SELECT kind, sum(amount_minor) AS total FROM payment_entries pe "
        "JOIN orders o ON o.id = pe.order_id WHERE o.number = $1 GROUP BY kind ORDER BY kind",
        order["number"],
    )
    assert {row["kind"]: row["total"] for row in rows} == {
        "AUTHORIZE": 2100,
        "CAPTURE": 1500,
        "REFUND": 1500,
        "VOID": 2100,
    }


async def test_nothing_is_due_at_dispatch_for_cancelled_orders_and_lines(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-DUE-R", 'setStock(input: {sku: "PM-DUE-R", location: "main", quantity: 5})'
    )
    await product(
        server,
        "PM-DUE-P",
        'configurePreorder(input: {sku: "PM-DUE-P", enabled: true, releaseDate: "2035-05-01", '
        "paymentTerms: {kind: AUTHORIZE}})",
        price=2000,
    )
    order = await placed(
        server, [{"sku": "PM-DUE-R", "quantity": 1}, {"sku": "PM-DUE-P", "quantity": 1}]
    )
    assert amounts(order["paymentSummary"])["dueAtDispatch"] == 2000
    _ready, pre = order["lines"]
    partly = (await cancel_line(server, order["id"], pre["id"]))["order"]
    cancelled_line = next(ln for ln in partly["lines"] if ln["id"] == pre["id"])
    assert amounts(cancelled_line["paymentSummary"])["dueAtDispatch"] == 0
    assert amounts(partly["paymentSummary"])["dueAtDispatch"] == 0
    whole = (await cancel_order(server, order["id"]))["order"]
    assert amounts(whole["paymentSummary"])["dueAtDispatch"] == 0


async def test_cancelling_one_line_reverses_only_that_line_s_payments(server: LiveServer) -> None:
    await product(
        server, "PM-ONE-R", 'setStock(input: {sku: "PM-ONE-R", location: "main", quantity: 5})'
    )
    await product(
        server,
        "PM-ONE-P",
        'configurePreorder(input: {sku: "PM-ONE-P", enabled: true, releaseDate: "2035-05-01", '
        "paymentTerms: {kind: AUTHORIZE}})",
        price=2000,
    )
    order = await placed(
        server, [{"sku": "PM-ONE-R", "quantity": 2}, {"sku": "PM-ONE-P", "quantity": 1}]
    )
    ready, pre = order["lines"]
    payload = await cancel_line(server, order["id"], pre["id"], "too late")
    assert payload["userErrors"] == []
    after = payload["order"]
    assert after["status"] == "PLACED"
    assert [(ln["id"], ln["status"]) for ln in after["lines"]] == [
        (ready["id"], "RESERVED"),
        (pre["id"], "CANCELLED"),
    ]
    assert entries(after) == [
        ("CAPTURE", 2000, ready["id"]),
        ("AUTHORIZE", 2000, pre["id"]),
        ("VOID", 2000, pre["id"]),
    ]
    assert [(g["number"], g["states"]) for g in after["shipmentGroups"]] == [(1, ["READY"])]
    assert (await committed(server, "PM-ONE-R"))["READY"] == 2
    assert (await committed(server, "PM-ONE-P"))["PRE_ORDER"] == 0
    assert [e["kind"] for e in after["events"]][-2:] == ["LINE_CANCELLED", "PAYMENT_REFUNDED"]


# ---------------------------------------------------------------- units returned


async def test_cancelling_a_preorder_line_gives_its_place_under_the_cap_to_a_later_order(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-CAP",
        'configurePreorder(input: {sku: "PM-CAP", enabled: true, releaseDate: "2035-05-01", cap: 2})',
    )
    first = await placed(server, [{"sku": "PM-CAP", "quantity": 2}])
    refused = await place(server, [{"sku": "PM-CAP", "quantity": 1}])
    assert refused["userErrors"][0]["code"] == "SOLD_OUT"
    payload = await cancel_line(server, first["id"], first["lines"][0]["id"])
    assert payload["userErrors"] == []
    p = await pools(server, "PM-CAP")
    assert (p["PRE_ORDER"]["committed"], p["PRE_ORDER"]["available"]) == (0, 2)
    later = await placed(server, [{"sku": "PM-CAP", "quantity": 2}])
    assert [(ln["state"], ln["quantity"], ln["queuePosition"]) for ln in later["lines"]] == [
        ("PRE_ORDER", 2, 1)
    ]
    assert (await committed(server, "PM-CAP"))["PRE_ORDER"] == 2


async def test_cancelling_a_ready_line_returns_its_units_to_available_to_promise(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-ATP", 'setStock(input: {sku: "PM-ATP", location: "main", quantity: 5})'
    )
    assert await available_quantity(server, "PM-ATP") == 5
    order = await placed(server, [{"sku": "PM-ATP", "quantity": 3}])
    assert await available_quantity(server, "PM-ATP") == 2
    payload = await cancel_line(server, order["id"], order["lines"][0]["id"])
    assert payload["userErrors"] == []
    assert await available_quantity(server, "PM-ATP") == 5
    assert (await committed(server, "PM-ATP"))["READY"] == 0
    assert (await placed(server, [{"sku": "PM-ATP", "quantity": 5}]))["lines"][0]["state"] == (
        "READY"
    )


async def test_cancelling_a_line_of_another_order_or_twice_is_refused(server: LiveServer) -> None:
    await product(
        server, "PM-CXL", 'setStock(input: {sku: "PM-CXL", location: "main", quantity: 5})'
    )
    one = await placed(server, [{"sku": "PM-CXL", "quantity": 1}])
    two = await placed(server, [{"sku": "PM-CXL", "quantity": 1}])
    foreign = await cancel_line(server, one["id"], two["lines"][0]["id"])
    assert foreign["order"] is None
    assert (foreign["userErrors"][0]["code"], foreign["userErrors"][0]["field"]) == (
        "NOT_FOUND",
        ["input", "lineId"],
    )
    assert (await committed(server, "PM-CXL"))["READY"] == 2
    assert (await cancel_line(server, one["id"], one["lines"][0]["id"]))["userErrors"] == []
    twice = await cancel_line(server, one["id"], one["lines"][0]["id"])
    assert (twice["userErrors"][0]["code"], twice["userErrors"][0]["field"]) == (
        "NOT_CANCELLABLE",
        ["input", "lineId"],
    )
    assert (await committed(server, "PM-CXL"))["READY"] == 1
    # a channel key may not cancel another channel's order
    marketplace = await server.key_with("channel:marketplace")
    hidden = await cancel_order(server, two["id"], api_key=marketplace)
    assert hidden["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await committed(server, "PM-CXL"))["READY"] == 1


# ---------------------------------------------------------------- ledgers


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    await assert_ledgers_agree(server)
