"""placeOrder, further: mixed orders, channel holds, tags, payment terms, cancellation effects,
bad input, idempotency scopes and expiry, reads (by number, token, pages, filters), events."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.services.auth import create_api_key
from tests.support import LiveServer

SUMMARY = (
    "captured { amountMinor } authorized { amountMinor } refunded { amountMinor } "
    "voided { amountMinor } dueAtDispatch { amountMinor }"
)

ORDER_FIELDS = f"""
  id number status tags channel placedAt
  customer {{ email name }}
  total {{ amountMinor currency }}
  lines {{ id lineNumber subNumber sku quantity state status queuePosition unitsAhead
          reservedPool reservedChannel paymentTerms shipmentGroup
          unitPrice {{ amountMinor currency }}
          paymentSummary {{ {SUMMARY} }} }}
  shipmentGroups {{ number states shipsWhen lines {{ id sku quantity }} }}
  payments {{ kind amount {{ amountMinor currency }} gateway reference lineId expiresAt note }}
  paymentSummary {{ {SUMMARY} }}
  events {{ action actor lineId before after }}
"""

PLACE = f"""
mutation Place($input: PlaceOrderInput!) {{
  placeOrder(input: $input) {{
    replayed
    orderToken
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

CANCEL_ORDER = f"""
mutation($id: ID!, $reason: String) {{
  cancelOrder(input: {{id: $id, reason: $reason}}) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

CANCEL_LINE = f"""
mutation($o: ID!, $l: ID!, $reason: String) {{
  cancelOrderLine(input: {{orderId: $o, lineId: $l, reason: $reason}}) {{
    order {{ {ORDER_FIELDS} }}
    userErrors {{ field code message }}
  }}
}}
"""

ORDER_BY_ID = "query($id: ID!, $t: String) { order(id: $id, token: $t) { id number } }"
ORDER_BY_NUMBER = (
    "query($n: String!, $t: String) { orderByNumber(number: $n, token: $t) { id number channel } }"
)

ORDERS = """
query($first: Int, $after: String, $filter: OrderFilterInput) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id number status channel placedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

POOLS = """query($sku: String!) {
  product(sku: $sku) { pools { kind channel capacity committed available } }
}"""

AVAILABILITY = """query($sku: String!, $q: Int!, $channel: String) {
  productAvailability(sku: $sku, quantity: $q, channel: $channel) {
    state availableQuantity fulfillable
  }
}"""


def order_input(lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "idempotencyKey": extra.pop("key", str(uuid.uuid4())),
        "channel": extra.pop("channel", "webstore"),
        "customer": {
            "email": extra.pop("email", "ada@example.com"),
            "name": extra.pop("name", "Ada"),
        },
        "shippingAddress": {"region": "EU", "postalCode": "1011"},
        "lines": lines,
        **extra,
    }


async def place(
    server: LiveServer,
    lines: list[dict[str, Any]],
    idem: str | None = None,
    *,
    api_key: str | None = None,
    **extra: Any,
) -> Any:
    """The placeOrder payload; ``idem`` is the idempotency key, ``api_key`` the caller."""
    if idem is not None:
        extra["key"] = idem
    result = await server.gql(PLACE, {"input": order_input(lines, **extra)}, key=api_key)
    return result.data["placeOrder"]


async def placed(server: LiveServer, lines: list[dict[str, Any]], **extra: Any) -> Any:
    """The order of a placement that must succeed."""
    payload = await place(server, lines, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["order"]


async def product(
    server: LiveServer, sku: str, *mutations: str, price: int = 1000, create: str = ""
) -> None:
    body = " ".join(
        [
            f'a: createProduct(input: {{sku: "{sku}", name: "{sku}", priceMinor: {price} {create}}}) '
            "{ userErrors { code message } }"
        ]
        + [f"m{i}: {m} {{ userErrors {{ code message }} }}" for i, m in enumerate(mutations)]
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def run(server: LiveServer, mutation: str) -> None:
    """One inventory mutation (setStock, allocateChannelPool, ...) that must succeed."""
    result = await server.gql(f"mutation {{ m: {mutation} {{ userErrors {{ code message }} }} }}")
    assert result.data["m"]["userErrors"] == [], result.data


async def pools(server: LiveServer, sku: str) -> dict[str, dict[str, Any]]:
    result = await server.gql(POOLS, {"sku": sku})
    return {(p["channel"] or p["kind"]): p for p in result.data["product"]["pools"]}


async def committed(server: LiveServer, sku: str) -> dict[str, int]:
    return {name: p["committed"] for name, p in (await pools(server, sku)).items()}


async def available_quantity(server: LiveServer, sku: str, channel: str = "webstore") -> Any:
    result = await server.gql(AVAILABILITY, {"sku": sku, "q": 1, "channel": channel})
    return result.data["productAvailability"]["availableQuantity"]


async def cancel_order(
    server: LiveServer, order_id: str, reason: str | None = None, api_key: str | None = None
) -> Any:
    result = await server.gql(CANCEL_ORDER, {"id": order_id, "reason": reason}, key=api_key)
    return result.data["cancelOrder"]


async def cancel_line(
    server: LiveServer,
    order_id: str,
    line_id: str,
    reason: str | None = None,
    api_key: str | None = None,
) -> Any:
    result = await server.gql(
        CANCEL_LINE, {"o": order_id, "l": line_id, "reason": reason}, key=api_key
    )
    return result.data["cancelOrderLine"]


async def list_orders(server: LiveServer, api_key: str | None = None, **variables: Any) -> Any:
    result = await server.gql(ORDERS, variables, key=api_key)
    return result.data["orders"]


def numbers(connection: Any) -> list[str]:
    return [edge["node"]["number"] for edge in connection["edges"]]


def amounts(summary: dict[str, Any]) -> dict[str, int]:
    return {name: money["amountMinor"] for name, money in summary.items()}


def entries(order: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    return [(p["kind"], p["amount"]["amountMinor"], p["lineId"]) for p in order["payments"]]


async def count(server: LiveServer, statement: str, *args: Any) -> int:
    rows = await server.sql(statement, *args)
    return int(rows[0][0])


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
        'configurePreorder(input: {sku: "PM-MIX-P", enabled: true, releaseDate: "2099-07-01", '
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
        (1, ["READY"], "now", [("PM-MIX-S", 1), ("PM-MIX-R", 2)]),
        (2, ["PRE_ORDER"], "at release", [("PM-MIX-P", 2)]),
        (3, ["BACKORDER"], "when back in stock", [("PM-MIX-B", 1), ("PM-MIX-S", 2)]),
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
    assert [e["action"] for e in order["events"]] == [
        "order.placed",
        "line.queued",
        "line.queued",
        "line.reserved",
        "line.queued",
        "line.reserved",
    ]


async def test_shipment_groups_are_numbered_from_one_when_an_order_has_no_ready_lines(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-NOREADY-P",
        'configurePreorder(input: {sku: "PM-NOREADY-P", enabled: true, releaseDate: "2099-03-01"})',
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
        'configurePreorder(input: {sku: "PM-TOG-P", enabled: true, releaseDate: "2099-03-01"})',
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
    assert group["shipsWhen"] == "together, when complete"
    assert len(group["lines"]) == 3


# ---------------------------------------------------------------- channel holds


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
        'configurePreorder(input: {sku: "PM-TWICE-PRE", enabled: true, releaseDate: "2099-01-01", '
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


# ---------------------------------------------------------------- automatic tags


async def test_a_limited_run_product_tags_the_order_limited_run(server: LiveServer) -> None:
    await product(
        server,
        "PM-LTD",
        'setStock(input: {sku: "PM-LTD", location: "main", quantity: 5})',
        create=', tags: ["LIMITED_RUN"]',
    )
    await product(
        server, "PM-PLAIN", 'setStock(input: {sku: "PM-PLAIN", location: "main", quantity: 5})'
    )
    alone = await placed(server, [{"sku": "PM-LTD", "quantity": 1}])
    assert alone["tags"] == ["LIMITED_RUN"]
    plain = await placed(server, [{"sku": "PM-PLAIN", "quantity": 1}])
    assert plain["tags"] == []
    both = await placed(
        server, [{"sku": "PM-PLAIN", "quantity": 1}, {"sku": "PM-LTD", "quantity": 1}]
    )
    assert both["tags"] == ["LIMITED_RUN"]
    assert both["events"][0]["after"]["tags"] == ["LIMITED_RUN"]


async def test_an_order_on_a_priority_channel_is_tagged_priority(server: LiveServer) -> None:
    await product(
        server, "PM-B2B", 'setStock(input: {sku: "PM-B2B", location: "main", quantity: 9})'
    )
    wholesale = await placed(
        server, [{"sku": "PM-B2B", "quantity": 2}], channel="b2b", email="buyer@shop.example"
    )
    assert wholesale["channel"] == "b2b"
    assert wholesale["tags"] == ["PRIORITY"]
    retail = await placed(
        server, [{"sku": "PM-B2B", "quantity": 1}], channel="pos", email="buyer@shop.example"
    )
    assert retail["tags"] == []
    listed = await list_orders(server, first=50, filter={"tag": "PRIORITY", "sku": "PM-B2B"})
    assert numbers(listed) == [wholesale["number"]]


async def test_a_priority_customer_s_next_order_is_tagged_priority(server: LiveServer) -> None:
    await product(
        server, "PM-VIP", 'setStock(input: {sku: "PM-VIP", location: "main", quantity: 9})'
    )
    first = await placed(server, [{"sku": "PM-VIP", "quantity": 1}], email="grace@example.com")
    assert "PRIORITY" not in first["tags"]
    await server.sql("UPDATE customers SET priority = true WHERE email = 'grace@example.com'")
    # the e-mail is matched case-insensitively (it is normalised to lower case)
    second = await placed(
        server, [{"sku": "PM-VIP", "quantity": 1}], email="  Grace@Example.COM ", name="Grace"
    )
    assert second["tags"] == ["PRIORITY"]
    assert second["customer"] == {"email": "grace@example.com", "name": "Grace"}
    other = await placed(server, [{"sku": "PM-VIP", "quantity": 1}], email="alan@example.com")
    assert "PRIORITY" not in other["tags"]


# ---------------------------------------------------------------- payments


TERMS_CASES = [
    # (id, terms, price, quantity, expected entries, captured, authorized, due)
    ("full", "{kind: FULL}", 2500, 2, [("CAPTURE", 5000)], 5000, 0, 0),
    ("deposit-percent", "{kind: DEPOSIT, depositPercent: 12.5}", 1000, 3, [("CAPTURE", 375)], 375, 0, 2625),
    ("deposit-percent-half-up", "{kind: DEPOSIT, depositPercent: 50}", 1001, 1, [("CAPTURE", 501)], 501, 0, 500),
    ("deposit-per-unit", "{kind: DEPOSIT, depositAmountMinor: 400}", 1000, 3, [("CAPTURE", 1200)], 1200, 0, 1800),
    ("deposit-capped", "{kind: DEPOSIT, depositAmountMinor: 1500}", 1000, 2, [("CAPTURE", 2000)], 2000, 0, 0),
    ("authorize", "{kind: AUTHORIZE}", 1000, 3, [("AUTHORIZE", 3000)], 0, 3000, 3000),
]  # fmt: skip


@pytest.mark.parametrize("state", ["PRE_ORDER", "BACKORDER"])
@pytest.mark.parametrize(
    ("terms", "price", "quantity", "expected", "captured", "authorized", "due"),
    [case[1:] for case in TERMS_CASES],
    ids=[case[0] for case in TERMS_CASES],
)
async def test_a_waiting_line_pays_at_placement_by_its_product_s_terms(
    server: LiveServer,
    state: str,
    terms: str,
    price: int,
    quantity: int,
    expected: list[tuple[str, int]],
    captured: int,
    authorized: int,
    due: int,
) -> None:
    sku = f"PM-PAY-{state[:3]}-{uuid.uuid4().hex[:8]}"
    policy = (
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: "2099-05-01", '
        f"paymentTerms: {terms}}})"
        if state == "PRE_ORDER"
        else f'configureBackorder(input: {{sku: "{sku}", allowed: true, paymentTerms: {terms}}})'
    )
    await product(server, sku, policy, price=price)
    order = await placed(server, [{"sku": sku, "quantity": quantity}])
    (line,) = order["lines"]
    assert line["state"] == state
    assert line["paymentTerms"] == terms.split(",")[0].removeprefix("{kind: ").rstrip("}")
    assert [(p["kind"], p["amount"]["amountMinor"]) for p in order["payments"]] == expected
    assert order["payments"][0]["lineId"] == line["id"]
    line_summary = amounts(line["paymentSummary"])
    assert line_summary == {
        "captured": captured,
        "authorized": authorized,
        "refunded": 0,
        "voided": 0,
        "dueAtDispatch": due,
    }
    assert amounts(order["paymentSummary"]) == line_summary
    assert order["total"]["amountMinor"] == price * quantity
    entry = order["payments"][0]
    if entry["kind"] == "AUTHORIZE":
        valid = datetime.fromisoformat(entry["expiresAt"]) - datetime.fromisoformat(
            order["placedAt"]
        )
        assert valid == timedelta(days=server.services.settings.authorization_valid_days)
    else:
        assert entry["expiresAt"] is None
    if due and entry["kind"] == "CAPTURE":
        assert entry["note"] == f"balance {due} due at dispatch"


async def test_a_ready_line_captures_in_full_even_when_the_backorder_part_pays_a_deposit(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-PAY-SPLIT",
        'setStock(input: {sku: "PM-PAY-SPLIT", location: "main", quantity: 2})',
        'configureBackorder(input: {sku: "PM-PAY-SPLIT", allowed: true, '
        "paymentTerms: {kind: DEPOSIT, depositPercent: 20}})",
        price=1000,
    )
    order = await placed(server, [{"sku": "PM-PAY-SPLIT", "quantity": 5}])
    ready, back = order["lines"]
    assert (ready["state"], ready["paymentTerms"]) == ("READY", "FULL")
    assert (back["state"], back["paymentTerms"]) == ("BACKORDER", "DEPOSIT")
    assert entries(order) == [("CAPTURE", 2000, ready["id"]), ("CAPTURE", 600, back["id"])]
    assert amounts(ready["paymentSummary"])["dueAtDispatch"] == 0
    assert amounts(back["paymentSummary"])["dueAtDispatch"] == 2400
    assert amounts(order["paymentSummary"])["captured"] == 2600
    assert amounts(order["paymentSummary"])["dueAtDispatch"] == 2400


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
        'configurePreorder(input: {sku: "PM-REF-P", enabled: true, releaseDate: "2099-05-01", '
        "paymentTerms: {kind: DEPOSIT, depositAmountMinor: 250}})",
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
        'configurePreorder(input: {sku: "PM-DUE-P", enabled: true, releaseDate: "2099-05-01", '
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
        'configurePreorder(input: {sku: "PM-ONE-P", enabled: true, releaseDate: "2099-05-01", '
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
    assert [e["action"] for e in after["events"]][-1] == "line.cancelled"


# ---------------------------------------------------------------- cancellation returns units


async def test_cancelling_a_preorder_line_gives_its_place_under_the_cap_to_a_later_order(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-CAP",
        'configurePreorder(input: {sku: "PM-CAP", enabled: true, releaseDate: "2099-05-01", cap: 2})',
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


# ---------------------------------------------------------------- bad input


BAD_INPUT = [
    # (id, lines(eur, usd), extra, code, field)
    ("unknown-sku", lambda e, u: [{"sku": e, "quantity": 1}, {"sku": "PM-NO-SUCH", "quantity": 1}],
     {}, "UNKNOWN_SKU", ["input", "lines", "1", "sku"]),
    ("quantity-zero", lambda e, u: [{"sku": e, "quantity": 0}],
     {}, "INVALID_QUANTITY", ["input", "lines", "0", "quantity"]),
    ("quantity-negative", lambda e, u: [{"sku": e, "quantity": 1}, {"sku": e, "quantity": -2}],
     {}, "INVALID_QUANTITY", ["input", "lines", "1", "quantity"]),
    ("quantity-too-large", lambda e, u: [{"sku": e, "quantity": 100_000_001}],
     {}, "INVALID_QUANTITY", ["input", "lines", "0", "quantity"]),
    ("no-lines", lambda e, u: [],
     {}, "INVALID", ["input", "lines"]),
    ("invalid-email", lambda e, u: [{"sku": e, "quantity": 1}],
     {"email": "ada.example.com"}, "INVALID", ["input", "customer", "email"]),
    ("blank-name", lambda e, u: [{"sku": e, "quantity": 1}],
     {"name": "   "}, "INVALID", ["input", "customer", "name"]),
    ("blank-key", lambda e, u: [{"sku": e, "quantity": 1}],
     {"key": "  "}, "INVALID", ["input", "idempotencyKey"]),
    ("unknown-channel", lambda e, u: [{"sku": e, "quantity": 1}],
     {"channel": "telephone"}, "UNKNOWN_CHANNEL", ["input", "channel"]),
    ("currency-mismatch", lambda e, u: [{"sku": e, "quantity": 1}, {"sku": u, "quantity": 1}],
     {}, "CURRENCY_MISMATCH", ["input", "lines"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make_lines", "extra", "code", "field"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
async def test_bad_input_is_refused_with_a_field_path_and_changes_nothing(
    server: LiveServer, make_lines: Any, extra: dict[str, Any], code: str, field: list[str]
) -> None:
    extra = dict(extra)
    suffix = uuid.uuid4().hex[:8]
    eur, usd = f"PM-BAD-EUR-{suffix}", f"PM-BAD-USD-{suffix}"
    await product(server, eur, f'setStock(input: {{sku: "{eur}", location: "main", quantity: 5}})')
    await product(
        server,
        usd,
        f'setStock(input: {{sku: "{usd}", location: "main", quantity: 5}})',
        create=', currency: "USD"',
    )
    before = (await pools(server, eur), await pools(server, usd))
    orders_before = await count(server, "SELECT count(*) FROM orders")
    keys_before = await count(server, "SELECT count(*) FROM idempotency_keys")
    key = extra.pop("key", f"pm-bad-{suffix}")
    payload = await place(server, make_lines(eur, usd), idem=key, **extra)
    assert payload["order"] is None
    assert payload["orderToken"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert payload["userErrors"][0]["message"]
    assert (await pools(server, eur), await pools(server, usd)) == before
    assert await count(server, "SELECT count(*) FROM orders") == orders_before
    assert await count(server, "SELECT count(*) FROM idempotency_keys") == keys_before
    assert await count(server, "SELECT count(*) FROM idempotency_keys WHERE key = $1", key) == 0


async def test_a_quantity_of_exactly_the_maximum_is_accepted(server: LiveServer) -> None:
    await product(
        server, "PM-MAX", 'configureBackorder(input: {sku: "PM-MAX", allowed: true})', price=1
    )
    order = await placed(server, [{"sku": "PM-MAX", "quantity": 100_000_000}])
    assert [(ln["state"], ln["quantity"]) for ln in order["lines"]] == [("BACKORDER", 100_000_000)]
    assert order["total"]["amountMinor"] == 100_000_000
    assert (await committed(server, "PM-MAX"))["BACKORDER"] == 100_000_000


async def test_a_preorder_line_with_accept_preorder_false_refuses_the_whole_order(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-NOPRE",
        'configurePreorder(input: {sku: "PM-NOPRE", enabled: true, releaseDate: "2099-05-01", '
        "cap: 10})",
    )
    await product(
        server, "PM-NOPRE-R", 'setStock(input: {sku: "PM-NOPRE-R", location: "main", quantity: 4})'
    )
    orders_before = await count(server, "SELECT count(*) FROM orders")
    payload = await place(
        server,
        [
            {"sku": "PM-NOPRE-R", "quantity": 2, "acceptPreorder": False},
            {"sku": "PM-NOPRE", "quantity": 1, "acceptPreorder": False},
        ],
        idem="pm-nopre",
    )
    assert payload["order"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("PREORDER_NOT_ACCEPTED", ["input", "lines", "1", "quantity"])
    ]
    assert "acceptPreorder" in payload["userErrors"][0]["message"]
    assert await count(server, "SELECT count(*) FROM orders") == orders_before
    assert (await committed(server, "PM-NOPRE"))["PRE_ORDER"] == 0
    assert (await committed(server, "PM-NOPRE-R"))["READY"] == 0
    # a READY line does not need the consent; the pre-order line with it is accepted
    fine = await placed(
        server,
        [
            {"sku": "PM-NOPRE-R", "quantity": 2, "acceptPreorder": False},
            {"sku": "PM-NOPRE", "quantity": 1},
        ],
    )
    assert [ln["state"] for ln in fine["lines"]] == ["READY", "PRE_ORDER"]


# ---------------------------------------------------------------- idempotency


async def test_a_sold_out_answer_is_stored_under_its_key(server: LiveServer) -> None:
    await product(
        server, "PM-IDEM-SO", 'setStock(input: {sku: "PM-IDEM-SO", location: "main", quantity: 1})'
    )
    lines = [{"sku": "PM-IDEM-SO", "quantity": 2}]
    first = await place(server, lines, idem="pm-sold-out")
    assert first["userErrors"][0]["code"] == "SOLD_OUT"
    rows = await server.sql(
        "SELECT order_id, response FROM idempotency_keys WHERE key = 'pm-sold-out'"
    )
    assert len(rows) == 1
    assert rows[0]["order_id"] is None
    await run(server, 'setStock(input: {sku: "PM-IDEM-SO", location: "main", quantity: 10})')
    again = await place(server, lines, idem="pm-sold-out")
    assert again["order"] is None
    assert again["userErrors"] == first["userErrors"]
    assert (await committed(server, "PM-IDEM-SO"))["READY"] == 0
    other = await place(server, [{"sku": "PM-IDEM-SO", "quantity": 1}], idem="pm-sold-out")
    assert [(e["code"], e["field"]) for e in other["userErrors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", ["input", "idempotencyKey"])
    ]
    fresh = await place(server, lines, idem="pm-sold-out-2")
    assert fresh["userErrors"] == []
    assert [(ln["state"], ln["quantity"]) for ln in fresh["order"]["lines"]] == [("READY", 2)]


async def test_a_replayed_sold_out_answer_says_it_is_replayed(server: LiveServer) -> None:
    await product(
        server, "PM-IDEM-RP", 'setStock(input: {sku: "PM-IDEM-RP", location: "main", quantity: 1})'
    )
    lines = [{"sku": "PM-IDEM-RP", "quantity": 2}]
    first = await place(server, lines, idem="pm-sold-out-replayed")
    assert (first["userErrors"][0]["code"], first["replayed"]) == ("SOLD_OUT", False)
    again = await place(server, lines, idem="pm-sold-out-replayed")
    assert again["userErrors"] == first["userErrors"]
    assert again["replayed"] is True


async def test_a_request_refused_for_bad_input_does_not_use_up_its_key(server: LiveServer) -> None:
    lines = [{"sku": "PM-IDEM-LATE", "quantity": 1}]
    early = await place(server, lines, idem="pm-late")
    assert early["userErrors"][0]["code"] == "UNKNOWN_SKU"
    await product(
        server,
        "PM-IDEM-LATE",
        'setStock(input: {sku: "PM-IDEM-LATE", location: "main", quantity: 3})',
    )
    later = await place(server, lines, idem="pm-late")
    assert later["userErrors"] == []
    assert later["replayed"] is False
    assert later["order"]["lines"][0]["state"] == "READY"


async def test_the_same_key_on_another_channel_places_a_separate_order(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-IDEM-CH", 'setStock(input: {sku: "PM-IDEM-CH", location: "main", quantity: 9})'
    )
    lines = [{"sku": "PM-IDEM-CH", "quantity": 1}]
    web = await place(server, lines, idem="pm-shared-key")
    pos = await place(server, lines, idem="pm-shared-key", channel="pos")
    assert web["userErrors"] == pos["userErrors"] == []
    assert (web["replayed"], pos["replayed"]) == (False, False)
    assert web["order"]["id"] != pos["order"]["id"]
    assert (web["order"]["channel"], pos["order"]["channel"]) == ("webstore", "pos")
    replay = await place(server, lines, idem="pm-shared-key", channel="pos")
    assert (replay["order"]["id"], replay["replayed"]) == (pos["order"]["id"], True)
    assert (await committed(server, "PM-IDEM-CH"))["READY"] == 2


async def test_the_same_key_from_another_api_key_places_a_separate_order(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-IDEM-AK", 'setStock(input: {sku: "PM-IDEM-AK", location: "main", quantity: 9})'
    )
    lines = [{"sku": "PM-IDEM-AK", "quantity": 1}]
    # another key with the same name and scopes is still another client
    twin = (await create_api_key(server.services, "tests-ops", ["ops"])).key
    storefront = await server.key_with("storefront")
    mine = await place(server, lines, idem="pm-key-per-client")
    theirs = await place(server, lines, idem="pm-key-per-client", api_key=twin)
    shop = await place(server, lines, idem="pm-key-per-client", api_key=storefront)
    ids = {p["order"]["id"] for p in (mine, theirs, shop)}
    assert len(ids) == 3
    assert not any(p["replayed"] for p in (mine, theirs, shop))
    assert all(p["orderToken"] for p in (mine, theirs, shop))
    assert (await committed(server, "PM-IDEM-AK"))["READY"] == 3
    replay = await place(server, lines, idem="pm-key-per-client", api_key=twin)
    assert (replay["order"]["id"], replay["replayed"]) == (theirs["order"]["id"], True)


async def test_an_expired_key_places_a_new_order(server: LiveServer) -> None:
    await product(
        server,
        "PM-IDEM-EXP",
        'setStock(input: {sku: "PM-IDEM-EXP", location: "main", quantity: 9})',
    )
    lines = [{"sku": "PM-IDEM-EXP", "quantity": 1}]
    first = await place(server, lines, idem="pm-expiring")
    expires = await server.sql(
        "SELECT expires_at - created_at AS kept FROM idempotency_keys WHERE key = 'pm-expiring'"
    )
    assert expires[0]["kept"] == timedelta(hours=24)
    await server.sql(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
        "WHERE key = 'pm-expiring'"
    )
    second = await place(server, lines, idem="pm-expiring")
    assert second["userErrors"] == []
    assert second["replayed"] is False
    assert second["order"]["id"] != first["order"]["id"]
    assert (await committed(server, "PM-IDEM-EXP"))["READY"] == 2
    replay = await place(server, lines, idem="pm-expiring")
    assert (replay["order"]["id"], replay["replayed"]) == (second["order"]["id"], True)
    assert (
        await count(server, "SELECT count(*) FROM idempotency_keys WHERE key = 'pm-expiring'") == 1
    )


# ---------------------------------------------------------------- reads


async def test_an_order_is_found_by_its_number_by_ops_and_with_its_token(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-NUM", 'setStock(input: {sku: "PM-NUM", location: "main", quantity: 9})'
    )
    storefront = await server.key_with("storefront")
    payload = await place(server, [{"sku": "PM-NUM", "quantity": 1}], api_key=storefront)
    order, token = payload["order"], payload["orderToken"]
    n = order["number"]
    by_ops = (await server.gql(ORDER_BY_NUMBER, {"n": n})).data["orderByNumber"]
    assert by_ops == {"id": order["id"], "number": n, "channel": "webstore"}
    no_token = await server.gql(ORDER_BY_NUMBER, {"n": n}, key=storefront)
    assert no_token.data["orderByNumber"] is None
    with_token = await server.gql(ORDER_BY_NUMBER, {"n": n, "t": token}, key=storefront)
    assert with_token.data["orderByNumber"]["id"] == order["id"]
    anonymous = await server.gql(ORDER_BY_NUMBER, {"n": n, "t": token}, anonymous=True)
    assert anonymous.data["orderByNumber"]["number"] == n
    unknown = await server.gql(ORDER_BY_NUMBER, {"n": "PO-1999-999999"})
    assert unknown.data["orderByNumber"] is None
    refused = await server.gql(ORDER_BY_NUMBER, {"n": n}, anonymous=True)
    assert refused.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_storefront_key_reads_an_order_by_id_only_with_its_token(
    server: LiveServer,
) -> None:
    await product(
        server, "PM-TOKEN", 'setStock(input: {sku: "PM-TOKEN", location: "main", quantity: 9})'
    )
    storefront = await server.key_with("storefront")
    mine = await place(server, [{"sku": "PM-TOKEN", "quantity": 1}], api_key=storefront)
    other = await place(server, [{"sku": "PM-TOKEN", "quantity": 1}], api_key=storefront)
    order_id, token = mine["order"]["id"], mine["orderToken"]
    assert mine["orderToken"] != other["orderToken"]

    async def read(key: str | None, t: str | None) -> Any:
        result = await server.gql(ORDER_BY_ID, {"id": order_id, "t": t}, key=key)
        return result.data["order"]

    assert await read(storefront, None) is None
    assert await read(storefront, "wrong") is None
    assert await read(storefront, other["orderToken"]) is None
    assert (await read(storefront, token))["number"] == mine["order"]["number"]
    marketplace = await server.key_with("channel:marketplace")
    assert await read(marketplace, None) is None
    assert (await read(None, None))["id"] == order_id  # the ops key
    anonymous = await server.gql(ORDER_BY_ID, {"id": order_id}, anonymous=True)
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    garbage = await server.gql(ORDER_BY_ID, {"id": "not-an-id"})
    assert garbage.data["order"] is None
    listing = await server.gql(ORDERS, {"first": 5}, key=storefront)
    assert listing.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_orders_are_paged_newest_first_with_cursors(server: LiveServer) -> None:
    await product(
        server, "PM-PAGE", 'setStock(input: {sku: "PM-PAGE", location: "main", quantity: 9})'
    )
    made = []
    for _ in range(5):
        server.clock.advance(seconds=1)
        made.append((await placed(server, [{"sku": "PM-PAGE", "quantity": 1}]))["number"])
    newest_first = list(reversed(made))
    flt = {"sku": "PM-PAGE"}
    page = await list_orders(server, first=2, filter=flt)
    assert numbers(page) == newest_first[:2]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (True, False)
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    page2 = await list_orders(server, first=2, after=page["pageInfo"]["endCursor"], filter=flt)
    assert numbers(page2) == newest_first[2:4]
    assert (page2["pageInfo"]["hasNextPage"], page2["pageInfo"]["hasPreviousPage"]) == (True, True)
    page3 = await list_orders(server, first=2, after=page2["pageInfo"]["endCursor"], filter=flt)
    assert numbers(page3) == newest_first[4:]
    assert page3["pageInfo"]["hasNextPage"] is False
    everything = await list_orders(server, first=5, filter=flt)
    assert numbers(everything) == newest_first
    assert everything["pageInfo"]["hasNextPage"] is False
    bad = await server.gql(ORDERS, {"first": 2, "after": "garbage", "filter": flt})
    assert bad.errors[0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_orders_can_be_filtered_by_status_channel_placement_time_and_line_state(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-FLT-P",
        'configurePreorder(input: {sku: "PM-FLT-P", enabled: true, releaseDate: "2099-05-01"})',
    )
    await product(
        server, "PM-FLT-R", 'setStock(input: {sku: "PM-FLT-R", location: "main", quantity: 9})'
    )
    # a fresh stretch of time: every earlier order of this module is before it
    server.clock.advance(days=1)
    start = server.clock.current
    web = await placed(server, [{"sku": "PM-FLT-P", "quantity": 1}])
    server.clock.advance(hours=1)
    pos = await placed(server, [{"sku": "PM-FLT-R", "quantity": 1}], channel="pos")
    server.clock.advance(hours=1)
    market = await placed(server, [{"sku": "PM-FLT-P", "quantity": 1}], channel="marketplace")
    assert (await cancel_order(server, market["id"]))["userErrors"] == []

    since = start.isoformat()

    async def listed(**flt: Any) -> list[str]:
        return numbers(await list_orders(server, first=50, filter={"placedFrom": since, **flt}))

    assert await listed() == [market["number"], pos["number"], web["number"]]
    assert await listed(status="CANCELLED") == [market["number"]]
    assert await listed(status="PLACED") == [pos["number"], web["number"]]
    assert await listed(channel="pos") == [pos["number"]]
    assert await listed(state="PRE_ORDER") == [web["number"]]  # the cancelled one has no open line
    assert await listed(state="READY") == [pos["number"]]
    assert await listed(state="BACKORDER") == []
    window = {
        "placedFrom": (start + timedelta(minutes=30)).isoformat(),
        "placedTo": (start + timedelta(minutes=90)).isoformat(),
    }
    assert numbers(await list_orders(server, first=50, filter=window)) == [pos["number"]]
    assert (
        numbers(await list_orders(server, first=50, filter={"placedTo": since, "sku": "PM-FLT-R"}))
        == []
    )
    # a channel key sees its own channel only, whatever the filter asks for
    marketplace = await server.key_with("channel:marketplace")
    mine = await list_orders(server, api_key=marketplace, first=50, filter={"placedFrom": since})
    assert numbers(mine) == [market["number"]]
    theirs = await list_orders(
        server, api_key=marketplace, first=50, filter={"placedFrom": since, "channel": "pos"}
    )
    assert numbers(theirs) == []


async def test_the_event_trail_records_placement_queueing_and_cancellation_with_actors(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-EVT",
        'setStock(input: {sku: "PM-EVT", location: "main", quantity: 1})',
        'configureBackorder(input: {sku: "PM-EVT", allowed: true})',
    )
    storefront = await server.key_with("storefront")
    order = (await place(server, [{"sku": "PM-EVT", "quantity": 3}], api_key=storefront))["order"]
    ready, back = order["lines"]
    events = order["events"]
    assert [(e["action"], e["lineId"]) for e in events] == [
        ("order.placed", None),
        ("line.reserved", ready["id"]),
        ("line.queued", back["id"]),
    ]
    assert all(re.fullmatch(r"key:[0-9a-f]+:storefront", e["actor"]) for e in events)
    assert events[0]["after"] == {
        "number": order["number"],
        "channel": "webstore",
        "tags": ["BACKORDER"],
        "totalMinor": 3000,
    }
    assert events[1]["after"] == {"sku": "PM-EVT", "quantity": 1, "state": "READY", "pool": "READY"}
    assert events[2]["after"] == {
        "sku": "PM-EVT",
        "quantity": 2,
        "state": "BACKORDER",
        "pool": "BACKORDER",
    }

    after_line = (await cancel_line(server, order["id"], back["id"], "no longer needed"))["order"]
    cancelled = after_line["events"][3:]
    assert [(e["action"], e["lineId"]) for e in cancelled] == [("line.cancelled", back["id"])]
    assert re.fullmatch(r"key:[0-9a-f]+:tests-ops", cancelled[0]["actor"])
    assert cancelled[0]["before"] == {"status": "WAITING", "quantity": 2, "pool": "BACKORDER"}
    assert cancelled[0]["after"] == {"status": "CANCELLED", "reason": "no longer needed"}

    whole = (await cancel_order(server, order["id"], "gone"))["order"]
    last = whole["events"][4:]
    assert [(e["action"], e["lineId"]) for e in last] == [
        ("line.cancelled", ready["id"]),
        ("order.cancelled", None),
    ]
    assert {e["actor"] for e in last} == {cancelled[0]["actor"]}
    assert last[1]["before"] == {"status": "PLACED"}
    assert last[1]["after"] == {"status": "CANCELLED", "reason": "gone"}


async def test_order_numbers_carry_the_year_and_increase(server: LiveServer) -> None:
    await product(
        server, "PM-SEQ", 'setStock(input: {sku: "PM-SEQ", location: "main", quantity: 9})'
    )
    got = [(await placed(server, [{"sku": "PM-SEQ", "quantity": 1}]))["number"] for _ in range(3)]
    year = server.clock.current.year
    parsed = [re.fullmatch(r"PO-(\d{4})-(\d{6})", n) for n in got]
    assert all(parsed), got
    assert {int(m.group(1)) for m in parsed if m} == {year}
    sequence = [int(m.group(2)) for m in parsed if m]
    assert sequence == sorted(sequence)
    assert len(set(sequence)) == 3
    assert len(set(got)) == 3


# ---------------------------------------------------------------- more placement rules


async def test_a_preorder_beyond_its_cap_overflows_to_backorder_on_backorder_terms(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-OVER",
        'configurePreorder(input: {sku: "PM-OVER", enabled: true, releaseDate: "2099-05-01", '
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
    assert [g["shipsWhen"] for g in order["shipmentGroups"]] == ["at release", "when back in stock"]
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
        "mutation { runScheduledJob(job: RELEASE_PREORDERS) { ran result } }",
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


async def test_an_order_in_another_currency_is_totalled_and_paid_in_it(server: LiveServer) -> None:
    await product(
        server,
        "PM-USD",
        'setStock(input: {sku: "PM-USD", location: "main", quantity: 5})',
        price=1999,
        create=', currency: "USD"',
    )
    order = await placed(server, [{"sku": "PM-USD", "quantity": 2}], channel="pos")
    assert order["total"] == {"amountMinor": 3998, "currency": "USD"}
    assert order["lines"][0]["unitPrice"] == {"amountMinor": 1999, "currency": "USD"}
    assert [(p["kind"], p["amount"]) for p in order["payments"]] == [
        ("CAPTURE", {"amountMinor": 3998, "currency": "USD"})
    ]


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


async def test_an_order_total_beyond_the_graphql_int_range_is_placed_and_shown_or_refused(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PM-HUGE",
        'configureBackorder(input: {sku: "PM-HUGE", allowed: true})',
        price=3_000_000,
    )
    result = await server.gql(
        PLACE,
        {"input": order_input([{"sku": "PM-HUGE", "quantity": 1000}], key="pm-huge")},
    )
    rows = await server.sql("SELECT total_minor FROM orders WHERE idempotency_key = 'pm-huge'")
    assert result.errors == []
    payload = result.data["placeOrder"]
    if payload["order"] is None:  # refused: then nothing may have changed
        assert payload["userErrors"]
        assert rows == []
        assert (await committed(server, "PM-HUGE"))["BACKORDER"] == 0
    else:
        assert payload["order"]["total"]["amountMinor"] == 3_000_000_000


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    drift = await server.sql(
        """
        SELECT p.sku, ip.kind, ip.channel_code, ip.committed, COALESCE((
            SELECT sum(l.quantity) FROM order_lines l
            WHERE l.product_id = ip.product_id AND l.pool_kind = ip.kind
              AND l.pool_channel IS NOT DISTINCT FROM ip.channel_code
              AND l.status IN ('RESERVED', 'WAITING', 'ALLOCATED')), 0) AS open
        FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
        WHERE ip.kind <> 'RESERVED'
        """
    )
    assert [dict(r) for r in drift if r["committed"] != r["open"]] == []
    unbalanced = await server.sql(
        """
        SELECT l.id, l.sku,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'CAPTURE') AS captured,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'REFUND') AS refunded,
               sum(pe.amount_minor) FILTER (WHERE pe.kind IN ('AUTHORIZE', 'REAUTHORIZE'))
                   AS authorized,
               sum(pe.amount_minor) FILTER (WHERE pe.kind = 'VOID') AS voided
        FROM order_lines l JOIN payment_entries pe ON pe.line_id = l.id
        WHERE l.status = 'CANCELLED'
        GROUP BY l.id, l.sku
        HAVING COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'CAPTURE'), 0)
                   <> COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'REFUND'), 0)
            OR COALESCE(sum(pe.amount_minor)
                   FILTER (WHERE pe.kind IN ('AUTHORIZE', 'REAUTHORIZE')), 0)
                   <> COALESCE(sum(pe.amount_minor) FILTER (WHERE pe.kind = 'VOID'), 0)
        """
    )
    assert [dict(r) for r in unbalanced] == []
