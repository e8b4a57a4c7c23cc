"""Idempotency keys of placeOrder: refusals are stored and replayed, and a key is scoped to its
channel and API key and expires."""

from __future__ import annotations

from datetime import timedelta

from app.services.auth import create_api_key
from tests.api.placement_helpers import assert_ledgers_agree, committed, count, place, product, run
from tests.support import LiveServer


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


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
