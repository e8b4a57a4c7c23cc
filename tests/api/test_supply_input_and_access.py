"""Supply input and access: NUL bytes and far dates are user errors, available-to-promise is shown
only to ops and channel keys, and a supply cursor past bigint is an INVALID_CURSOR."""

from __future__ import annotations

from typing import Any

from graphql_schema.relay import encode_cursor
from tests.api.test_supply_and_allocation import (
    ATP,
    CREATE_PO,
    RECEIVE,
    SCHEDULE_RUN,
    SET_POLICY,
    SUPPLY_QUERY,
    UPDATE_ETA,
    backorderable,
    place,
    product,
    purchase_order,
)
from tests.support import LiveServer

# ---------------------------------------------------------------- bad input


BAD_INPUT: list[tuple[str, str, dict[str, Any]]] = [
    (
        "receiveGoods",
        RECEIVE,
        {"input": {"sku": "RV-BAD\u0000", "quantity": 1, "location": "main", "reference": "G"}},
    ),
    (
        "receiveGoods",
        RECEIVE,
        {"input": {"sku": "RV-BAD", "quantity": 1, "location": "ma\u0000in", "reference": "G"}},
    ),
    (
        "createPurchaseOrder",
        CREATE_PO,
        {
            "input": {
                "sku": "RV-BAD\u0000",
                "quantity": 1,
                "location": "main",
                "supplier": {"code": "X"},
            }
        },
    ),
    (
        "createPurchaseOrder",
        CREATE_PO,
        {
            "input": {
                "sku": "RV-BAD",
                "quantity": 1,
                "location": "main\u0000",
                "supplier": {"code": "X"},
            }
        },
    ),
    (
        "createPurchaseOrder",
        CREATE_PO,
        {
            "input": {
                "sku": "RV-BAD",
                "quantity": 1,
                "location": "main",
                "supplier": {"code": "X"},
                "expectedOn": "9999-12-31",
            }
        },
    ),
    (
        "scheduleProductionRun",
        SCHEDULE_RUN,
        {
            "input": {
                "sku": "RV-BAD",
                "startOn": "9999-12-31",
                "unitsPerDay": 1,
                "runDays": 1,
                "location": "main",
            }
        },
    ),
    (
        "setAllocationPolicy",
        SET_POLICY,
        {"sku": "RV-BAD\u0000", "policy": "FIFO"},
    ),
    ("supply", SUPPLY_QUERY, {"sku": "RV-BAD\u0000"}),
    (
        "setCarrierService",
        """mutation($input: SetCarrierServiceInput!) {
          setCarrierService(input: $input) { userErrors { field code message } } }""",
        {
            "input": {
                "region": "E\u0000U",
                "code": "EXPRESS",
                "name": "Express",
                "transitMinDays": 1,
                "transitMaxDays": 2,
            }
        },
    ),
    (
        "carrierServices",
        "query($r: String) { carrierServices(region: $r) { code } }",
        {"r": "E\u0000U"},
    ),
    ("availableToPromise", ATP, {"sku": "RV-BAD\u0000"}),
]

# A query's bad argument is the field's error (``extensions.code`` and ``extensions.field``),
# never an unexpected (masked) one; mutations answer with userErrors and no top-level error.
FIELD_ERRORS = {"availableToPromise": [("NOT_FOUND", ["sku"])]}


async def test_nul_bytes_and_far_dates_in_supply_input_are_user_errors_not_unexpected_errors(
    server: LiveServer,
) -> None:
    await product(server, "RV-BAD", *backorderable("RV-BAD"))
    await place(server, "RV-BAD", 1)
    po = await purchase_order(server, "RV-BAD", 1, 5, supplier="RV-SUP")
    far = {"input": {"id": po["id"], "expectedOn": "9999-12-31", "reason": "r"}}
    masked = []
    for name, document, variables in [*BAD_INPUT, ("updateSupplyEta", UPDATE_ETA, far)]:
        result = await server.gql(document, variables)
        found = [
            (e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field"))
            for e in result.errors
        ]
        if found != FIELD_ERRORS.get(name, []):
            masked.append((name, variables, result.errors))
    assert masked == []


# ---------------------------------------------------------------- authorization


async def test_available_to_promise_shows_the_supply_schedule_only_to_ops_and_channel_keys(
    server: LiveServer,
) -> None:
    sku = "RV-ATP-AUTH"
    await product(server, sku, *backorderable(sku))
    await purchase_order(server, sku, 40, 20, supplier="RV-SECRET")
    anonymous = await server.gql(ATP, {"sku": sku}, anonymous=True)
    assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"]
    storefront = await server.gql(ATP, {"sku": sku}, key=await server.key_with("storefront"))
    assert [e["extensions"]["code"] for e in storefront.errors] == ["FORBIDDEN"]
    channel = await server.gql(ATP, {"sku": sku}, key=await server.key_with("channel:b2b"))
    assert channel.data["availableToPromise"]["entries"][-1]["quantity"] == 40


# ---------------------------------------------------------------- cursors


async def test_a_supply_cursor_past_bigint_or_with_unicode_digits_is_invalid_cursor_not_an_unexpected_error(
    server: LiveServer,
) -> None:
    for value in ("9" * 30, "\u00b2", "\u0663"):
        cursor = encode_cursor("supply", value)
        result = await server.gql(
            "query($after: String) { supply(after: $after) { nodes { id } } }", {"after": cursor}
        )
        assert [e["extensions"]["code"] for e in result.errors] == ["INVALID_CURSOR"], value
