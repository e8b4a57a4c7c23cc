"""A sales channel's unit limits: how many units one order line may ask for, and how many units
of one SKU one customer may hold on open orders there. Storefront and channel keys are bound,
ops are not; ops set a channel's own limits (in the event ledger); the customer limit holds
when one customer's orders race each other, on the compiled path as on the executor."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest

from app.web.documents import TRUSTED_DIR, sha256
from tests.api.placement_helpers import cancel_order, order_input, place, product
from tests.support import LiveServer

SET_LIMITS = """mutation($input: SetChannelLimitsInput!) {
  setChannelLimits(input: $input) {
    limits { channel maxUnitsPerLine maxUnitsPerCustomerSku ownMaxUnitsPerLine
             ownMaxUnitsPerCustomerSku }
    userErrors { field code message }
  }
}"""

TRUSTED_PLACE = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")


async def set_limits(
    server: LiveServer,
    channel: str,
    per_line: int | None = None,
    per_customer: int | None = None,
    key: str | None = None,
) -> Any:
    return await server.gql(
        SET_LIMITS,
        {
            "input": {
                "channel": channel,
                "maxUnitsPerLine": per_line,
                "maxUnitsPerCustomerSku": per_customer,
            }
        },
        key=key,
    )


async def backorderable(server: LiveServer, sku: str) -> None:
    await product(server, sku, f'configureBackorder(input: {{sku: "{sku}", allowed: true}})')


async def written(server: LiveServer) -> tuple[Any, ...]:
    (row,) = await server.sql(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM orders), "
        "(SELECT count(*) FROM idempotency_keys), "
        "(SELECT COALESCE(sum(committed), 0) FROM inventory_pools)"
    )
    return tuple(row)


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def email() -> str:
    return f"c-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture(autouse=True)
async def default_limits(server: LiveServer) -> Any:
    """Every test starts (and leaves) the channels on the settings' defaults."""
    for channel in ("webstore", "marketplace"):
        await set_limits(server, channel)
    yield
    for channel in ("webstore", "marketplace"):
        await set_limits(server, channel)


# ---------------------------------------------------------------- per line


async def test_a_storefront_backorder_of_a_million_units_is_refused_and_changes_nothing(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-MILLION")
    storefront = await server.key_with("storefront")
    before = await written(server)
    payload = await place(
        server, [{"sku": "CL-MILLION", "quantity": 1_000_000}], api_key=storefront, email=email()
    )
    assert payload["order"] is None
    assert codes(payload) == [("LIMIT_EXCEEDED", ["input", "lines", "0", "quantity"])]
    assert "1000 units per line" in payload["userErrors"][0]["message"]
    assert await written(server) == before
    at_limit = await place(
        server, [{"sku": "CL-MILLION", "quantity": 1000}], api_key=storefront, email=email()
    )
    assert at_limit["userErrors"] == []


async def test_a_channel_key_is_bound_by_its_channels_limits_and_ops_are_not(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-WHO")
    marketplace = await server.key_with("channel:marketplace")
    refused = await place(
        server,
        [{"sku": "CL-WHO", "quantity": 1001}],
        api_key=marketplace,
        channel="marketplace",
        email=email(),
    )
    assert codes(refused) == [("LIMIT_EXCEEDED", ["input", "lines", "0", "quantity"])]
    by_ops = await place(server, [{"sku": "CL-WHO", "quantity": 1_000_000}], email=email())
    assert by_ops["userErrors"] == []
    assert by_ops["order"]["lines"][0]["quantity"] == 1_000_000


async def test_a_channels_own_per_line_limit_replaces_the_default_and_null_restores_it(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-OWN")
    storefront = await server.key_with("storefront")
    result = await set_limits(server, "webstore", per_line=3)
    assert result.data["setChannelLimits"] == {
        "limits": {
            "channel": "webstore",
            "maxUnitsPerLine": 3,
            "maxUnitsPerCustomerSku": 5000,
            "ownMaxUnitsPerLine": 3,
            "ownMaxUnitsPerCustomerSku": None,
        },
        "userErrors": [],
    }
    lines = [{"sku": "CL-OWN", "quantity": 3}, {"sku": "CL-OWN", "quantity": 4}]
    refused = await place(server, lines, api_key=storefront, email=email())
    assert codes(refused) == [("LIMIT_EXCEEDED", ["input", "lines", "1", "quantity"])]
    await set_limits(server, "webstore")
    fine = await place(server, lines, api_key=storefront, email=email())
    assert fine["userErrors"] == []


# ---------------------------------------------------------------- per customer and SKU


async def test_a_customer_may_hold_at_most_the_limit_of_a_sku_over_open_orders_on_the_channel(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-CUST")
    await backorderable(server, "CL-CUST-OTHER")
    await set_limits(server, "webstore", per_customer=5)
    storefront = await server.key_with("storefront")
    ada = email()
    first = await place(server, [{"sku": "CL-CUST", "quantity": 3}], api_key=storefront, email=ada)
    assert first["userErrors"] == []
    before = await written(server)
    key = f"cl-cust-{uuid.uuid4()}"
    second = await place(
        server,
        [{"sku": "CL-CUST-OTHER", "quantity": 5}, {"sku": "CL-CUST", "quantity": 3}],
        idem=key,
        api_key=storefront,
        email=ada,
    )
    assert codes(second) == [("LIMIT_EXCEEDED", ["input", "lines", "1", "quantity"])]
    assert "3 already" in second["userErrors"][0]["message"]
    assert await written(server) == before  # not even the idempotency key
    # the same address in another case is the same customer
    shouting = await place(
        server, [{"sku": "CL-CUST", "quantity": 3}], api_key=storefront, email=ada.upper()
    )
    assert codes(shouting) == [("LIMIT_EXCEEDED", ["input", "lines", "0", "quantity"])]
    # another customer, or the same one on another channel, has a limit of their own
    other = await place(
        server, [{"sku": "CL-CUST", "quantity": 5}], api_key=storefront, email=email()
    )
    assert other["userErrors"] == []
    elsewhere = await place(
        server,
        [{"sku": "CL-CUST", "quantity": 5}],
        api_key=await server.key_with("channel:marketplace"),
        channel="marketplace",
        email=ada,
    )
    assert elsewhere["userErrors"] == []
    # a cancelled order no longer counts: the same request, with the same key, now passes
    assert (await cancel_order(server, first["order"]["id"]))["userErrors"] == []
    again = await place(
        server,
        [{"sku": "CL-CUST-OTHER", "quantity": 5}, {"sku": "CL-CUST", "quantity": 3}],
        idem=key,
        api_key=storefront,
        email=ada,
    )
    assert again["userErrors"] == []


async def test_racing_orders_of_one_customer_never_pass_the_customer_limit(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-RACE")
    await set_limits(server, "webstore", per_customer=5)
    storefront = await server.key_with("storefront")
    ada = email()
    payloads = await asyncio.gather(
        *(
            place(server, [{"sku": "CL-RACE", "quantity": 2}], api_key=storefront, email=ada)
            for _ in range(12)
        )
    )
    placed = [p for p in payloads if p["order"] is not None]
    refused = [codes(p) for p in payloads if p["order"] is None]
    assert len(placed) == 2
    assert refused == [[("LIMIT_EXCEEDED", ["input", "lines", "0", "quantity"])]] * 10
    (row,) = await server.sql(
        "SELECT COALESCE(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id "
        "WHERE o.customer_email = $1 AND l.sku = 'CL-RACE' AND l.status <> 'CANCELLED'",
        ada,
    )
    assert row[0] == 4


async def test_the_compiled_trusted_place_order_refuses_what_the_executor_refuses(
    server: LiveServer,
) -> None:
    await backorderable(server, "CL-FAST")
    await set_limits(server, "webstore", per_line=2, per_customer=3)
    storefront = await server.key_with("storefront")
    ada = email()
    answers = []
    for lines in (
        [{"sku": "CL-FAST", "quantity": 3}],
        [{"sku": "CL-FAST", "quantity": 2}],
        [{"sku": "CL-FAST", "quantity": 2}],
    ):
        body = {
            "operationName": "PlaceOrder",
            "variables": {"input": order_input(lines, email=ada)},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(TRUSTED_PLACE)}},
        }
        response = await server.client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {storefront}"}
        )
        payload = response.json()["data"]["placeOrder"]
        answers.append([e["code"] for e in payload["userErrors"]])
    assert answers == [["LIMIT_EXCEEDED"], [], ["LIMIT_EXCEEDED"]]
    assert server.app.state.compiled.get(TRUSTED_PLACE) is not None


# ---------------------------------------------------------------- setting the limits


async def test_only_ops_set_a_channels_limits_and_each_change_is_in_the_ledger(
    server: LiveServer,
) -> None:
    for key in (await server.key_with("storefront"), await server.key_with("channel:webstore")):
        denied = await set_limits(server, "webstore", per_line=1, key=key)
        assert [e["extensions"]["code"] for e in denied.errors] == ["FORBIDDEN"]
    before = await server.sql(
        "SELECT count(*) FROM events WHERE kind = 'channel.limits_set' AND subject_id = 'pos'"
    )
    result = await set_limits(server, "pos", per_line=7, per_customer=70)
    assert result.data["setChannelLimits"]["userErrors"] == []
    (row,) = await server.sql(
        "SELECT max_units_per_line, max_units_per_customer_sku FROM channels WHERE code = 'pos'"
    )
    assert tuple(row) == (7, 70)
    await set_limits(server, "pos")
    events = await server.sql(
        "SELECT actor, payload, before FROM events WHERE kind = 'channel.limits_set' "
        "AND subject_id = 'pos' ORDER BY id"
    )
    assert len(events) == before[0][0] + 2
    last_two = [(orjson.loads(e["payload"]), orjson.loads(e["before"])) for e in events[-2:]]
    assert last_two[0][0] == {"maxUnitsPerLine": 7, "maxUnitsPerCustomerSku": 70}
    assert last_two[1] == (
        {"maxUnitsPerLine": None, "maxUnitsPerCustomerSku": None},
        {"maxUnitsPerLine": 7, "maxUnitsPerCustomerSku": 70},
    )
    assert events[-1]["actor"].endswith("tests-ops")


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"channel": "telephone"}, "UNKNOWN_CHANNEL", ["input", "channel"]),
        ({"channel": "pos\u0000"}, "UNKNOWN_CHANNEL", ["input", "channel"]),
        (
            {"channel": "pos", "maxUnitsPerLine": 0},
            "INVALID_QUANTITY",
            ["input", "maxUnitsPerLine"],
        ),
        (
            {"channel": "pos", "maxUnitsPerCustomerSku": -1},
            "INVALID_QUANTITY",
            ["input", "maxUnitsPerCustomerSku"],
        ),
        (
            {"channel": "pos", "maxUnitsPerLine": 100_000_001},
            "INVALID_QUANTITY",
            ["input", "maxUnitsPerLine"],
        ),
    ],
    ids=["unknown channel", "nul in channel", "zero", "negative", "above the unit maximum"],
)
async def test_bad_channel_limits_are_refused_and_change_nothing(
    server: LiveServer, data: dict[str, Any], code: str, field: list[str]
) -> None:
    before = await server.sql("SELECT code, max_units_per_line FROM channels ORDER BY code")
    events = await written(server)
    result = await server.gql(SET_LIMITS, {"input": data})
    assert result.data["setChannelLimits"]["limits"] is None
    assert codes(result.data["setChannelLimits"]) == [(code, field)]
    assert await server.sql("SELECT code, max_units_per_line FROM channels ORDER BY code") == before
    assert await written(server) == events
