"""placeOrder: classification, splits, caps, idempotency, cancellation, scopes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support import LiveServer

PLACE = """
mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    replayed
    orderToken
    order {
      id number status tags channel total { amountMinor currency }
      lines { id lineNumber subNumber sku quantity state status queuePosition unitsAhead
              reservedPool reservedChannel paymentTerms shipmentGroup
              paymentSummary { captured { amountMinor } authorized { amountMinor }
                               dueAtDispatch { amountMinor } } }
      shipmentGroups { number states shipsWhen lines { sku quantity } }
      payments { kind amount { amountMinor } gateway }
      paymentSummary { captured { amountMinor } authorized { amountMinor }
                       refunded { amountMinor } voided { amountMinor } }
      events { kind actor }
    }
    userErrors { field code message }
  }
}
"""

POOLS = (
    """query($sku: String!) { product(sku: $sku) { pools { kind channel committed available } } }"""
)


def order_input(lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "idempotencyKey": extra.pop("key", str(uuid.uuid4())),
        "channel": extra.pop("channel", "webstore"),
        "customer": {"email": "ada@example.com", "name": "Ada"},
        "shippingAddress": {"region": "EU", "postalCode": "1011"},
        "lines": lines,
        **extra,
    }


async def place(
    server: LiveServer, lines: list[dict[str, Any]], idem: str | None = None, **extra: Any
) -> Any:
    if idem is not None:
        extra["key"] = idem
    result = await server.gql(PLACE, {"input": order_input(lines, **extra)})
    return result.data["placeOrder"]


async def product(server: LiveServer, sku: str, *mutations: str, price: int = 1000) -> None:
    body = " ".join(
        [
            f'a: createProduct(input: {{sku: "{sku}", name: "{sku}", '
            f"price: {{amountMinor: {price}, currency: EUR}}}}) {{ userErrors {{ code }} }}"
        ]
        + [f"m{i}: {m} {{ userErrors {{ code message }} }}" for i, m in enumerate(mutations)]
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def pools(server: LiveServer, sku: str) -> dict[str, dict[str, Any]]:
    result = await server.gql(POOLS, {"sku": sku})
    return {(p["channel"] or p["kind"]): p for p in result.data["product"]["pools"]}


async def test_a_ready_order_commits_stock_and_captures_in_full(server: LiveServer) -> None:
    await product(
        server, "PL-READY", 'setStock(input: {sku: "PL-READY", location: "main", quantity: 5})'
    )
    payload = await place(server, [{"sku": "PL-READY", "quantity": 2}])
    assert payload["userErrors"] == []
    order = payload["order"]
    assert order["number"].startswith("PO-")
    assert order["status"] == "PLACED"
    (line,) = order["lines"]
    assert (line["state"], line["status"], line["reservedPool"]) == ("READY", "RESERVED", "READY")
    assert line["queuePosition"] is None
    assert order["payments"] == [
        {"kind": "CAPTURE", "amount": {"amountMinor": 2000}, "gateway": "ledger"}
    ]
    assert order["shipmentGroups"] == [
        {
            "number": 1,
            "states": ["READY"],
            "shipsWhen": "NOW",
            "lines": [{"sku": "PL-READY", "quantity": 2}],
        }
    ]
    assert payload["orderToken"]
    assert (await pools(server, "PL-READY"))["READY"]["committed"] == 2
    assert [e["kind"] for e in order["events"]] == ["ORDER_PLACED", "LINE_RESERVED"]


async def test_a_line_larger_than_stock_splits_into_ready_and_backorder_sub_lines(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PL-SPLIT",
        'setStock(input: {sku: "PL-SPLIT", location: "main", quantity: 2})',
        'configureBackorder(input: {sku: "PL-SPLIT", allowed: true, cap: 10})',
    )
    order = (await place(server, [{"sku": "PL-SPLIT", "quantity": 5}]))["order"]
    parts = [(ln["subNumber"], ln["state"], ln["quantity"], ln["status"]) for ln in order["lines"]]
    assert parts == [(1, "READY", 2, "RESERVED"), (2, "BACKORDER", 3, "WAITING")]
    assert order["lines"][1]["queuePosition"] >= 1
    assert "BACKORDER" in order["tags"]
    assert [g["shipsWhen"] for g in order["shipmentGroups"]] == ["NOW", "WHEN_BACK_IN_STOCK"]
    p = await pools(server, "PL-SPLIT")
    assert (p["READY"]["committed"], p["BACKORDER"]["committed"]) == (2, 3)


async def test_ship_together_puts_every_line_in_one_group(server: LiveServer) -> None:
    await product(
        server,
        "PL-TOG",
        'setStock(input: {sku: "PL-TOG", location: "main", quantity: 1})',
        'configureBackorder(input: {sku: "PL-TOG", allowed: true})',
    )
    order = (await place(server, [{"sku": "PL-TOG", "quantity": 3}], shipTogether=True))["order"]
    assert [g["shipsWhen"] for g in order["shipmentGroups"]] == ["TOGETHER_WHEN_COMPLETE"]


async def test_a_refused_backorder_changes_nothing(server: LiveServer) -> None:
    await product(
        server,
        "PL-CONSENT",
        'setStock(input: {sku: "PL-CONSENT", location: "main", quantity: 1})',
        'configureBackorder(input: {sku: "PL-CONSENT", allowed: true})',
    )
    payload = await place(server, [{"sku": "PL-CONSENT", "quantity": 2, "acceptBackorder": False}])
    assert payload["order"] is None
    assert payload["userErrors"][0]["code"] == "BACKORDER_NOT_ACCEPTED"
    assert payload["userErrors"][0]["field"] == ["input", "lines", "0", "quantity"]
    assert (await pools(server, "PL-CONSENT"))["READY"]["committed"] == 0


async def test_a_preorder_takes_a_place_under_the_cap_and_pays_a_deposit(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PL-PRE",
        'configurePreorder(input: {sku: "PL-PRE", enabled: true, releaseDate: "2035-07-01", cap: 3, '
        "paymentTerms: {kind: DEPOSIT, depositPercent: 20}})",
        price=5000,
    )
    order = (await place(server, [{"sku": "PL-PRE", "quantity": 2}]))["order"]
    (line,) = order["lines"]
    assert (line["state"], line["status"], line["paymentTerms"]) == (
        "PRE_ORDER",
        "WAITING",
        "DEPOSIT",
    )
    assert line["paymentSummary"]["captured"]["amountMinor"] == 2000
    assert line["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 8000
    assert "PREORDER" in order["tags"]
    more = await place(server, [{"sku": "PL-PRE", "quantity": 2}])
    assert more["userErrors"][0]["code"] == "SOLD_OUT"
    assert "Only 1 of 2" in more["userErrors"][0]["message"]
    assert (await pools(server, "PL-PRE"))["PRE_ORDER"]["committed"] == 2


async def test_an_authorize_preorder_records_an_authorization_that_expires(
    server: LiveServer,
) -> None:
    await product(
        server,
        "PL-AUTH",
        'configurePreorder(input: {sku: "PL-AUTH", enabled: true, releaseDate: "2035-07-01", '
        "paymentTerms: {kind: AUTHORIZE}})",
    )
    order = (await place(server, [{"sku": "PL-AUTH", "quantity": 1}]))["order"]
    assert order["payments"][0]["kind"] == "AUTHORIZE"
    rows = await server.sql(
        "SELECT expires_at - created_at AS valid FROM payment_entries pe JOIN orders o "
        "ON o.id = pe.order_id WHERE o.number = $1",
        order["number"],
    )
    assert rows[0]["valid"].days in (6, 7)


async def test_waiting_lines_get_queue_positions_per_sku_in_order_of_placement(
    server: LiveServer,
) -> None:
    await product(server, "PL-QUEUE", 'configureBackorder(input: {sku: "PL-QUEUE", allowed: true})')
    positions = []
    for _ in range(3):
        order = (await place(server, [{"sku": "PL-QUEUE", "quantity": 2}]))["order"]
        positions.append((order["lines"][0]["queuePosition"], order["lines"][0]["unitsAhead"]))
    assert positions == [(1, 0), (2, 2), (3, 4)]


async def test_the_same_key_and_payload_return_the_original_order(server: LiveServer) -> None:
    await product(
        server, "PL-IDEM", 'setStock(input: {sku: "PL-IDEM", location: "main", quantity: 9})'
    )
    first = await place(server, [{"sku": "PL-IDEM", "quantity": 1}], idem="k-1")
    again = await place(server, [{"sku": "PL-IDEM", "quantity": 1}], idem="k-1")
    assert again["order"]["id"] == first["order"]["id"]
    assert again["replayed"] is True
    assert again["orderToken"] is None
    assert (await pools(server, "PL-IDEM"))["READY"]["committed"] == 1


async def test_the_same_key_with_another_payload_is_refused(server: LiveServer) -> None:
    await product(
        server, "PL-REUSE", 'setStock(input: {sku: "PL-REUSE", location: "main", quantity: 9})'
    )
    await place(server, [{"sku": "PL-REUSE", "quantity": 1}], idem="k-2")
    other = await place(server, [{"sku": "PL-REUSE", "quantity": 2}], idem="k-2")
    assert other["order"] is None
    assert other["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert (await pools(server, "PL-REUSE"))["READY"]["committed"] == 1


async def test_concurrent_requests_with_one_key_create_one_order(server: LiveServer) -> None:
    await product(
        server, "PL-RACE", 'setStock(input: {sku: "PL-RACE", location: "main", quantity: 50})'
    )
    results = await asyncio.gather(
        *(place(server, [{"sku": "PL-RACE", "quantity": 1}], idem="k-race") for _ in range(12))
    )
    ids = {r["order"]["id"] for r in results}
    assert len(ids) == 1
    assert sum(1 for r in results if not r["replayed"]) == 1
    assert (await pools(server, "PL-RACE"))["READY"]["committed"] == 1
    count = await server.sql("SELECT count(*) AS n FROM orders WHERE idempotency_key = 'k-race'")
    assert count[0]["n"] == 1


@pytest.mark.parametrize("cap", [100])
async def test_64_connections_racing_for_a_limited_drop_get_exactly_the_cap(
    server: LiveServer, cap: int
) -> None:
    await product(
        server,
        "PL-DROP",
        f'configurePreorder(input: {{sku: "PL-DROP", enabled: true, releaseDate: "2035-01-01", cap: {cap}}})',
    )
    semaphore = asyncio.Semaphore(64)
    violations: list[Any] = []

    async def attempt(i: int) -> Any:
        async with semaphore:
            return await place(
                server,
                [{"sku": "PL-DROP", "quantity": 1, "acceptBackorder": False}],
                idem=f"drop-{i}",
            )

    async def watch() -> None:
        for _ in range(200):
            rows = await server.sql(
                "SELECT committed, capacity FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
                "WHERE p.sku = 'PL-DROP' AND kind = 'PRE_ORDER'"
            )
            if rows[0]["committed"] > rows[0]["capacity"] or rows[0]["committed"] < 0:
                violations.append(dict(rows[0]))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(attempt(i) for i in range(300)))
    watcher.cancel()
    accepted = [r for r in results if r["order"] is not None]
    refused = [r for r in results if r["order"] is None]
    assert len(accepted) == cap
    assert {r["userErrors"][0]["code"] for r in refused} == {"SOLD_OUT"}
    assert violations == []
    assert (await pools(server, "PL-DROP"))["PRE_ORDER"]["committed"] == cap
    lines = await server.sql("SELECT sum(quantity) AS n FROM order_lines WHERE sku = 'PL-DROP'")
    assert lines[0]["n"] == cap


async def test_cancelling_returns_each_unit_to_its_own_pool_and_refunds(server: LiveServer) -> None:
    await product(
        server,
        "PL-CANCEL",
        'setStock(input: {sku: "PL-CANCEL", location: "main", quantity: 1})',
        'configureBackorder(input: {sku: "PL-CANCEL", allowed: true})',
    )
    order = (await place(server, [{"sku": "PL-CANCEL", "quantity": 3}]))["order"]
    result = await server.gql(
        'mutation($id: ID!) { cancelOrder(input: {id: $id, reason: "changed mind"}) { order { status '
        "lines { status } paymentSummary { captured { amountMinor } refunded { amountMinor } } } "
        "userErrors { code } } }",
        {"id": order["id"]},
    )
    payload = result.data["cancelOrder"]
    assert payload["userErrors"] == []
    assert payload["order"]["status"] == "CANCELLED"
    assert {ln["status"] for ln in payload["order"]["lines"]} == {"CANCELLED"}
    summary = payload["order"]["paymentSummary"]
    assert summary["refunded"]["amountMinor"] == summary["captured"]["amountMinor"] == 3000
    p = await pools(server, "PL-CANCEL")
    assert (p["READY"]["committed"], p["BACKORDER"]["committed"]) == (0, 0)
    again = await server.gql(
        "mutation($id: ID!) { cancelOrder(input: {id: $id}) { userErrors { code } } }",
        {"id": order["id"]},
    )
    assert again.data["cancelOrder"]["userErrors"][0]["code"] == "NOT_CANCELLABLE"


async def test_cancelling_one_waiting_line_moves_the_queue_up(server: LiveServer) -> None:
    await product(server, "PL-Q2", 'configureBackorder(input: {sku: "PL-Q2", allowed: true})')
    first = (await place(server, [{"sku": "PL-Q2", "quantity": 1}]))["order"]
    second = (await place(server, [{"sku": "PL-Q2", "quantity": 1}]))["order"]
    assert second["lines"][0]["queuePosition"] == 2
    await server.gql(
        "mutation($o: ID!, $l: ID!) { cancelOrderLine(input: {orderId: $o, lineId: $l}) { userErrors { code } } }",
        {"o": first["id"], "l": first["lines"][0]["id"]},
    )
    result = await server.gql(
        "query($id: ID!) { order(id: $id) { lines { queuePosition } } }", {"id": second["id"]}
    )
    assert result.data["order"]["lines"][0]["queuePosition"] == 1


async def test_scopes_decide_who_may_place_and_read(server: LiveServer) -> None:
    await product(
        server, "PL-SCOPE", 'setStock(input: {sku: "PL-SCOPE", location: "main", quantity: 9})'
    )
    anonymous = await server.gql(
        PLACE, {"input": order_input([{"sku": "PL-SCOPE", "quantity": 1}])}, anonymous=True
    )
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    storefront = await server.key_with("storefront")
    placed = (
        await server.gql(
            PLACE, {"input": order_input([{"sku": "PL-SCOPE", "quantity": 1}])}, key=storefront
        )
    ).data["placeOrder"]
    assert placed["userErrors"] == []
    refused = (
        await server.gql(
            PLACE,
            {"input": order_input([{"sku": "PL-SCOPE", "quantity": 1}], channel="marketplace")},
            key=storefront,
        )
    ).data["placeOrder"]
    assert refused["userErrors"][0]["code"] == "CHANNEL_NOT_ALLOWED"
    marketplace = await server.key_with("channel:marketplace")
    intake = (
        await server.gql(
            PLACE,
            {"input": order_input([{"sku": "PL-SCOPE", "quantity": 1}], channel="marketplace")},
            key=marketplace,
        )
    ).data["placeOrder"]
    assert intake["userErrors"] == []
    # the storefront reads its own order with the token, not without it
    q = "query($id: ID!, $t: String) { order(id: $id, token: $t) { number } }"
    order_id, token = placed["order"]["id"], placed["orderToken"]
    assert (await server.gql(q, {"id": order_id, "t": token}, anonymous=True)).data["order"][
        "number"
    ]
    assert (await server.gql(q, {"id": order_id, "t": "wrong"}, anonymous=True)).data[
        "order"
    ] is None
    # a channel key sees only its own channel's orders
    listed = await server.gql(
        "{ orders(first: 50) { edges { node { channel } } } }", key=marketplace
    )
    assert {e["node"]["channel"] for e in listed.data["orders"]["edges"]} == {"marketplace"}


async def test_orders_can_be_filtered_like_the_ops_tabs(server: LiveServer) -> None:
    await product(server, "PL-TAB", 'configureBackorder(input: {sku: "PL-TAB", allowed: true})')
    order = (await place(server, [{"sku": "PL-TAB", "quantity": 1}]))["order"]
    result = await server.gql(
        '{ orders(first: 100, filter: {state: BACKORDER, sku: "PL-TAB"}) { edges { node { number } } } }'
    )
    assert [e["node"]["number"] for e in result.data["orders"]["edges"]] == [order["number"]]
    tagged = await server.gql(
        'mutation($id: ID!) { tagOrder(input: {id: $id, add: ["vip"]}) { order { tags } userErrors { code } } }',
        {"id": order["id"]},
    )
    assert "VIP" in tagged.data["tagOrder"]["order"]["tags"]
    by_tag = await server.gql(
        '{ orders(first: 100, filter: {tag: "VIP"}) { edges { node { number } } } }'
    )
    assert [e["node"]["number"] for e in by_tag.data["orders"]["edges"]] == [order["number"]]


async def test_order_numbers_keep_growing_past_a_million(server: LiveServer) -> None:
    await product(
        server, "PL-MILLION", 'setStock(input: {sku: "PL-MILLION", location: "main", quantity: 5})'
    )
    await server.sql("SELECT setval('order_number_seq', 999999)")
    first = (await place(server, [{"sku": "PL-MILLION", "quantity": 1}]))["order"]["number"]
    second = (await place(server, [{"sku": "PL-MILLION", "quantity": 1}]))["order"]["number"]
    assert first.endswith("-1000000")
    assert second.endswith("-1000001")
