"""Catalog and inventory over HTTP: products, pools, the PDP availability answer, admin mutations.

Every test makes its own products with unique SKUs: the database is shared by the module.
The server's clock is pinned to ``TODAY`` (store time zone UTC) before each test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, time, timedelta
from typing import Any

import pytest

from app.services.auth import create_api_key
from app.services.inventory import MAX_UNITS
from tests.support import LiveServer

TODAY = date(2030, 6, 10)
LAUNCH = date(2030, 7, 1)  # "1 July": same year as TODAY

AVAILABILITY_FIELDS = """
    sku requestedQuantity state buttonLabel message availableQuantity capRemaining
    fulfillable released channel region
    deliveryEstimate { earliest latest reason }
    paymentTerms { kind depositPercent depositAmount { amountMinor currency } }
    split { state quantity }
"""

POOL_FIELDS = "sku kind channel capacity committed available incoming"

TERMS = "paymentTerms { kind depositPercent depositAmount { amountMinor currency } }"

PRODUCT_FIELDS = f"""
    id sku name family description options tags price {{ amountMinor currency }} releaseDate
    safetyStock
    onHand
    preorder {{ enabled releaseDate cap committed message {TERMS} }}
    backorder {{ allowed cap committed message {TERMS} }}
    pools {{ {POOL_FIELDS} }}
"""

MUTATIONS = (
    "createProduct",
    "configurePreorder",
    "configureBackorder",
    "setStock",
    "adjustStock",
    "setSafetyStock",
    "allocateChannelPool",
)


# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(autouse=True)
def pinned_clock(server: LiveServer) -> Iterator[None]:
    server.clock.set_today(TODAY)
    yield
    server.clock.set_today(TODAY)


def eur(amount_minor: int) -> dict[str, Any]:
    """A MoneyInput (and the Money answered) in EUR, the default currency of a product."""
    return {"amountMinor": amount_minor, "currency": "EUR"}


def new_sku(prefix: str = "CI") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def ops_actor(server: LiveServer) -> str:
    """How the module's ops key is recorded in ledgers: ``key:<prefix>:<name>``."""
    return f"key:{server.ops_key.split('_')[1]}:tests-ops"


async def mutate(
    server: LiveServer,
    name: str,
    data: dict[str, Any],
    *,
    key: str | None = None,
    anonymous: bool = False,
    fields: str = PRODUCT_FIELDS,
) -> Any:
    """Run one admin mutation; returns the whole response (check ``.data`` or ``.errors``)."""
    input_type = name[0].upper() + name[1:] + "Input"
    query = (
        f"mutation Admin($input: {input_type}!) {{ {name}(input: $input) {{ "
        f"product {{ {fields} }} userErrors {{ field code message }} }} }}"
    )
    return await server.gql(query, {"input": data}, key=key, anonymous=anonymous)


async def payload(server: LiveServer, name: str, data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await mutate(server, name, data)).data[name]
    return result


async def ok(server: LiveServer, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A mutation that must succeed; returns the product it answers with."""
    body = await payload(server, name, data)
    assert body["userErrors"] == [], body["userErrors"]
    assert body["product"] is not None
    product: dict[str, Any] = body["product"]
    return product


async def rejected(server: LiveServer, name: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A mutation that must fail with userErrors and no product."""
    body = await payload(server, name, data)
    assert body["product"] is None
    assert body["userErrors"], "expected userErrors"
    errors: list[dict[str, Any]] = body["userErrors"]
    for error in errors:
        assert error["message"]
    return errors


async def create(server: LiveServer, prefix: str = "CI", **fields: Any) -> str:
    sku = new_sku(prefix)
    data = {"sku": sku, "name": f"Product {sku}", **fields}
    await ok(server, "createProduct", data)
    return sku


async def set_stock(server: LiveServer, sku: str, quantity: int, location: str = "main") -> None:
    await ok(server, "setStock", {"sku": sku, "location": location, "quantity": quantity})


async def released_product(server: LiveServer, stock: int = 0, **fields: Any) -> str:
    """A product released yesterday with ``stock`` units at the main warehouse."""
    sku = await create(server, releaseDate=(TODAY - timedelta(days=1)).isoformat(), **fields)
    if stock:
        await set_stock(server, sku, stock)
    return sku


async def preorder_product(
    server: LiveServer,
    release: date = LAUNCH,
    cap: int | None = None,
    message: str | None = None,
    payment: dict[str, Any] | None = None,
) -> str:
    sku = await create(server, "PRE")
    data: dict[str, Any] = {
        "sku": sku,
        "enabled": True,
        "releaseDate": release.isoformat(),
        "cap": cap,
        "message": message,
    }
    if payment is not None:
        data["paymentTerms"] = payment
    await ok(server, "configurePreorder", data)
    return sku


async def allow_backorder(
    server: LiveServer,
    sku: str,
    cap: int | None = None,
    message: str | None = None,
    payment: dict[str, Any] | None = None,
) -> None:
    data: dict[str, Any] = {"sku": sku, "allowed": True, "cap": cap, "message": message}
    if payment is not None:
        data["paymentTerms"] = payment
    await ok(server, "configureBackorder", data)


async def availability_response(
    server: LiveServer,
    sku: str,
    quantity: int = 1,
    channel: str | None = None,
    region: str | None = None,
) -> Any:
    """The whole PDP response: a bad argument is the field's error (``.errors``)."""
    return await server.gql(
        "query PDP($sku: String!, $q: Int!, $channel: String, $region: String) { "
        "productAvailability(sku: $sku, quantity: $q, channel: $channel, region: $region) { "
        f"{AVAILABILITY_FIELDS} }} }}",
        {"sku": sku, "q": quantity, "channel": channel, "region": region},
        anonymous=True,
    )


async def availability(
    server: LiveServer,
    sku: str,
    quantity: int = 1,
    channel: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    result = await availability_response(server, sku, quantity, channel, region)
    answer: dict[str, Any] = result.data["productAvailability"]
    return answer


async def product(server: LiveServer, sku: str) -> dict[str, Any] | None:
    result = await server.gql(
        f"query One($sku: String!) {{ product(sku: $sku) {{ {PRODUCT_FIELDS} }} }}", {"sku": sku}
    )
    found: dict[str, Any] | None = result.data["product"]
    return found


async def pools_of(
    server: LiveServer, sku: str | None, kind: str | None = None
) -> list[dict[str, Any]]:
    result = await server.gql(
        "query Pools($sku: String, $kind: PoolKind) { pools(sku: $sku, kind: $kind, first: 100) "
        f"{{ nodes {{ {POOL_FIELDS} }} }} }}",
        {"sku": sku, "kind": kind},
    )
    nodes: list[dict[str, Any]] = result.data["pools"]["nodes"]
    return nodes


def pool(pools: list[dict[str, Any]], kind: str, channel: str | None = None) -> dict[str, Any]:
    (found,) = [p for p in pools if p["kind"] == kind and p["channel"] == channel]
    return found


async def set_committed(server: LiveServer, sku: str, kind: str, committed: int) -> None:
    """Orders do not exist yet: commit units on a pool directly."""
    await server.sql(
        "UPDATE inventory_pools SET committed = $2 WHERE kind = $3 AND product_id = "
        "(SELECT id FROM products WHERE sku = $1)",
        sku,
        committed,
        kind,
    )


async def movements(server: LiveServer, sku: str) -> list[dict[str, Any]]:
    rows = await server.sql(
        "SELECT payload->>'location' AS location_code, (payload->>'delta')::int AS delta, "
        "(payload->>'onHandAfter')::int AS on_hand_after, payload->>'reason' AS reason, "
        "payload->>'note' AS note, actor FROM events "
        "WHERE kind = 'stock.moved' AND subject = 'SKU' AND subject_id = $1 ORDER BY id",
        sku,
    )
    return [dict(r) for r in rows]


async def audits(server: LiveServer, sku: str) -> list[dict[str, Any]]:
    rows = await server.sql(
        "SELECT kind AS action, actor, before, payload AS after FROM events "
        "WHERE subject = 'SKU' AND subject_id = $1 AND kind <> 'stock.moved' ORDER BY id",
        sku,
    )
    return [
        {
            "action": r["action"],
            "actor": r["actor"],
            "before": json.loads(r["before"]) if r["before"] is not None else None,
            "after": json.loads(r["after"]) if r["after"] is not None else None,
        }
        for r in rows
    ]


async def world(server: LiveServer, sku: str) -> dict[str, Any]:
    """Everything a rejected mutation must leave alone, as seen by the API and the tables."""
    counts = await server.sql(
        "SELECT (SELECT count(*) FROM events) AS events, "
        "(SELECT count(*) FROM products) AS products, "
        "(SELECT count(*) FROM inventory_pools) AS pools, "
        "(SELECT count(*) FROM stock_levels) AS levels"
    )
    raw_pools = await server.sql(
        "SELECT ip.kind, ip.channel_code, ip.capacity, ip.committed, ip.share_percent, "
        "ip.fixed_quantity FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
        "WHERE p.sku = $1 ORDER BY ip.id",
        sku,
    )
    raw_product = await server.sql(
        "SELECT sku, name, release_date, safety_stock, preorder_enabled, preorder_message, "
        "preorder_payment, preorder_deposit_percent, preorder_deposit_minor, backorder_allowed, "
        "backorder_message, backorder_payment, backorder_deposit_percent, "
        "backorder_deposit_minor FROM products WHERE sku = $1",
        sku,
    )
    levels = await server.sql(
        "SELECT s.location_code, s.on_hand FROM stock_levels s JOIN products p "
        "ON p.id = s.product_id WHERE p.sku = $1 ORDER BY s.location_code",
        sku,
    )
    return {
        "api": await product(server, sku),
        # the whole response: for a SKU that does not exist, its NOT_FOUND error
        "availability": (await availability_response(server, sku, 1)).body,
        "counts": dict(counts[0]),
        "pools": [dict(r) for r in raw_pools],
        "product": [dict(r) for r in raw_product],
        "levels": [dict(r) for r in levels],
    }


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["code"] for e in errors]


def window(answer: dict[str, Any]) -> tuple[str | None, str | None]:
    estimate = answer["deliveryEstimate"]
    return estimate["earliest"], estimate["latest"]


def days(n: int, start: date = TODAY) -> str:
    return (start + timedelta(days=n)).isoformat()


# ---------------------------------------------------------------------------------------------
# productAvailability: IN_STOCK


async def test_a_released_product_with_stock_is_in_stock_with_add_to_cart(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=10)
    answer = await availability(server, sku, 3)
    assert answer == {
        "sku": sku,
        "requestedQuantity": 3,
        "state": "IN_STOCK",
        "buttonLabel": "Add to cart",
        "message": "In stock",
        "availableQuantity": 10,
        "capRemaining": None,
        "fulfillable": True,
        "released": True,
        "channel": None,
        "region": "EU",
        # today + 1 handling day + EU transit 2-4 days
        "deliveryEstimate": {"earliest": days(3), "latest": days(5), "reason": None},
        "paymentTerms": {"kind": "FULL", "depositPercent": None, "depositAmount": None},
        "split": [{"state": "IN_STOCK", "quantity": 3}],
    }


@pytest.mark.parametrize(
    ("region", "earliest", "latest"),
    [("EU", 3, 5), ("UK", 4, 7), ("US", 6, 10)],
)
async def test_in_stock_delivery_is_today_plus_one_handling_day_plus_the_regions_transit(
    server: LiveServer, region: str, earliest: int, latest: int
) -> None:
    sku = await released_product(server, stock=5)
    answer = await availability(server, sku, 1, region=region)
    assert answer["state"] == "IN_STOCK"
    assert answer["region"] == region
    assert window(answer) == (days(earliest), days(latest))


async def test_a_product_without_a_release_date_and_no_preorder_is_released(
    server: LiveServer,
) -> None:
    sku = await create(server)
    await set_stock(server, sku, 2)
    answer = await availability(server, sku, 2)
    assert answer["state"] == "IN_STOCK"
    assert answer["released"] is True


async def test_stock_at_every_location_counts_towards_ready_stock(server: LiveServer) -> None:
    sku = await released_product(server, stock=2)
    await set_stock(server, sku, 3, location="store-1")
    answer = await availability(server, sku, 5)
    assert answer["state"] == "IN_STOCK"
    assert answer["availableQuantity"] == 5
    found = await product(server, sku)
    assert found is not None
    assert found["onHand"] == 5


# ---------------------------------------------------------------------------------------------
# productAvailability: PRE_ORDER


async def test_an_unreleased_preorder_renders_its_message_and_ships_from_the_release_date(
    server: LiveServer,
) -> None:
    sku = await preorder_product(
        server,
        cap=50,
        message="Ships from {date}",
        payment={"kind": "DEPOSIT", "depositPercent": 20},
    )
    await set_committed(server, sku, "PRE_ORDER", 8)
    answer = await availability(server, sku, 2)
    assert answer == {
        "sku": sku,
        "requestedQuantity": 2,
        "state": "PRE_ORDER",
        "buttonLabel": "Pre-order",
        "message": "Ships from 1 July",
        "availableQuantity": 42,
        "capRemaining": 42,
        "fulfillable": True,
        "released": False,
        "channel": None,
        "region": "EU",
        # no supply booked yet: release date + 1 handling day + EU transit 2-4 days
        "deliveryEstimate": {
            "earliest": days(3, LAUNCH),
            "latest": days(5, LAUNCH),
            "reason": "No supply is booked yet; the window follows the launch date.",
        },
        "paymentTerms": {"kind": "DEPOSIT", "depositPercent": 20.0, "depositAmount": None},
        "split": [{"state": "PRE_ORDER", "quantity": 2}],
    }


async def test_a_preorder_message_names_the_year_when_the_launch_is_not_this_year(
    server: LiveServer,
) -> None:
    sku = await preorder_product(server, release=date(2031, 1, 15), message="Ships from {date}")
    answer = await availability(server, sku)
    assert answer["message"] == "Ships from 15 January 2031"


async def test_a_preorder_without_a_message_uses_the_default_one(server: LiveServer) -> None:
    sku = await preorder_product(server)
    answer = await availability(server, sku)
    assert answer["message"] == "Pre-order: ships from 1 July"


async def test_an_uncapped_preorder_has_no_cap_and_unlimited_quantity(server: LiveServer) -> None:
    sku = await preorder_product(server, cap=None)
    answer = await availability(server, sku, 1000)
    assert answer["state"] == "PRE_ORDER"
    assert answer["capRemaining"] is None
    assert answer["availableQuantity"] is None
    assert answer["split"] == [{"state": "PRE_ORDER", "quantity": 1000}]


async def test_preorder_deposit_may_be_a_fixed_amount(server: LiveServer) -> None:
    sku = await preorder_product(server, payment={"kind": "DEPOSIT", "depositAmount": eur(5000)})
    answer = await availability(server, sku)
    assert answer["paymentTerms"] == {
        "kind": "DEPOSIT",
        "depositPercent": None,
        "depositAmount": eur(5000),
    }


async def test_preorder_payment_may_be_an_authorization(server: LiveServer) -> None:
    sku = await preorder_product(server, payment={"kind": "AUTHORIZE"})
    answer = await availability(server, sku)
    assert answer["paymentTerms"]["kind"] == "AUTHORIZE"


async def test_a_preorder_without_a_launch_date_ships_soon_with_no_estimate(
    server: LiveServer,
) -> None:
    sku = await create(server, "PRE")
    await ok(
        server,
        "configurePreorder",
        {"sku": sku, "enabled": True, "message": "Ships from {date}"},
    )
    answer = await availability(server, sku)
    assert answer["state"] == "PRE_ORDER"
    assert answer["released"] is False
    assert answer["message"] == "Ships soon"
    assert answer["deliveryEstimate"] == {
        "earliest": None,
        "latest": None,
        "reason": "The release date has not been announced yet.",
    }


async def test_stock_received_before_launch_is_not_sold_as_ready(server: LiveServer) -> None:
    sku = await preorder_product(server, cap=5)
    await set_stock(server, sku, 100)
    answer = await availability(server, sku, 6)
    assert answer["state"] == "SOLD_OUT"
    assert answer["fulfillable"] is False
    assert answer["split"] == [{"state": "PRE_ORDER", "quantity": 5}]
    assert answer["availableQuantity"] == 5
    ready = pool(await pools_of(server, sku), "READY")
    assert ready["capacity"] == 0
    assert ready["available"] == 0


async def test_a_preorder_beyond_its_cap_spills_into_backorder_when_allowed(
    server: LiveServer,
) -> None:
    sku = await preorder_product(server, cap=3)
    await allow_backorder(server, sku, cap=10)
    answer = await availability(server, sku, 5)
    assert answer["state"] == "BACKORDER"
    assert answer["buttonLabel"] == "Backorder"
    assert answer["fulfillable"] is True
    assert answer["split"] == [
        {"state": "PRE_ORDER", "quantity": 3},
        {"state": "BACKORDER", "quantity": 2},
    ]
    assert answer["capRemaining"] == 10
    assert answer["availableQuantity"] == 13


async def test_a_full_preorder_cap_is_sold_out(server: LiveServer) -> None:
    sku = await preorder_product(server, cap=4)
    await set_committed(server, sku, "PRE_ORDER", 4)
    answer = await availability(server, sku)
    assert answer["state"] == "SOLD_OUT"
    assert answer["buttonLabel"] == "Sold out"
    assert answer["split"] == []
    assert answer["capRemaining"] == 0
    assert answer["availableQuantity"] == 0


# ---------------------------------------------------------------------------------------------
# productAvailability: release day


async def test_a_release_date_equal_to_today_counts_as_released(server: LiveServer) -> None:
    sku = await preorder_product(server, release=LAUNCH, cap=10)
    await set_stock(server, sku, 4)

    server.clock.set_today(LAUNCH - timedelta(days=1), time(23, 59, 59))
    before = await availability(server, sku, 2)
    assert before["state"] == "PRE_ORDER"
    assert before["released"] is False

    server.clock.set_today(LAUNCH, time(0, 0, 0))
    on_the_day = await availability(server, sku, 2)
    assert on_the_day["state"] == "IN_STOCK"
    assert on_the_day["released"] is True
    assert on_the_day["buttonLabel"] == "Add to cart"
    assert window(on_the_day) == (days(3, LAUNCH), days(5, LAUNCH))

    server.clock.set_today(LAUNCH, time(23, 59, 59))
    assert (await availability(server, sku, 2))["state"] == "IN_STOCK"


async def test_a_launched_preorder_with_no_stock_is_sold_out_not_preorder(
    server: LiveServer,
) -> None:
    sku = await preorder_product(server, release=TODAY, cap=10)
    answer = await availability(server, sku)
    assert answer["released"] is True
    assert answer["state"] == "SOLD_OUT"


async def test_ready_pools_open_on_release_day(server: LiveServer) -> None:
    sku = await preorder_product(server, release=LAUNCH)
    await set_stock(server, sku, 6)
    assert pool(await pools_of(server, sku), "READY")["capacity"] == 0
    server.clock.set_today(LAUNCH)
    ready = pool(await pools_of(server, sku), "READY")
    assert ready["capacity"] == 6
    assert ready["available"] == 6


async def test_an_unreleased_product_without_preorder_is_sold_out_until_its_date(
    server: LiveServer,
) -> None:
    sku = await create(server, releaseDate=LAUNCH.isoformat())
    await set_stock(server, sku, 10)
    answer = await availability(server, sku)
    assert answer["state"] == "SOLD_OUT"
    assert answer["released"] is False
    assert answer["message"] == "Available from 1 July"
    assert answer["split"] == []
    server.clock.set_today(LAUNCH)
    assert (await availability(server, sku))["state"] == "IN_STOCK"


# ---------------------------------------------------------------------------------------------
# productAvailability: BACKORDER and SOLD_OUT


async def test_a_request_larger_than_stock_splits_into_in_stock_and_backorder(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=2)
    await allow_backorder(
        server,
        sku,
        cap=10,
        message="Back in stock soon",
        payment={"kind": "DEPOSIT", "depositPercent": 30},
    )
    await set_committed(server, sku, "BACKORDER", 4)
    answer = await availability(server, sku, 5)
    assert answer == {
        "sku": sku,
        "requestedQuantity": 5,
        "state": "BACKORDER",
        "buttonLabel": "Backorder",
        "message": "Back in stock soon",
        "availableQuantity": 8,
        "capRemaining": 6,
        "fulfillable": True,
        "released": True,
        "channel": None,
        "region": "EU",
        "deliveryEstimate": {
            "earliest": None,
            "latest": None,
            "reason": "No inbound supply is scheduled for this product yet.",
        },
        "paymentTerms": {"kind": "DEPOSIT", "depositPercent": 30.0, "depositAmount": None},
        "split": [{"state": "IN_STOCK", "quantity": 2}, {"state": "BACKORDER", "quantity": 3}],
    }


async def test_an_out_of_stock_backorder_uses_the_default_message(server: LiveServer) -> None:
    sku = await released_product(server)
    await allow_backorder(server, sku)
    answer = await availability(server, sku, 4)
    assert answer["state"] == "BACKORDER"
    assert answer["message"] == "Backorder: ships when back in stock"
    assert answer["split"] == [{"state": "BACKORDER", "quantity": 4}]
    assert answer["capRemaining"] is None
    assert answer["availableQuantity"] is None
    assert answer["paymentTerms"]["kind"] == "FULL"


async def test_a_request_beyond_the_backorder_cap_is_sold_out_but_says_what_is_possible(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=1)
    await allow_backorder(server, sku, cap=3)
    await set_committed(server, sku, "BACKORDER", 1)
    answer = await availability(server, sku, 5)
    assert answer["state"] == "SOLD_OUT"
    assert answer["fulfillable"] is False
    assert answer["capRemaining"] == 0
    assert answer["availableQuantity"] == 3
    assert answer["split"] == [
        {"state": "IN_STOCK", "quantity": 1},
        {"state": "BACKORDER", "quantity": 2},
    ]
    assert (await availability(server, sku, 3))["state"] == "BACKORDER"


async def test_a_released_product_without_stock_or_backorder_is_sold_out(
    server: LiveServer,
) -> None:
    sku = await released_product(server)
    answer = await availability(server, sku, 1)
    assert answer == {
        "sku": sku,
        "requestedQuantity": 1,
        "state": "SOLD_OUT",
        "buttonLabel": "Sold out",
        "message": "Sold out",
        "availableQuantity": 0,
        "capRemaining": 0,
        "fulfillable": False,
        "released": True,
        "channel": None,
        "region": "EU",
        "deliveryEstimate": {"earliest": None, "latest": None, "reason": "Sold out."},
        "paymentTerms": None,
        "split": [],
    }


async def test_a_request_larger_than_stock_without_backorder_is_sold_out_with_a_partial_split(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=2)
    answer = await availability(server, sku, 5)
    assert answer["state"] == "SOLD_OUT"
    assert answer["fulfillable"] is False
    assert answer["availableQuantity"] == 2
    assert answer["split"] == [{"state": "IN_STOCK", "quantity": 2}]


async def test_disallowing_backorders_turns_an_out_of_stock_product_sold_out(
    server: LiveServer,
) -> None:
    sku = await released_product(server)
    await allow_backorder(server, sku)
    assert (await availability(server, sku))["state"] == "BACKORDER"
    await ok(server, "configureBackorder", {"sku": sku, "allowed": False})
    assert (await availability(server, sku))["state"] == "SOLD_OUT"


# ---------------------------------------------------------------------------------------------
# productAvailability: safety stock and channel holds


async def test_safety_stock_is_never_sold(server: LiveServer) -> None:
    sku = await released_product(server, stock=5, safetyStock=2)
    assert (await availability(server, sku, 3))["state"] == "IN_STOCK"
    answer = await availability(server, sku, 4)
    assert answer["state"] == "SOLD_OUT"
    assert answer["availableQuantity"] == 3
    assert answer["split"] == [{"state": "IN_STOCK", "quantity": 3}]
    assert pool(await pools_of(server, sku), "READY")["capacity"] == 3


async def test_safety_stock_covering_all_stock_leaves_nothing_to_sell(server: LiveServer) -> None:
    sku = await released_product(server, stock=4)
    await ok(server, "setSafetyStock", {"sku": sku, "quantity": 4})
    answer = await availability(server, sku)
    assert answer["state"] == "SOLD_OUT"
    assert answer["availableQuantity"] == 0


async def test_units_already_sold_from_ready_stock_are_not_offered_again(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await set_committed(server, sku, "READY", 2)
    answer = await availability(server, sku, 4)
    assert answer["state"] == "SOLD_OUT"
    assert answer["availableQuantity"] == 3
    assert answer["split"] == [{"state": "IN_STOCK", "quantity": 3}]
    ready = pool(await pools_of(server, sku), "READY")
    assert (ready["capacity"], ready["committed"], ready["available"]) == (5, 2, 3)


async def test_units_ring_fenced_for_waiting_orders_are_never_sold_again(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await set_committed(server, sku, "RESERVED", 2)
    answer = await availability(server, sku, 4)
    assert answer["state"] == "SOLD_OUT"
    assert answer["availableQuantity"] == 3
    reserved = pool(await pools_of(server, sku), "RESERVED")
    assert (reserved["capacity"], reserved["committed"]) == (None, 2)
    assert pool(await pools_of(server, sku), "READY")["capacity"] == 3


async def test_units_held_for_the_marketplace_cannot_be_bought_on_the_webstore(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    held = await ok(
        server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3}
    )
    assert pool(held["pools"], "CHANNEL", "marketplace")["capacity"] == 3
    assert pool(held["pools"], "READY")["capacity"] == 2

    webstore = await availability(server, sku, 3, channel="webstore")
    assert webstore["state"] == "SOLD_OUT"
    assert webstore["channel"] == "webstore"
    assert webstore["availableQuantity"] == 2
    assert webstore["split"] == [{"state": "IN_STOCK", "quantity": 2}]
    assert (await availability(server, sku, 2, channel="webstore"))["state"] == "IN_STOCK"

    marketplace = await availability(server, sku, 5, channel="marketplace")
    assert marketplace["state"] == "IN_STOCK"
    assert marketplace["availableQuantity"] == 5
    assert marketplace["channel"] == "marketplace"

    no_channel = await availability(server, sku, 3)
    assert no_channel["state"] == "SOLD_OUT"
    assert no_channel["availableQuantity"] == 2


async def test_a_channel_whose_hold_is_sold_keeps_selling_from_the_shared_part(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    await set_committed(server, sku, "CHANNEL", 3)
    marketplace = await availability(server, sku, 2, channel="marketplace")
    assert marketplace["state"] == "IN_STOCK"
    assert marketplace["availableQuantity"] == 2
    assert (await availability(server, sku, 3, channel="marketplace"))["state"] == "SOLD_OUT"
    channel_pool = pool(await pools_of(server, sku), "CHANNEL", "marketplace")
    assert channel_pool["committed"] == 3
    assert channel_pool["available"] == 0


async def test_a_channel_with_its_pool_exhausted_is_sold_out_while_another_channel_has_stock(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "webstore", "quantity": 2})
    await server.sql(
        "UPDATE inventory_pools SET committed = 3 WHERE kind = 'CHANNEL' "
        "AND channel_code = 'marketplace' "
        "AND product_id = (SELECT id FROM products WHERE sku = $1)",
        sku,
    )
    marketplace = await availability(server, sku, 1, channel="marketplace")
    assert marketplace["state"] == "SOLD_OUT"
    assert marketplace["availableQuantity"] == 0
    webstore = await availability(server, sku, 2, channel="webstore")
    assert webstore["state"] == "IN_STOCK"
    assert webstore["availableQuantity"] == 2
    pos = await availability(server, sku, 1, channel="pos")
    assert pos["state"] == "SOLD_OUT"


async def test_a_channel_with_its_pool_exhausted_backorders_when_allowed(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=4)
    await allow_backorder(server, sku)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "b2b", "quantity": 4})
    answer = await availability(server, sku, 2, channel="pos")
    assert answer["state"] == "BACKORDER"
    assert answer["split"] == [{"state": "BACKORDER", "quantity": 2}]
    assert (await availability(server, sku, 4, channel="b2b"))["state"] == "IN_STOCK"


async def test_a_share_hold_follows_stock_levels(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    held = await ok(
        server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "sharePercent": 50}
    )
    assert pool(held["pools"], "CHANNEL", "marketplace")["capacity"] == 5
    await set_stock(server, sku, 20)
    pools = await pools_of(server, sku)
    assert pool(pools, "CHANNEL", "marketplace")["capacity"] == 10
    assert pool(pools, "READY")["capacity"] == 10
    await set_stock(server, sku, 7)
    pools = await pools_of(server, sku)
    assert pool(pools, "CHANNEL", "marketplace")["capacity"] == 3  # floor(7 * 50%)
    assert pool(pools, "READY")["capacity"] == 4
    await ok(server, "setSafetyStock", {"sku": sku, "quantity": 3})
    pools = await pools_of(server, sku)
    assert pool(pools, "CHANNEL", "marketplace")["capacity"] == 2  # floor((7 - 3) * 50%)
    assert pool(pools, "READY")["capacity"] == 2


async def test_holds_are_clamped_in_creation_order_when_stock_shrinks_and_come_back(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "webstore", "quantity": 2})
    await set_stock(server, sku, 3)
    pools = await pools_of(server, sku)
    assert pool(pools, "CHANNEL", "marketplace")["capacity"] == 3
    assert pool(pools, "CHANNEL", "webstore")["capacity"] == 0
    assert pool(pools, "READY")["capacity"] == 0
    assert (await availability(server, sku, 1, channel="webstore"))["state"] == "SOLD_OUT"
    assert (await availability(server, sku, 3, channel="marketplace"))["state"] == "IN_STOCK"

    await set_stock(server, sku, 10)
    pools = await pools_of(server, sku)
    assert pool(pools, "CHANNEL", "marketplace")["capacity"] == 3
    assert pool(pools, "CHANNEL", "webstore")["capacity"] == 2
    assert pool(pools, "READY")["capacity"] == 5


async def test_a_hold_of_zero_releases_the_units_to_every_channel(server: LiveServer) -> None:
    sku = await released_product(server, stock=4)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 4})
    assert (await availability(server, sku, 1, channel="webstore"))["state"] == "SOLD_OUT"
    released = await ok(
        server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 0}
    )
    assert pool(released["pools"], "CHANNEL", "marketplace")["capacity"] == 0
    assert pool(released["pools"], "READY")["capacity"] == 4
    assert (await availability(server, sku, 4, channel="webstore"))["state"] == "IN_STOCK"


async def test_a_hold_can_grow_into_the_free_shared_stock(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    grown = await ok(
        server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 5}
    )
    assert pool(grown["pools"], "CHANNEL", "marketplace")["capacity"] == 5
    assert pool(grown["pools"], "READY")["capacity"] == 0
    channel_pools = [p for p in grown["pools"] if p["kind"] == "CHANNEL"]
    assert len(channel_pools) == 1


# ---------------------------------------------------------------------------------------------
# productAvailability: bad input


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"sku": "NO-SUCH-SKU-X1", "quantity": 1}, "NOT_FOUND", ["sku"]),
        ({"quantity": 0}, "INVALID_QUANTITY", ["quantity"]),
        ({"quantity": -3}, "INVALID_QUANTITY", ["quantity"]),
        ({"quantity": MAX_UNITS + 1}, "INVALID_QUANTITY", ["quantity"]),
        ({"quantity": 2_147_483_647}, "INVALID_QUANTITY", ["quantity"]),
        ({"quantity": 1, "region": "MARS"}, "UNKNOWN_REGION", ["region"]),
        ({"quantity": 1, "channel": "telepathy"}, "UNKNOWN_CHANNEL", ["channel"]),
    ],
    ids=[
        "unknown sku",
        "zero quantity",
        "negative quantity",
        "quantity above the unit limit",
        "quantity at the top of the int range",
        "unknown region",
        "unknown channel",
    ],
)
async def test_product_availability_rejects_bad_input_with_a_field_error(
    server: LiveServer, args: dict[str, Any], code: str, field: list[str]
) -> None:
    sku = await released_product(server, stock=5)
    call = {"sku": sku, **args}
    result = await availability_response(
        server, call["sku"], call["quantity"], call.get("channel"), call.get("region")
    )
    # no answer to a bad request: the field is null and the error says which argument
    assert result.body["data"] == {"productAvailability": None}
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in result.errors] == [
        (code, field)
    ]
    assert result.errors[0]["message"]
    assert result.errors[0]["path"] == ["productAvailability"]


async def test_product_availability_on_a_product_rejects_an_unknown_channel(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    result = await server.gql(
        'query($sku: String!) { product(sku: $sku) { availability(channel: "nope") { state } } }',
        {"sku": sku},
        anonymous=True,
    )
    # the product is still answered; only its availability is null, with the field's error
    assert result.body["data"] == {"product": {"availability": None}}
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in result.errors] == [
        ("UNKNOWN_CHANNEL", ["channel"])
    ]
    assert result.errors[0]["path"] == ["product", "availability"]


# ---------------------------------------------------------------------------------------------
# product and products


async def test_product_returns_the_whole_product_with_availability_and_pools(
    server: LiveServer,
) -> None:
    sku = new_sku("FULL")
    await ok(
        server,
        "createProduct",
        {
            "sku": sku,
            "name": "Full product",
            "family": "Full family",
            "description": "Everything set",
            "tags": ["summer", " sale ", "summer"],
            "options": {"size": "M", "colour": "black"},
            "price": {"amountMinor": 2599, "currency": "USD"},
            "releaseDate": (TODAY - timedelta(days=3)).isoformat(),
            "safetyStock": 1,
        },
    )
    await set_stock(server, sku, 6)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 2})
    result = await server.gql(
        f"""query($sku: String!) {{ product(sku: $sku) {{ {PRODUCT_FIELDS}
              webstore: availability(quantity: 4, channel: "webstore") {{
                state split {{ state quantity }} }}
              marketplace: availability(quantity: 4, channel: "marketplace") {{ state }}
              channelPools: pools(kind: CHANNEL) {{ channel capacity }} }} }}""",
        {"sku": sku},
    )
    found = result.data["product"]
    assert found["sku"] == sku
    assert found["id"]
    assert found["name"] == "Full product"
    assert found["family"] == "Full family"
    assert found["description"] == "Everything set"
    assert found["tags"] == ["sale", "summer"]
    assert found["options"] == {"size": "M", "colour": "black"}
    assert found["price"] == {"amountMinor": 2599, "currency": "USD"}
    assert found["releaseDate"] == (TODAY - timedelta(days=3)).isoformat()
    assert found["safetyStock"] == 1
    assert found["onHand"] == 6
    assert found["preorder"]["enabled"] is False
    assert found["backorder"]["allowed"] is False
    assert [(p["kind"], p["channel"]) for p in found["pools"]] == [
        ("READY", None),
        ("PRE_ORDER", None),
        ("BACKORDER", None),
        ("RESERVED", None),
        ("CHANNEL", "marketplace"),
    ]
    assert pool(found["pools"], "READY", None)["capacity"] == 3  # 6 - 1 safety - 2 held
    assert found["webstore"] == {
        "state": "SOLD_OUT",
        "split": [{"state": "IN_STOCK", "quantity": 3}],
    }
    assert found["marketplace"] == {"state": "IN_STOCK"}
    assert found["channelPools"] == [{"channel": "marketplace", "capacity": 2}]


async def test_product_is_null_for_an_unknown_sku(server: LiveServer) -> None:
    assert await product(server, "NO-SUCH-SKU-X2") is None


async def test_products_walks_pages_with_cursors(server: LiveServer) -> None:
    tag = f"page-{uuid.uuid4().hex[:8]}"
    skus = sorted([await create(server, "PG", tags=[tag]) for _ in range(5)])
    query = """query($after: String, $tag: String!) {
        products(first: 2, after: $after, filter: {tags: [$tag]}) {
          edges { cursor node { sku availability { state } pools { kind } } }
          nodes { sku }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = (await server.gql(query, {"after": after, "tag": tag})).data["products"]
        pages.append(page)
        seen.extend(e["node"]["sku"] for e in page["edges"])
        assert [n["sku"] for n in page["nodes"]] == [e["node"]["sku"] for e in page["edges"]]
        info = page["pageInfo"]
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == skus
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert all(e["node"]["availability"]["state"] == "SOLD_OUT" for p in pages for e in p["edges"])
    assert all(len(e["node"]["pools"]) == 4 for p in pages for e in p["edges"])

    beyond = (
        await server.gql(query, {"after": pages[-1]["pageInfo"]["endCursor"], "tag": tag})
    ).data["products"]
    assert beyond["edges"] == []
    assert beyond["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


async def test_products_filter_by_tags_needs_every_tag(server: LiveServer) -> None:
    tag = f"t-{uuid.uuid4().hex[:8]}"
    both = await create(server, tags=[tag, "extra"])
    only = await create(server, tags=[tag])
    await create(server, tags=["unrelated"])
    query = "query($tags: [String!]) { products(filter: {tags: $tags}) { nodes { sku } } }"
    one_tag = (await server.gql(query, {"tags": [tag]})).data["products"]["nodes"]
    assert sorted(n["sku"] for n in one_tag) == sorted([both, only])
    two_tags = (await server.gql(query, {"tags": [tag, "extra"]})).data["products"]["nodes"]
    assert [n["sku"] for n in two_tags] == [both]


async def test_products_search_matches_sku_or_name_case_insensitively(server: LiveServer) -> None:
    token = uuid.uuid4().hex[:8]
    by_name = new_sku("SRCH")
    await ok(server, "createProduct", {"sku": by_name, "name": f"Lamp {token.upper()} deluxe"})
    by_sku = new_sku(f"S{token}")
    await ok(server, "createProduct", {"sku": by_sku, "name": "Unrelated name"})
    query = "query($s: String) { products(first: 100, filter: {search: $s}) { nodes { sku } } }"
    found = (await server.gql(query, {"s": token.lower()})).data["products"]
    assert sorted(n["sku"] for n in found["nodes"]) == sorted([by_name, by_sku])


async def test_products_filter_by_family(server: LiveServer) -> None:
    family = f"Family {uuid.uuid4().hex[:8]}"
    member = await create(server, family=family)
    await create(server, family="Other family")
    query = "query($f: String) { products(filter: {family: $f}) { nodes { sku family } } }"
    nodes = (await server.gql(query, {"f": family})).data["products"]["nodes"]
    assert nodes == [{"sku": member, "family": family}]


async def test_products_search_treats_percent_and_underscore_literally(server: LiveServer) -> None:
    token = uuid.uuid4().hex[:8]
    percent = new_sku("PCT")
    await ok(server, "createProduct", {"sku": percent, "name": f"100% wool {token}"})
    await ok(server, "createProduct", {"sku": new_sku("PCT"), "name": f"1000 wool {token}"})
    underscore = new_sku("USC")
    await ok(server, "createProduct", {"sku": underscore, "name": f"A_B {token}"})
    await ok(server, "createProduct", {"sku": new_sku("USC"), "name": f"AXB {token}"})
    query = "query($s: String) { products(first: 100, filter: {search: $s}) { nodes { sku } } }"
    found = (await server.gql(query, {"s": f"100% wool {token}"})).data["products"]["nodes"]
    assert [n["sku"] for n in found] == [percent]
    found = (await server.gql(query, {"s": f"A_B {token}"})).data["products"]["nodes"]
    assert [n["sku"] for n in found] == [underscore]


async def test_products_search_treats_a_backslash_literally(server: LiveServer) -> None:
    token = uuid.uuid4().hex[:8]
    backslash = new_sku("BSL")
    await ok(server, "createProduct", {"sku": backslash, "name": f"C\\%D {token}"})
    await ok(server, "createProduct", {"sku": new_sku("BSL"), "name": f"C%D {token}"})
    await ok(server, "createProduct", {"sku": new_sku("BSL"), "name": f"C\\xD {token}"})
    query = "query($s: String) { products(first: 100, filter: {search: $s}) { nodes { sku } } }"
    found = (await server.gql(query, {"s": f"C\\%D {token}"})).data["products"]["nodes"]
    assert [n["sku"] for n in found] == [backslash]


async def test_products_give_each_node_its_channel_availability_and_pools(
    server: LiveServer,
) -> None:
    tag = f"ch-{uuid.uuid4().hex[:8]}"
    held = await released_product(server, stock=3, tags=[tag])
    await ok(server, "allocateChannelPool", {"sku": held, "channel": "marketplace", "quantity": 3})
    open_sku = await released_product(server, stock=3, tags=[tag])
    result = await server.gql(
        """query($tag: String!) { products(filter: {tags: [$tag]}) { nodes { sku
             web: availability(channel: "webstore") { state channel }
             market: availability(channel: "marketplace") { state }
             pools(kind: CHANNEL) { channel capacity } } } }""",
        {"tag": tag},
    )
    nodes = {n["sku"]: n for n in result.data["products"]["nodes"]}
    assert nodes[held]["web"] == {"state": "SOLD_OUT", "channel": "webstore"}
    assert nodes[held]["market"] == {"state": "IN_STOCK"}
    assert nodes[held]["pools"] == [{"channel": "marketplace", "capacity": 3}]
    assert nodes[open_sku]["web"] == {"state": "IN_STOCK", "channel": "webstore"}
    assert nodes[open_sku]["pools"] == []


async def test_products_refuses_an_invalid_cursor_or_page_size(server: LiveServer) -> None:
    bad_cursor = await server.gql('{ products(after: "not a cursor") { nodes { sku } } }')
    assert bad_cursor.errors[0]["message"] == "Invalid cursor."
    assert bad_cursor.errors[0]["extensions"] == {"code": "INVALID_CURSOR"}
    too_big = await server.gql("{ products(first: 101) { nodes { sku } } }")
    assert too_big.errors[0]["message"] == "`first` must be between 0 and 100."
    assert too_big.errors[0]["extensions"] == {"code": "INVALID_PAGE_SIZE"}
    negative = await server.gql("{ products(first: -1) { nodes { sku } } }")
    assert negative.errors[0]["message"] == "`first` must be between 0 and 100."
    assert negative.errors[0]["extensions"] == {"code": "INVALID_PAGE_SIZE"}


# ---------------------------------------------------------------------------------------------
# pools


async def test_pools_lists_every_kind_of_a_sku_with_its_counters(server: LiveServer) -> None:
    sku = await released_product(server, stock=8, safetyStock=1)
    await allow_backorder(server, sku, cap=6)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 2})
    await set_committed(server, sku, "BACKORDER", 2)
    pools = await pools_of(server, sku)
    assert pools == [
        {"sku": sku, "kind": "READY", "channel": None, "capacity": 5, "committed": 0,
         "available": 5, "incoming": None},
        {"sku": sku, "kind": "PRE_ORDER", "channel": None, "capacity": 0, "committed": 0,
         "available": 0, "incoming": None},
        {"sku": sku, "kind": "BACKORDER", "channel": None, "capacity": 6, "committed": 2,
         "available": 4, "incoming": 0},
        {"sku": sku, "kind": "RESERVED", "channel": None, "capacity": None, "committed": 0,
         "available": None, "incoming": None},
        {"sku": sku, "kind": "CHANNEL", "channel": "marketplace", "capacity": 2, "committed": 0,
         "available": 2, "incoming": None},
    ]  # fmt: skip


async def test_pools_of_a_preorder_show_its_cap(server: LiveServer) -> None:
    sku = await preorder_product(server, cap=25)
    await set_committed(server, sku, "PRE_ORDER", 5)
    preorder = pool(await pools_of(server, sku, "PRE_ORDER"), "PRE_ORDER")
    assert (preorder["capacity"], preorder["committed"], preorder["available"]) == (25, 5, 20)
    uncapped = await preorder_product(server)
    preorder = pool(await pools_of(server, uncapped, "PRE_ORDER"), "PRE_ORDER")
    assert (preorder["capacity"], preorder["available"]) == (None, None)


async def test_pools_filters_by_kind(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 4})
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "pos", "sharePercent": 20})
    channel_pools = await pools_of(server, sku, "CHANNEL")
    assert [(p["kind"], p["channel"], p["capacity"]) for p in channel_pools] == [
        ("CHANNEL", "marketplace", 4),
        ("CHANNEL", "pos", 2),
    ]
    ready = await pools_of(server, sku, "READY")
    assert [(p["kind"], p["capacity"]) for p in ready] == [("READY", 4)]
    assert [p["kind"] for p in await pools_of(server, sku, "RESERVED")] == ["RESERVED"]


async def test_pools_of_one_kind_span_every_sku_without_a_sku_filter(server: LiveServer) -> None:
    first = await released_product(server, stock=3)
    second = await released_product(server, stock=3)
    for sku in (first, second):
        await ok(server, "allocateChannelPool", {"sku": sku, "channel": "b2b", "quantity": 1})
    query = """query($after: String) { pools(kind: CHANNEL, first: 100, after: $after) {
        nodes { sku kind channel } pageInfo { hasNextPage endCursor } } }"""
    every: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = (await server.gql(query, {"after": after})).data["pools"]
        every.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert {p["kind"] for p in every} == {"CHANNEL"}
    assert len({p["sku"] for p in every}) > 1
    mine = [(p["sku"], p["channel"]) for p in every if p["sku"] in (first, second)]
    assert mine == [(first, "b2b"), (second, "b2b")]


async def test_pools_walks_pages_with_cursors(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 1})
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "webstore", "quantity": 1})
    query = """query($sku: String, $after: String) {
        pools(sku: $sku, first: 2, after: $after) {
          edges { cursor node { kind channel } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    seen: list[tuple[str, str | None]] = []
    flags: list[tuple[bool, bool]] = []
    after: str | None = None
    while True:
        page = (await server.gql(query, {"sku": sku, "after": after})).data["pools"]
        seen.extend((e["node"]["kind"], e["node"]["channel"]) for e in page["edges"])
        info = page["pageInfo"]
        flags.append((info["hasNextPage"], info["hasPreviousPage"]))
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == [
        ("READY", None),
        ("PRE_ORDER", None),
        ("BACKORDER", None),
        ("RESERVED", None),
        ("CHANNEL", "marketplace"),
        ("CHANNEL", "webstore"),
    ]
    assert flags == [(True, False), (True, True), (False, True)]


async def test_pools_with_a_kind_filter_page_too(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    for channel in ("marketplace", "webstore", "pos"):
        await ok(server, "allocateChannelPool", {"sku": sku, "channel": channel, "quantity": 1})
    query = """query($sku: String, $after: String) {
        pools(sku: $sku, kind: CHANNEL, first: 2, after: $after) {
          nodes { channel } pageInfo { hasNextPage endCursor } } }"""
    first = (await server.gql(query, {"sku": sku})).data["pools"]
    assert [n["channel"] for n in first["nodes"]] == ["marketplace", "webstore"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await server.gql(query, {"sku": sku, "after": first["pageInfo"]["endCursor"]})).data[
        "pools"
    ]
    assert [n["channel"] for n in second["nodes"]] == ["pos"]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_pools_of_an_unknown_sku_are_empty_and_a_bad_cursor_is_refused(
    server: LiveServer,
) -> None:
    assert await pools_of(server, "NO-SUCH-SKU-X3") == []
    product_cursor = (await server.gql("{ products(first: 1) { pageInfo { endCursor } } }")).data[
        "products"
    ]["pageInfo"]["endCursor"]
    refused = await server.gql(
        "query($after: String) { pools(after: $after) { nodes { kind } } }",
        {"after": product_cursor},
    )
    assert refused.errors[0]["message"] == "Invalid cursor."
    assert refused.errors[0]["extensions"] == {"code": "INVALID_CURSOR"}


# ---------------------------------------------------------------------------------------------
# createProduct


async def test_create_product_answers_with_empty_pools_and_audits_the_creation(
    server: LiveServer,
) -> None:
    sku = new_sku("NEW")
    created = await ok(
        server,
        "createProduct",
        {"sku": sku, "name": "Brand new", "price": eur(1999), "tags": ["b", "a"]},
    )
    assert created["sku"] == sku
    assert created["name"] == "Brand new"
    assert created["price"] == {"amountMinor": 1999, "currency": "EUR"}
    assert created["tags"] == ["a", "b"]
    assert created["options"] == {}
    assert created["onHand"] == 0
    assert created["safetyStock"] == 0
    assert created["releaseDate"] is None
    assert created["preorder"] == {
        "enabled": False,
        "releaseDate": None,
        "cap": None,
        "committed": 0,
        "message": None,
        "paymentTerms": {"kind": "FULL", "depositPercent": None, "depositAmount": None},
    }
    assert created["backorder"] == {
        "allowed": False,
        "cap": None,
        "committed": 0,
        "message": None,
        "paymentTerms": {"kind": "FULL", "depositPercent": None, "depositAmount": None},
    }
    assert [(p["kind"], p["capacity"], p["committed"]) for p in created["pools"]] == [
        ("READY", 0, 0),
        ("PRE_ORDER", 0, 0),
        ("BACKORDER", 0, 0),
        ("RESERVED", None, 0),
    ]
    (event,) = await audits(server, sku)
    assert event["action"] == "product.created"
    assert event["actor"] == ops_actor(server)
    assert event["before"] is None
    assert event["after"]["sku"] == sku
    assert event["after"]["price_minor"] == 1999
    assert await product(server, sku) == created
    # without a price: 0 in the default currency, EUR
    unpriced = await ok(server, "createProduct", {"sku": new_sku("NEW"), "name": "Unpriced"})
    assert unpriced["price"] == {"amountMinor": 0, "currency": "EUR"}


async def test_create_product_refuses_a_duplicate_sku_and_changes_nothing(
    server: LiveServer,
) -> None:
    sku = await create(server)
    before = await world(server, sku)
    errors = await rejected(server, "createProduct", {"sku": sku, "name": "Second try"})
    assert codes(errors) == ["DUPLICATE_SKU"]
    assert await world(server, sku) == before
    api = before["api"]
    assert api is not None
    assert api["name"] == f"Product {sku}"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"name": "   "}, "INVALID"),
        ({"price": eur(-1)}, "INVALID"),
        ({"safetyStock": -1}, "INVALID_QUANTITY"),
    ],
    ids=["blank name", "negative price", "negative safety"],
)
async def test_create_product_refuses_invalid_fields_and_creates_nothing(
    server: LiveServer, data: dict[str, Any], code: str
) -> None:
    sku = new_sku("BAD")
    before = await world(server, sku)
    errors = await rejected(server, "createProduct", {"sku": sku, "name": "Fine", **data})
    assert codes(errors) == [code]
    assert await world(server, sku) == before
    assert before["api"] is None


@pytest.mark.parametrize("currency", ["EURO", "E1R"], ids=["long currency", "non-alpha currency"])
async def test_create_product_refuses_an_invalid_currency_and_creates_nothing(
    server: LiveServer, currency: str
) -> None:
    # the currency is a CurrencyCode enum: a code that is not one fails validation
    sku = new_sku("BAD")
    before = await world(server, sku)
    result = await mutate(
        server,
        "createProduct",
        {"sku": sku, "name": "Fine", "price": {"amountMinor": 100, "currency": currency}},
    )
    assert result.body["data"] is None
    (error,) = result.errors
    assert "at .price.currency:" in error["message"]
    assert f"Value '{currency}' does not exist in 'CurrencyCode' enum" in error["message"]
    assert await world(server, sku) == before
    assert before["api"] is None


async def test_create_product_refuses_a_blank_or_too_long_sku(server: LiveServer) -> None:
    before = await world(server, "")
    for sku in ("  ", "X" * 65):
        errors = await rejected(server, "createProduct", {"sku": sku, "name": "Fine"})
        assert codes(errors) == ["INVALID"]
    assert await world(server, "") == before


async def test_create_product_user_errors_point_at_the_input_field(server: LiveServer) -> None:
    sku = await create(server)
    duplicate = await rejected(server, "createProduct", {"sku": sku, "name": "Again"})
    assert [e["field"] for e in duplicate] == [["input", "sku"]]
    invalid = await rejected(
        server, "createProduct", {"sku": new_sku(), "name": "Fine", "safetyStock": -1}
    )
    assert [e["field"] for e in invalid] == [["input", "safetyStock"]]
    several = await rejected(
        server,
        "createProduct",
        {"sku": " ", "name": " ", "price": eur(-1)},
    )
    assert [e["field"] for e in several] == [
        ["input", "sku"],
        ["input", "name"],
        ["input", "price", "amountMinor"],
    ]


async def test_create_product_refuses_a_safety_stock_above_the_unit_limit(
    server: LiveServer,
) -> None:
    sku = new_sku("BIG")
    before = await world(server, sku)
    errors = await rejected(
        server, "createProduct", {"sku": sku, "name": "Big", "safetyStock": MAX_UNITS + 1}
    )
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_QUANTITY", ["input", "safetyStock"])
    ]
    assert await world(server, sku) == before
    created = await ok(
        server, "createProduct", {"sku": sku, "name": "Big", "safetyStock": MAX_UNITS}
    )
    assert created["safetyStock"] == MAX_UNITS


async def test_create_product_keeps_json_options_as_given_or_refuses_them(
    server: LiveServer,
) -> None:
    given = {"weight": 2, "waterproof": True, "sizes": ["S", "M"], "note": None}
    body = await payload(
        server, "createProduct", {"sku": new_sku("OPT"), "name": "Opts", "options": given}
    )
    if body["userErrors"]:
        assert body["product"] is None
    else:
        assert body["product"]["options"] == given


async def test_create_product_keeps_nested_json_options_and_audits_them(
    server: LiveServer,
) -> None:
    sku = new_sku("OPT")
    given = {"dims": {"w": 1.5, "h": [1, 2]}, "colour": "red", "limited": False}
    created = await ok(server, "createProduct", {"sku": sku, "name": "Opts", "options": given})
    assert created["options"] == given
    assert (await product(server, sku) or {})["options"] == given
    (event,) = await audits(server, sku)
    assert event["after"]["options"] == given


@pytest.mark.parametrize(
    "options", [["S", "M"], "size=M", 3, True], ids=["list", "string", "number", "boolean"]
)
async def test_create_product_refuses_options_that_are_not_a_json_object_and_creates_nothing(
    server: LiveServer, options: Any
) -> None:
    sku = new_sku("OPT")
    before = await world(server, sku)
    errors = await rejected(
        server, "createProduct", {"sku": sku, "name": "Opts", "options": options}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "options"])]
    assert await world(server, sku) == before
    assert before["api"] is None


async def test_create_product_without_options_has_an_empty_object(server: LiveServer) -> None:
    sku = new_sku("OPT")
    created = await ok(server, "createProduct", {"sku": sku, "name": "Opts", "options": None})
    assert created["options"] == {}


# ---------------------------------------------------------------------------------------------
# configurePreorder / configureBackorder


async def test_configure_preorder_sets_the_policy_and_audits_before_and_after(
    server: LiveServer,
) -> None:
    sku = await create(server, "PRE")
    configured = await ok(
        server,
        "configurePreorder",
        {
            "sku": sku,
            "enabled": True,
            "releaseDate": LAUNCH.isoformat(),
            "cap": 40,
            "message": "Ships from {date}",
            "paymentTerms": {"kind": "DEPOSIT", "depositPercent": 25},
        },
    )
    assert configured["releaseDate"] == LAUNCH.isoformat()
    assert configured["preorder"] == {
        "enabled": True,
        "releaseDate": LAUNCH.isoformat(),
        "cap": 40,
        "committed": 0,
        "message": "Ships from {date}",
        "paymentTerms": {"kind": "DEPOSIT", "depositPercent": 25.0, "depositAmount": None},
    }
    assert pool(configured["pools"], "PRE_ORDER")["capacity"] == 40
    assert await product(server, sku) == configured
    events = await audits(server, sku)
    assert [e["action"] for e in events] == ["product.created", "preorder.configured"]
    event = events[-1]
    assert event["actor"] == ops_actor(server)
    assert event["before"] == {
        "enabled": False,
        "releaseDate": None,
        "message": None,
        "payment": "FULL",
    }
    assert event["after"]["enabled"] is True
    assert event["after"]["cap"] == 40
    assert event["after"]["release_date"] == LAUNCH.isoformat()


async def test_configure_preorder_replaces_the_whole_policy(server: LiveServer) -> None:
    sku = await preorder_product(
        server, cap=10, message="Soon", payment={"kind": "DEPOSIT", "depositPercent": 10}
    )
    replaced = await ok(
        server,
        "configurePreorder",
        {"sku": sku, "enabled": True, "releaseDate": LAUNCH.isoformat()},
    )
    assert replaced["preorder"]["cap"] is None
    assert replaced["preorder"]["message"] is None
    assert replaced["preorder"]["paymentTerms"]["kind"] == "FULL"
    assert replaced["preorder"]["paymentTerms"]["depositPercent"] is None
    assert (await availability(server, sku))["capRemaining"] is None


async def test_configure_backorder_sets_the_policy_and_audits_it(server: LiveServer) -> None:
    sku = await released_product(server)
    configured = await ok(
        server,
        "configureBackorder",
        {
            "sku": sku,
            "allowed": True,
            "cap": 12,
            "message": "Ships in 3 weeks",
            "paymentTerms": {"kind": "AUTHORIZE"},
        },
    )
    assert configured["backorder"] == {
        "allowed": True,
        "cap": 12,
        "committed": 0,
        "message": "Ships in 3 weeks",
        "paymentTerms": {"kind": "AUTHORIZE", "depositPercent": None, "depositAmount": None},
    }
    assert pool(configured["pools"], "BACKORDER")["capacity"] == 12
    answer = await availability(server, sku, 2)
    assert answer["message"] == "Ships in 3 weeks"
    assert answer["paymentTerms"]["kind"] == "AUTHORIZE"
    event = (await audits(server, sku))[-1]
    assert event["action"] == "backorder.configured"
    assert event["actor"] == ops_actor(server)
    assert event["before"] == {"allowed": False, "message": None, "payment": "FULL"}
    assert event["after"]["allowed"] is True
    assert event["after"]["cap"] == 12


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
async def test_a_cap_equal_to_the_committed_units_is_accepted(
    server: LiveServer, name: str
) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    kind = "PRE_ORDER" if name == "configurePreorder" else "BACKORDER"
    await ok(server, name, {"sku": sku, flag: True, "cap": 10})
    await set_committed(server, sku, kind, 4)
    configured = await ok(server, name, {"sku": sku, flag: True, "cap": 4})
    assert pool(configured["pools"], kind)["capacity"] == 4
    assert pool(configured["pools"], kind)["available"] == 0


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
async def test_a_cap_below_the_committed_units_is_refused_and_nothing_changes(
    server: LiveServer, name: str
) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    kind = "PRE_ORDER" if name == "configurePreorder" else "BACKORDER"
    await ok(server, name, {"sku": sku, flag: True, "cap": 10, "message": "Keep me"})
    await set_committed(server, sku, kind, 4)
    before = await world(server, sku)
    errors = await rejected(
        server, name, {"sku": sku, flag: False, "cap": 3, "message": "Replaced"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("CAP_BELOW_COMMITTED", ["input", "cap"])]
    assert "4" in errors[0]["message"]
    assert await world(server, sku) == before


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
@pytest.mark.parametrize(
    "terms",
    [
        {"kind": "DEPOSIT"},
        {"kind": "DEPOSIT", "depositPercent": 10, "depositAmount": eur(500)},
        {"kind": "DEPOSIT", "depositPercent": 0},
        {"kind": "DEPOSIT", "depositPercent": 100},
        {"kind": "DEPOSIT", "depositAmount": eur(0)},
        {"kind": "FULL", "depositPercent": 10},
        {"kind": "AUTHORIZE", "depositAmount": eur(500)},
    ],
    ids=[
        "deposit without amount",
        "deposit with both amounts",
        "zero percent",
        "hundred percent",
        "zero amount",
        "full with percent",
        "authorize with amount",
    ],
)
async def test_invalid_payment_terms_are_refused_and_nothing_changes(
    server: LiveServer, name: str, terms: dict[str, Any]
) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    before = await world(server, sku)
    errors = await rejected(server, name, {"sku": sku, flag: True, "paymentTerms": terms})
    assert set(codes(errors)) == {"INVALID_PAYMENT_TERMS"}
    assert await world(server, sku) == before


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
async def test_invalid_payment_terms_errors_point_at_the_payment_terms_field(
    server: LiveServer, name: str
) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    errors = await rejected(
        server, name, {"sku": sku, flag: True, "paymentTerms": {"kind": "DEPOSIT"}}
    )
    assert [e["field"] for e in errors] == [["input", "paymentTerms"]]
    errors = await rejected(
        server,
        name,
        {"sku": sku, flag: True, "paymentTerms": {"kind": "DEPOSIT", "depositPercent": 150}},
    )
    assert [e["field"] for e in errors] == [["input", "paymentTerms", "depositPercent"]]
    errors = await rejected(
        server,
        name,
        {"sku": sku, flag: True, "paymentTerms": {"kind": "DEPOSIT", "depositAmount": eur(0)}},
    )
    assert [e["field"] for e in errors] == [
        ["input", "paymentTerms", "depositAmount", "amountMinor"]
    ]
    errors = await rejected(
        server,
        name,
        {"sku": sku, flag: True, "paymentTerms": {"kind": "FULL", "depositAmount": eur(500)}},
    )
    assert [e["field"] for e in errors] == [["input", "paymentTerms"]]


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
async def test_a_negative_cap_is_refused_and_nothing_changes(server: LiveServer, name: str) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    before = await world(server, sku)
    errors = await rejected(server, name, {"sku": sku, flag: True, "cap": -1})
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_QUANTITY", ["input", "cap"])]
    assert await world(server, sku) == before


@pytest.mark.parametrize("name", ["configurePreorder", "configureBackorder"])
async def test_a_cap_above_the_unit_limit_is_refused_and_nothing_changes(
    server: LiveServer, name: str
) -> None:
    sku = await create(server)
    flag = "enabled" if name == "configurePreorder" else "allowed"
    before = await world(server, sku)
    for cap in (MAX_UNITS + 1, 2_147_483_647):
        errors = await rejected(server, name, {"sku": sku, flag: True, "cap": cap})
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_QUANTITY", ["input", "cap"])]
    assert await world(server, sku) == before
    await ok(server, name, {"sku": sku, flag: True, "cap": MAX_UNITS})


# ---------------------------------------------------------------------------------------------
# unknown SKU / location / channel on every admin mutation


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("configurePreorder", {"enabled": True, "releaseDate": "2030-07-01"}),
        ("configureBackorder", {"allowed": True}),
        ("setStock", {"location": "main", "quantity": 5}),
        ("adjustStock", {"location": "main", "delta": 5, "reason": "RECEIPT"}),
        ("setSafetyStock", {"quantity": 1}),
        ("allocateChannelPool", {"channel": "marketplace", "quantity": 0}),
    ],
)
async def test_an_unknown_sku_is_not_found_and_nothing_is_written(
    server: LiveServer, name: str, data: dict[str, Any]
) -> None:
    sku = new_sku("GHOST")
    before = await world(server, sku)
    errors = await rejected(server, name, {"sku": sku, **data})
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "sku"])]
    assert sku in errors[0]["message"]
    assert await world(server, sku) == before


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("setStock", {"quantity": 5}),
        ("adjustStock", {"delta": 5, "reason": "RECEIPT"}),
    ],
)
async def test_an_unknown_location_is_refused_and_no_stock_moves(
    server: LiveServer, name: str, data: dict[str, Any]
) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    errors = await rejected(server, name, {"sku": sku, "location": "moon-base", **data})
    assert [(e["code"], e["field"]) for e in errors] == [
        ("UNKNOWN_LOCATION", ["input", "location"])
    ]
    assert await world(server, sku) == before


async def test_an_unknown_channel_is_refused_and_no_hold_is_made(server: LiveServer) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    errors = await rejected(
        server, "allocateChannelPool", {"sku": sku, "channel": "carrier-pigeon", "quantity": 1}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("UNKNOWN_CHANNEL", ["input", "channel"])]
    assert await world(server, sku) == before


# ---------------------------------------------------------------------------------------------
# setStock / adjustStock and the stock ledger


async def test_set_stock_and_adjust_stock_write_one_ledger_row_each(server: LiveServer) -> None:
    sku = await released_product(server)
    actor = ops_actor(server)

    counted = await ok(server, "setStock", {"sku": sku, "location": "main", "quantity": 10})
    assert counted["onHand"] == 10
    received = await ok(
        server,
        "adjustStock",
        {"sku": sku, "location": "main", "delta": 5, "reason": "RECEIPT", "note": "PO-123"},
    )
    assert received["onHand"] == 15
    damaged = await ok(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": -3, "reason": "DAMAGE"}
    )
    assert damaged["onHand"] == 12
    store = await ok(
        server,
        "setStock",
        {"sku": sku, "location": "store-1", "quantity": 4, "reason": "TRANSFER", "note": "move"},
    )
    assert store["onHand"] == 16
    corrected = await ok(
        server,
        "setStock",
        {"sku": sku, "location": "main", "quantity": 7, "reason": "CORRECTION"},
    )
    assert corrected["onHand"] == 11
    assert pool(corrected["pools"], "READY")["capacity"] == 11

    assert await movements(server, sku) == [
        {"location_code": "main", "delta": 10, "on_hand_after": 10, "reason": "COUNT",
         "note": None, "actor": actor},
        {"location_code": "main", "delta": 5, "on_hand_after": 15, "reason": "RECEIPT",
         "note": "PO-123", "actor": actor},
        {"location_code": "main", "delta": -3, "on_hand_after": 12, "reason": "DAMAGE",
         "note": None, "actor": actor},
        {"location_code": "store-1", "delta": 4, "on_hand_after": 4, "reason": "TRANSFER",
         "note": "move", "actor": actor},
        {"location_code": "main", "delta": -5, "on_hand_after": 7, "reason": "CORRECTION",
         "note": None, "actor": actor},
    ]  # fmt: skip
    levels = await server.sql(
        "SELECT s.location_code, s.on_hand FROM stock_levels s JOIN products p "
        "ON p.id = s.product_id WHERE p.sku = $1 ORDER BY s.location_code",
        sku,
    )
    assert [(r["location_code"], r["on_hand"]) for r in levels] == [("main", 7), ("store-1", 4)]
    assert (await availability(server, sku, 11))["state"] == "IN_STOCK"
    assert (await availability(server, sku, 12))["state"] == "SOLD_OUT"


@pytest.mark.parametrize(
    "reason", ["COUNT", "RECEIPT", "DAMAGE", "LOSS", "RETURN", "CORRECTION", "TRANSFER", "SHIPMENT"]
)
async def test_every_stock_reason_is_recorded_in_the_ledger(
    server: LiveServer, reason: str
) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "adjustStock", {"sku": sku, "location": "main", "delta": -1, "reason": reason})
    last = (await movements(server, sku))[-1]
    assert (last["delta"], last["on_hand_after"], last["reason"]) == (-1, 4, reason)


async def test_a_count_to_the_same_level_is_still_recorded(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    await set_stock(server, sku, 5)
    rows = await movements(server, sku)
    assert [(r["delta"], r["on_hand_after"]) for r in rows] == [(5, 5), (0, 5)]


async def test_the_ledger_records_the_key_that_changed_the_stock(server: LiveServer) -> None:
    sku = await released_product(server)
    other = await server.key_with("ops", "storefront")
    result = await mutate(
        server,
        "adjustStock",
        {"sku": sku, "location": "main", "delta": 2, "reason": "RETURN"},
        key=other,
    )
    assert result.data["adjustStock"]["userErrors"] == []
    (row,) = await movements(server, sku)
    prefix = other.split("_")[1]
    assert row["actor"] == f"key:{prefix}:ops,storefront"


async def test_stock_mutations_in_one_document_run_in_order(server: LiveServer) -> None:
    sku = await released_product(server)
    result = await server.gql(
        """mutation($sku: String!) {
             first: setStock(input: {sku: $sku, location: "main", quantity: 10}) {
               product { onHand availability(quantity: 10) { state } } }
             second: adjustStock(input: {
                 sku: $sku, location: "main", delta: -4, reason: SHIPMENT}) {
               product { onHand availability(quantity: 10) { state } } } }""",
        {"sku": sku},
    )
    assert result.data == {
        "first": {"product": {"onHand": 10, "availability": {"state": "IN_STOCK"}}},
        "second": {"product": {"onHand": 6, "availability": {"state": "SOLD_OUT"}}},
    }


async def test_setting_a_negative_stock_level_is_refused_and_nothing_is_written(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    errors = await rejected(server, "setStock", {"sku": sku, "location": "main", "quantity": -1})
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_QUANTITY", ["input", "quantity"])
    ]
    assert await world(server, sku) == before


async def test_a_stock_level_above_the_unit_limit_is_refused_and_nothing_is_written(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    for quantity in (MAX_UNITS + 1, 2_147_483_647):
        errors = await rejected(
            server, "setStock", {"sku": sku, "location": "main", "quantity": quantity}
        )
        assert [(e["code"], e["field"]) for e in errors] == [
            ("INVALID_QUANTITY", ["input", "quantity"])
        ]
    assert await world(server, sku) == before
    assert (await ok(server, "setStock", {"sku": sku, "location": "main", "quantity": MAX_UNITS}))[
        "onHand"
    ] == MAX_UNITS


@pytest.mark.parametrize("delta", [MAX_UNITS + 1, -(MAX_UNITS + 1), 2_147_483_647])
async def test_an_adjustment_above_the_unit_limit_is_refused_and_nothing_is_written(
    server: LiveServer, delta: int
) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    errors = await rejected(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": delta, "reason": "COUNT"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_QUANTITY", ["input", "delta"])]
    assert await world(server, sku) == before


async def test_an_adjustment_that_would_take_on_hand_above_the_unit_limit_is_refused(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=MAX_UNITS - 5)
    before = await world(server, sku)
    errors = await rejected(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": 6, "reason": "RECEIPT"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_QUANTITY", ["input", "delta"])]
    assert await world(server, sku) == before
    filled = await ok(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": 5, "reason": "RECEIPT"}
    )
    assert filled["onHand"] == MAX_UNITS


async def test_an_adjustment_of_zero_is_refused_and_nothing_is_written(server: LiveServer) -> None:
    sku = await released_product(server, stock=3)
    before = await world(server, sku)
    errors = await rejected(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": 0, "reason": "COUNT"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_QUANTITY", ["input", "delta"])]
    assert await world(server, sku) == before


async def test_removing_more_than_on_hand_is_insufficient_stock_and_nothing_is_written(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    await set_stock(server, sku, 3, location="store-1")
    empty_store = await released_product(server)
    before = await world(server, sku)
    errors = await rejected(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": -6, "reason": "LOSS"}
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INSUFFICIENT_STOCK", ["input", "delta"])]
    assert "5" in errors[0]["message"]
    errors = await rejected(
        server,
        "adjustStock",
        {"sku": empty_store, "location": "store-1", "delta": -1, "reason": "LOSS"},
    )
    assert codes(errors) == ["INSUFFICIENT_STOCK"]
    assert await world(server, sku) == before
    assert await movements(server, empty_store) == []


async def test_removing_exactly_what_is_on_hand_empties_the_location(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    emptied = await ok(
        server, "adjustStock", {"sku": sku, "location": "main", "delta": -5, "reason": "SHIPMENT"}
    )
    assert emptied["onHand"] == 0
    assert (await availability(server, sku))["state"] == "SOLD_OUT"


# ---------------------------------------------------------------------------------------------
# setSafetyStock


async def test_set_safety_stock_shrinks_ready_stock_and_is_audited(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    updated = await ok(server, "setSafetyStock", {"sku": sku, "quantity": 4})
    assert updated["safetyStock"] == 4
    assert pool(updated["pools"], "READY")["capacity"] == 6
    assert (await availability(server, sku, 7))["state"] == "SOLD_OUT"
    assert (await availability(server, sku, 6))["state"] == "IN_STOCK"
    event = (await audits(server, sku))[-1]
    assert event == {
        "action": "safety_stock.set",
        "actor": ops_actor(server),
        "before": {"safetyStock": 0},
        "after": {"safetyStock": 4},
    }
    assert await movements(server, sku) == [
        {"location_code": "main", "delta": 10, "on_hand_after": 10, "reason": "COUNT",
         "note": None, "actor": ops_actor(server)},
    ]  # fmt: skip


async def test_a_safety_stock_above_the_unit_limit_is_refused_and_nothing_changes(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=10, safetyStock=2)
    before = await world(server, sku)
    for quantity in (MAX_UNITS + 1, 2_147_483_647):
        errors = await rejected(server, "setSafetyStock", {"sku": sku, "quantity": quantity})
        assert [(e["code"], e["field"]) for e in errors] == [
            ("INVALID_QUANTITY", ["input", "quantity"])
        ]
    assert await world(server, sku) == before


async def test_a_negative_safety_stock_is_refused_and_nothing_changes(server: LiveServer) -> None:
    sku = await released_product(server, stock=10, safetyStock=2)
    before = await world(server, sku)
    errors = await rejected(server, "setSafetyStock", {"sku": sku, "quantity": -1})
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_QUANTITY", ["input", "quantity"])
    ]
    assert await world(server, sku) == before


# ---------------------------------------------------------------------------------------------
# allocateChannelPool


async def test_allocate_channel_pool_is_audited(server: LiveServer) -> None:
    sku = await released_product(server, stock=10)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    await ok(
        server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "sharePercent": 50}
    )
    events = [e for e in await audits(server, sku) if e["action"] == "channel_pool.allocated"]
    assert [(e["before"], e["after"]) for e in events] == [
        (
            {"channel": "marketplace", "hold": 0},
            {"channel": "marketplace", "quantity": 3, "sharePercent": None},
        ),
        (
            {"channel": "marketplace", "hold": 3},
            {"channel": "marketplace", "quantity": None, "sharePercent": 50.0},
        ),
    ]
    assert {e["actor"] for e in events} == {ops_actor(server)}
    assert pool(await pools_of(server, sku), "CHANNEL", "marketplace")["capacity"] == 5


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"quantity": -1}, "INVALID_QUANTITY", ["input", "quantity"]),
        ({"quantity": MAX_UNITS + 1}, "INVALID_QUANTITY", ["input", "quantity"]),
        ({"quantity": 2_147_483_647}, "INVALID_QUANTITY", ["input", "quantity"]),
        ({"sharePercent": -5}, "INVALID_QUANTITY", ["input", "sharePercent"]),
        ({"sharePercent": 100.5}, "INVALID_QUANTITY", ["input", "sharePercent"]),
        ({}, "INVALID", ["input", "quantity"]),
        ({"quantity": 1, "sharePercent": 10}, "INVALID", ["input", "quantity"]),
        ({"quantity": 3}, "INSUFFICIENT_STOCK", ["input", "quantity"]),
        ({"sharePercent": 100}, "INSUFFICIENT_STOCK", ["input", "sharePercent"]),
    ],
    ids=[
        "negative quantity",
        "quantity above the unit limit",
        "quantity at the top of the int range",
        "negative share",
        "share above 100",
        "neither quantity nor share",
        "both quantity and share",
        "more than the free shared stock",
        "a share larger than the free shared stock",
    ],
)
async def test_allocate_channel_pool_refuses_bad_input_and_nothing_changes(
    server: LiveServer, data: dict[str, Any], code: str, field: list[str]
) -> None:
    sku = await released_product(server, stock=5)
    await ok(server, "allocateChannelPool", {"sku": sku, "channel": "marketplace", "quantity": 3})
    before = await world(server, sku)
    errors = await rejected(
        server, "allocateChannelPool", {"sku": sku, "channel": "webstore", **data}
    )
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    assert await world(server, sku) == before


# ---------------------------------------------------------------------------------------------
# auth


def sample_input(name: str, sku: str) -> dict[str, Any]:
    inputs: dict[str, dict[str, Any]] = {
        "createProduct": {"sku": sku, "name": "Should not exist"},
        "configurePreorder": {"sku": sku, "enabled": True, "releaseDate": "2030-07-01", "cap": 1},
        "configureBackorder": {"sku": sku, "allowed": True, "cap": 1},
        "setStock": {"sku": sku, "location": "main", "quantity": 99},
        "adjustStock": {"sku": sku, "location": "main", "delta": 99, "reason": "RECEIPT"},
        "setSafetyStock": {"sku": sku, "quantity": 3},
        "allocateChannelPool": {"sku": sku, "channel": "marketplace", "quantity": 1},
    }
    return inputs[name]


async def target_sku(server: LiveServer, name: str) -> str:
    """An existing product for policy/stock mutations; a fresh SKU for createProduct."""
    if name == "createProduct":
        return new_sku("AUTH")
    return await released_product(server, stock=5)


@pytest.mark.parametrize("name", MUTATIONS)
async def test_admin_mutations_without_a_key_need_one_and_change_nothing(
    server: LiveServer, name: str
) -> None:
    sku = await target_sku(server, name)
    before = await world(server, sku)
    result = await mutate(server, name, sample_input(name, sku), anonymous=True)
    assert result.body["data"] is None
    assert [e["message"] for e in result.errors] == ["An API key is required."]
    assert result.errors[0]["path"] == [name]
    assert result.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert await world(server, sku) == before


@pytest.mark.parametrize("name", MUTATIONS)
async def test_admin_mutations_with_a_storefront_key_are_forbidden_and_change_nothing(
    server: LiveServer, name: str
) -> None:
    sku = await target_sku(server, name)
    before = await world(server, sku)
    key = await server.key_with("storefront")
    result = await mutate(server, name, sample_input(name, sku), key=key)
    assert result.body["data"] is None
    assert [e["message"] for e in result.errors] == ["This operation needs the 'ops' scope."]
    assert result.errors[0]["extensions"] == {"code": "FORBIDDEN"}
    assert await world(server, sku) == before


async def test_a_channel_scoped_key_cannot_run_admin_mutations(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    key = await server.key_with("channel:webstore")
    result = await mutate(server, "setStock", sample_input("setStock", sku), key=key)
    assert [e["message"] for e in result.errors] == ["This operation needs the 'ops' scope."]
    assert result.errors[0]["extensions"] == {"code": "FORBIDDEN"}
    assert await movements(server, sku) == [
        {"location_code": "main", "delta": 5, "on_hand_after": 5, "reason": "COUNT",
         "note": None, "actor": ops_actor(server)},
    ]  # fmt: skip


@pytest.mark.parametrize(
    "key",
    [
        "oms_000000000000_not-the-secret",
        "not-even-shaped-like-a-key",
    ],
    ids=["unknown key", "malformed key"],
)
@pytest.mark.parametrize("name", MUTATIONS)
async def test_admin_mutations_with_an_invalid_key_are_refused_and_change_nothing(
    server: LiveServer, name: str, key: str
) -> None:
    sku = await target_sku(server, name)
    before = await world(server, sku)
    result = await mutate(server, name, sample_input(name, sku), key=key)
    assert result.body["data"] is None
    assert [e["message"] for e in result.errors] == ["The API key is invalid or revoked."]
    assert result.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert await world(server, sku) == before


async def test_a_known_prefix_with_the_wrong_secret_is_refused(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    prefix = server.ops_key.split("_")[1]
    result = await mutate(
        server, "setSafetyStock", {"sku": sku, "quantity": 1}, key=f"oms_{prefix}_wrong-secret"
    )
    assert [e["message"] for e in result.errors] == ["The API key is invalid or revoked."]
    assert result.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert (await product(server, sku) or {})["safetyStock"] == 0


async def test_a_revoked_ops_key_is_refused(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    key = (await create_api_key(server.services, "revoked-soon", ["ops"])).key
    assert (await mutate(server, "setSafetyStock", {"sku": sku, "quantity": 1}, key=key)).data
    await server.sql("UPDATE api_keys SET revoked_at = now() WHERE prefix = $1", key.split("_")[1])
    result = await mutate(server, "setSafetyStock", {"sku": sku, "quantity": 2}, key=key)
    assert [e["message"] for e in result.errors] == ["The API key is invalid or revoked."]
    assert result.errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert (await product(server, sku) or {})["safetyStock"] == 1


async def test_an_ops_key_in_the_x_api_key_header_is_accepted(server: LiveServer) -> None:
    sku = await released_product(server, stock=5)
    response = await server.client.post(
        "/graphql",
        json={
            "query": "mutation($sku: String!) { setSafetyStock(input: {sku: $sku, quantity: 2}) "
            "{ product { safetyStock } userErrors { code } } }",
            "variables": {"sku": sku},
        },
        headers={"X-API-Key": server.ops_key},
    )
    assert response.json() == {
        "data": {"setSafetyStock": {"product": {"safetyStock": 2}, "userErrors": []}}
    }


async def test_catalog_queries_work_anonymously_and_with_a_storefront_key(
    server: LiveServer,
) -> None:
    sku = await released_product(server, stock=5)
    query = """query($sku: String!) {
        productAvailability(sku: $sku, quantity: 2) { state }
        product(sku: $sku) { sku name }
        products(first: 1) { edges { cursor } } }"""
    anonymous = await server.gql(query, {"sku": sku}, anonymous=True)
    storefront = await server.gql(query, {"sku": sku}, key=await server.key_with("storefront"))
    for result in (anonymous, storefront):
        data = dict(result.data)
        assert len(data.pop("products")["edges"]) == 1
        assert data == {
            "productAvailability": {"state": "IN_STOCK"},
            "product": {"sku": sku, "name": data["product"]["name"]},
        }


@pytest.mark.parametrize(
    "field",
    [
        "product(sku: $sku) { pools { kind } }",
        "product(sku: $sku) { onHand }",
        "product(sku: $sku) { preorder { committed } }",
        "product(sku: $sku) { backorder { committed } }",
        "pools(sku: $sku) { nodes { committed } }",
    ],
)
async def test_inventory_internals_are_hidden_from_anonymous_callers_and_storefronts(
    server: LiveServer, field: str
) -> None:
    sku = await released_product(server, stock=5)
    query = f"query($sku: String!) {{ {field} }}"
    anonymous = await server.gql(query, {"sku": sku}, anonymous=True)
    assert anonymous.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    storefront = await server.gql(query, {"sku": sku}, key=await server.key_with("storefront"))
    assert storefront.errors[0]["extensions"]["code"] == "FORBIDDEN"
    channel = await server.gql(
        query, {"sku": sku}, key=await server.key_with("channel:marketplace")
    )
    assert not channel.errors
    ops = await server.gql(query, {"sku": sku})
    assert not ops.errors


async def test_products_count_their_matches_only_when_total_count_is_asked(
    server: LiveServer,
) -> None:
    tag = f"COUNT{uuid.uuid4().hex[:6].upper()}"
    for i in range(3):
        created = await server.gql(
            f'mutation {{ createProduct(input: {{sku: "{tag}-{i}", name: "Counted", '
            f'tags: ["{tag}"]}}) {{ userErrors {{ code }} }} }}'
        )
        assert created.data["createProduct"]["userErrors"] == []
    counted = await server.gql(
        "query($t: String!) { products(first: 2, filter: {tags: [$t]}) "
        "{ totalCount edges { cursor } } }",
        {"t": tag},
    )
    assert counted.data["products"]["totalCount"] == 3
    assert len(counted.data["products"]["edges"]) == 2
    not_asked = await server.gql(
        "query($t: String!) { products(first: 2, filter: {tags: [$t]}) { edges { cursor } } }",
        {"t": tag},
    )
    assert "totalCount" not in not_asked.data["products"]
