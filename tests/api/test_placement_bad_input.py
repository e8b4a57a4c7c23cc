"""Bad placeOrder input is refused with a field path and changes nothing, while a quantity at the
maximum is accepted and a pre-order needs its consent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.placement_helpers import (
    assert_ledgers_agree,
    committed,
    count,
    place,
    placed,
    pools,
    product,
)
from tests.support import LiveServer

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
        currency="USD",
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
        'configurePreorder(input: {sku: "PM-NOPRE", enabled: true, releaseDate: "2035-05-01", '
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


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
