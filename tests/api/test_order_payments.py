"""What an order totals and pays at placement: each line by its product's payment terms, in the
products' currency, even beyond the GraphQL Int range."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from tests.api.placement_helpers import (
    PLACE,
    amounts,
    assert_ledgers_agree,
    committed,
    entries,
    order_input,
    placed,
    product,
)
from tests.support import LiveServer

TERMS_CASES = [
    # (id, terms, price, quantity, expected entries, captured, authorized, due)
    ("full", "{kind: FULL}", 2500, 2, [("CAPTURE", 5000)], 5000, 0, 0),
    ("deposit-percent", "{kind: DEPOSIT, depositPercent: 12.5}", 1000, 3, [("CAPTURE", 375)], 375, 0, 2625),
    ("deposit-percent-half-up", "{kind: DEPOSIT, depositPercent: 50}", 1001, 1, [("CAPTURE", 501)], 501, 0, 500),
    ("deposit-per-unit", "{kind: DEPOSIT, depositAmount: {amountMinor: 400, currency: EUR}}", 1000, 3, [("CAPTURE", 1200)], 1200, 0, 1800),
    ("deposit-capped", "{kind: DEPOSIT, depositAmount: {amountMinor: 1500, currency: EUR}}", 1000, 2, [("CAPTURE", 2000)], 2000, 0, 0),
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
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, releaseDate: "2035-05-01", '
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
    assert order["payments"][0]["line"] == {"id": line["id"]}
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


async def test_an_order_in_another_currency_is_totalled_and_paid_in_it(server: LiveServer) -> None:
    await product(
        server,
        "PM-USD",
        'setStock(input: {sku: "PM-USD", location: "main", quantity: 5})',
        price=1999,
        currency="USD",
    )
    order = await placed(server, [{"sku": "PM-USD", "quantity": 2}], channel="pos")
    assert order["total"] == {"amountMinor": 3998, "currency": "USD"}
    assert order["lines"][0]["unitPrice"] == {"amountMinor": 1999, "currency": "USD"}
    assert [(p["kind"], p["amount"]) for p in order["payments"]] == [
        ("CAPTURE", {"amountMinor": 3998, "currency": "USD"})
    ]


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
    await assert_ledgers_agree(server)
