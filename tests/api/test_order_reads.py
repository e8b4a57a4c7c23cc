"""Reading orders: by number and by id with a token, in pages and through filters, with their
event trail and order numbers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tests.api.placement_helpers import (
    ORDER_BY_ID,
    ORDER_BY_NUMBER,
    ORDERS,
    assert_ledgers_agree,
    cancel_line,
    cancel_order,
    line_id,
    list_orders,
    numbers,
    place,
    placed,
    product,
)
from tests.support import LiveServer


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
        'configurePreorder(input: {sku: "PM-FLT-P", enabled: true, releaseDate: "2035-05-01"})',
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
    assert [(e["kind"], line_id(e)) for e in events] == [
        ("ORDER_PLACED", None),
        ("LINE_RESERVED", ready["id"]),
        ("LINE_QUEUED", back["id"]),
    ]
    assert all(re.fullmatch(r"key:[0-9a-f]+:storefront", e["actor"]) for e in events)
    assert events[0]["payload"] == {
        "number": order["number"],
        "channel": "webstore",
        "tags": ["BACKORDER"],
        "totalMinor": 3000,
    }
    assert events[1]["payload"] == {
        "sku": "PM-EVT",
        "quantity": 1,
        "state": "READY",
        "pool": "READY",
    }
    assert events[2]["payload"] == {
        "sku": "PM-EVT",
        "quantity": 2,
        "state": "BACKORDER",
        "pool": "BACKORDER",
    }

    after_line = (await cancel_line(server, order["id"], back["id"], "no longer needed"))["order"]
    cancelled = after_line["events"][3:]
    assert [(e["kind"], line_id(e)) for e in cancelled] == [
        ("LINE_CANCELLED", back["id"]),
        ("PAYMENT_REFUNDED", None),  # its deposit, recorded with the cancellation
    ]
    assert re.fullmatch(r"key:[0-9a-f]+:tests-ops", cancelled[0]["actor"])
    assert cancelled[0]["before"] == {"status": "WAITING", "quantity": 2, "pool": "BACKORDER"}
    assert cancelled[0]["payload"] == {"status": "CANCELLED", "reason": "no longer needed"}

    whole = (await cancel_order(server, order["id"], "gone"))["order"]
    last = whole["events"][5:]
    assert [(e["kind"], line_id(e)) for e in last] == [
        ("LINE_CANCELLED", ready["id"]),
        ("ORDER_CANCELLED", None),
        ("PAYMENT_REFUNDED", None),
    ]
    assert {e["actor"] for e in last} == {cancelled[0]["actor"]}
    assert last[1]["before"] == {"status": "PLACED"}
    assert last[1]["payload"] == {"status": "CANCELLED", "reason": "gone"}


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


async def test_ledgers_agree_with_the_lines_after_everything_above(server: LiveServer) -> None:
    """Every pool counter equals its open lines; every cancelled line is fully reversed."""
    await assert_ledgers_agree(server)
