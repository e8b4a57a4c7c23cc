"""Live subscriptions over a real WebSocket: each receives the events the mutations cause and
nothing its caller may not see; across server processes; replay after a reconnect exactly
once; a killed listener loses nothing; slow and vanished subscribers are let go."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets

from tests.api.live_helpers import connect, place, product
from tests.process_helpers import served
from tests.support import LiveServer, live_server

ROOT = Path(__file__).resolve().parents[2]

AVAILABILITY = """subscription($sku: String!, $q: Int) {
  availabilityChanged(sku: $sku, quantity: $q) {
    sku state buttonLabel availableQuantity capRemaining deliveryEstimate { earliest latest }
  }
}"""

ORDER_EVENTS = """subscription($filter: OrderEventFilterInput, $after: ID) {
  orderEvents(filter: $filter, after: $after) {
    id kind subject order { id number channel } line { id sku }
  }
}"""

ESTIMATES = """subscription($orderId: ID, $token: String, $sku: String) {
  deliveryEstimateChanged(orderId: $orderId, orderToken: $token, sku: $sku) {
    event { kind } previous { earliest latest } current { earliest latest }
    cause delayedDays consentRequested line { id sku } order { number }
  }
}"""


async def test_a_pdp_gets_its_availability_now_and_again_when_it_changes(
    server: LiveServer,
) -> None:
    await product(server, "LV-AV", 2)
    await product(server, "LV-OTHER", 5)
    async with connect(server.base_url) as ws:
        sid = await ws.subscribe(AVAILABILITY, {"sku": "LV-AV"})
        first = (await ws.next(sid))["data"]["availabilityChanged"]
        assert (first["state"], first["availableQuantity"]) == ("IN_STOCK", 2)
        await place(server, "LV-OTHER")
        assert await ws.silent(sid)  # another SKU changed: nothing for this PDP
        await place(server, "LV-AV", 2)
        second = (await ws.next(sid))["data"]["availabilityChanged"]
        assert (second["state"], second["buttonLabel"]) == ("SOLD_OUT", "Sold out")


async def test_a_burst_of_placements_is_coalesced_into_few_frames(server: LiveServer) -> None:
    await product(server, "LV-BURST", 200)
    async with connect(server.base_url) as ws:
        sid = await ws.subscribe(AVAILABILITY, {"sku": "LV-BURST"})
        assert (await ws.next(sid))["data"]["availabilityChanged"]["availableQuantity"] == 200
        await asyncio.gather(*(place(server, "LV-BURST") for _ in range(40)))
        frames = []
        while not frames or frames[-1]["availableQuantity"] != 160:
            frames.append((await ws.next(sid))["data"]["availabilityChanged"])
        assert len(frames) < 20, len(frames)  # far fewer frames than orders


async def test_a_bad_availability_argument_is_the_subscriptions_error(server: LiveServer) -> None:
    async with connect(server.base_url) as ws:
        sid = await ws.subscribe(AVAILABILITY, {"sku": "LV-NOPE"})
        with pytest.raises(AssertionError) as error:
            await ws.next(sid)
        assert "NOT_FOUND" in str(error.value)


async def test_ops_see_every_order_event_and_a_channel_only_its_own(server: LiveServer) -> None:
    await product(server, "LV-EV", 50)
    marketplace = await server.key_with("channel:marketplace")
    kinds = {"kinds": ["ORDER_PLACED"]}
    async with (
        connect(server.base_url, server.ops_key) as ops,
        connect(server.base_url, marketplace) as channel,
    ):
        ops_sid = await ops.subscribe(ORDER_EVENTS, {"filter": kinds})
        channel_sid = await channel.subscribe(ORDER_EVENTS, {"filter": kinds})
        await asyncio.sleep(0.2)
        web = await place(server, "LV-EV")
        seen = (await ops.next(ops_sid))["data"]["orderEvents"]
        assert (seen["kind"], seen["order"]["id"]) == ("ORDER_PLACED", web["order"]["id"])
        assert await channel.silent(channel_sid)  # a webstore order: not the marketplace's
        market = await place(server, "LV-EV", channel="marketplace", key=marketplace)
        mine = (await channel.next(channel_sid))["data"]["orderEvents"]
        assert mine["order"] == {
            "id": market["order"]["id"],
            "number": market["order"]["number"],
            "channel": "marketplace",
        }


async def test_a_customer_with_an_order_token_sees_only_that_orders_events(
    server: LiveServer,
) -> None:
    await product(server, "LV-TOKEN", 50)
    mine = await place(server, "LV-TOKEN")
    async with connect(server.base_url, orderToken=mine["orderToken"]) as ws:
        sid = await ws.subscribe(ORDER_EVENTS)
        await asyncio.sleep(0.2)
        await place(server, "LV-TOKEN")  # someone else's order
        assert await ws.silent(sid)  # nor its own placement: that was before it subscribed
        await server.gql(
            'mutation($id: ID!) { tagOrder(input: {id: $id, add: ["GIFT"]}) '
            "{ userErrors { code } } }",
            {"id": mine["order"]["id"]},
        )
        event = (await ws.next(sid))["data"]["orderEvents"]
        assert (event["kind"], event["order"]["id"]) == ("ORDER_TAGGED", mine["order"]["id"])


async def test_without_a_key_or_a_token_order_events_are_refused(server: LiveServer) -> None:
    async with connect(server.base_url) as ws:
        sid = await ws.subscribe(ORDER_EVENTS)
        with pytest.raises(AssertionError) as error:
            await ws.next(sid)
        assert "UNAUTHENTICATED" in str(error.value)


async def test_a_slipped_po_reaches_the_customer_following_the_order_with_its_token(
    server: LiveServer,
) -> None:
    await product(
        server,
        "LV-SLIP",
        0,
        'mutation { configureBackorder(input: {sku: "LV-SLIP", allowed: true}) '
        "{ userErrors { code } } }",
    )
    po = await server.gql(
        """mutation { createPurchaseOrder(input: {sku: "LV-SLIP", quantity: 10,
             location: "main", supplier: {code: "LV-SUP"}, supplierLeadTimeDays: 10}) {
             supply { id expectedOn } userErrors { code } } }"""
    )
    supply = po.data["createPurchaseOrder"]["supply"]
    placed = await place(server, "LV-SLIP", 2)
    async with connect(server.base_url) as ws:
        sid = await ws.subscribe(ESTIMATES, {"token": placed["orderToken"]})
        await asyncio.sleep(0.2)
        later = server.clock.current.date() + timedelta(days=40)
        slipped = await server.gql(
            """mutation($id: ID!, $on: Date!) { updateSupplyEta(input: {id: $id,
                 expectedOn: $on, reason: "port strike"}) { userErrors { code } } }""",
            {"id": supply["id"], "on": later.isoformat()},
        )
        assert slipped.data["updateSupplyEta"]["userErrors"] == []
        change = (await ws.next(sid))["data"]["deliveryEstimateChanged"]
        assert change["event"]["kind"] == "LINE_DELIVERY_DELAYED"
        assert change["cause"] == "SUPPLY_SLIPPED"
        assert change["delayedDays"] > 14
        assert change["consentRequested"] is True
        assert change["current"]["latest"] > change["previous"]["latest"]
        assert change["order"]["number"] == placed["order"]["number"]


async def test_following_a_sku_needs_an_ops_or_channel_key(server: LiveServer) -> None:
    storefront = await server.key_with("storefront")
    async with connect(server.base_url, storefront) as ws:
        sid = await ws.subscribe(ESTIMATES, {"sku": "LV-ANY"})
        with pytest.raises(AssertionError) as error:
            await ws.next(sid)
        assert "FORBIDDEN" in str(error.value)


async def test_a_reconnect_with_after_receives_the_missed_events_exactly_once(
    server: LiveServer,
) -> None:
    await product(server, "LV-REPLAY", 50)
    kinds = {"kinds": ["ORDER_PLACED"], "sku": "LV-REPLAY"}
    async with connect(server.base_url, server.ops_key) as ws:
        sid = await ws.subscribe(ORDER_EVENTS, {"filter": kinds})
        await asyncio.sleep(0.2)
        first = await place(server, "LV-REPLAY")
        seen = (await ws.next(sid))["data"]["orderEvents"]
        assert seen["order"]["id"] == first["order"]["id"]
    missed = [await place(server, "LV-REPLAY") for _ in range(3)]
    async with connect(server.base_url, server.ops_key) as ws:
        sid = await ws.subscribe(ORDER_EVENTS, {"filter": kinds, "after": seen["id"]})
        replayed = [(await ws.next(sid))["data"]["orderEvents"] for _ in range(3)]
        assert [e["order"]["id"] for e in replayed] == [m["order"]["id"] for m in missed]
        live = await place(server, "LV-REPLAY")
        after = (await ws.next(sid))["data"]["orderEvents"]
        assert after["order"]["id"] == live["order"]["id"]
        assert await ws.silent(sid)  # nothing twice


async def test_a_killed_listener_connection_loses_no_event(server: LiveServer) -> None:
    await product(server, "LV-KILL", 50)
    kinds = {"kinds": ["ORDER_PLACED"], "sku": "LV-KILL"}
    async with connect(server.base_url, server.ops_key) as ws:
        sid = await ws.subscribe(ORDER_EVENTS, {"filter": kinds})
        await asyncio.sleep(0.2)
        killed = await server.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        assert killed, "no listener connection found"
        placed = [await place(server, "LV-KILL") for _ in range(3)]
        got = [(await ws.next(sid, seconds=10))["data"]["orderEvents"] for _ in range(3)]
        assert [e["order"]["id"] for e in got] == [p["order"]["id"] for p in placed]


async def test_a_subscriber_that_does_not_keep_up_is_closed_with_a_clear_code(
    database_url: str,
) -> None:
    async with live_server(database_url, live_queue_size=2) as server:
        await product(server, "LV-SLOW", 50)
        kinds = {"kinds": ["LINE_RESERVED", "ORDER_PLACED"], "sku": "LV-SLOW"}
        async with connect(server.base_url, server.ops_key) as ws:
            await ws.subscribe(ORDER_EVENTS, {"filter": kinds})
            await asyncio.sleep(0.2)
            # one order of 3 lines: 4 events in one transaction, read in one batch
            await place(
                server,
                "LV-SLOW",
                lines=[{"sku": "LV-SLOW", "quantity": 1} for _ in range(3)],
            )
            assert await ws.closed_code() == 4429


async def test_an_abrupt_disconnect_leaks_no_subscription(server: LiveServer) -> None:
    async def open_subscriptions() -> float:
        text = (await server.client.get("/metrics")).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("oms_live_subscriptions{")
        )

    before = await open_subscriptions()
    async with connect(server.base_url, server.ops_key) as ws:
        await ws.subscribe(ORDER_EVENTS)
        await ws.subscribe(AVAILABILITY, {"sku": "LV-AV"})
        await asyncio.sleep(0.3)
        assert await open_subscriptions() == before + 2
        ws.ws.transport.abort()  # no close frame: the peer just vanishes
    for _ in range(50):
        if await open_subscriptions() == before:
            break
        await asyncio.sleep(0.1)
    assert await open_subscriptions() == before


async def test_a_socket_may_hold_only_so_many_subscriptions(database_url: str) -> None:
    async with live_server(database_url, ws_max_subscriptions=2) as server:
        await product(server, "LV-CAP", 5)
        async with connect(server.base_url) as ws:
            first = await ws.subscribe(AVAILABILITY, {"sku": "LV-CAP"})
            second = await ws.subscribe(AVAILABILITY, {"sku": "LV-CAP", "q": 2})
            for sid in (first, second):
                assert (await ws.next(sid))["data"]["availabilityChanged"]["sku"] == "LV-CAP"
            third = await ws.subscribe(AVAILABILITY, {"sku": "LV-CAP"})
            with pytest.raises(AssertionError, match="Subscription limit reached"):
                await ws.next(third)


async def test_subscriptions_work_over_the_legacy_graphql_ws_protocol(server: LiveServer) -> None:
    await product(server, "LV-LEGACY", 3)
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "type": "start",
                    "id": "1",
                    "payload": {"query": AVAILABILITY, "variables": {"sku": "LV-LEGACY"}},
                }
            )
        )

        async def data() -> dict[str, Any]:
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message["type"] == "data":
                    found: dict[str, Any] = message["payload"]["data"]["availabilityChanged"]
                    return found

        assert (await data())["availableQuantity"] == 3
        await place(server, "LV-LEGACY", 3)
        assert (await data())["state"] == "SOLD_OUT"


# ---------------------------------------------------------------- another server process


@pytest_asyncio.fixture
async def second_process(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    env = {
        **os.environ,
        "OMS_DATABASE_URL": database_url,
        "OMS_SCHEDULER_SECONDS": "0",
        "OMS_MAIL_RELAY_SECONDS": "0",
        "OMS_ACCESS_LOG": "false",
        "OMS_LOG_LEVEL": "WARNING",
    }
    async with served(env, tmp_path / "second.log") as process:
        yield process.base_url


async def test_another_server_process_delivers_an_event_committed_through_this_one(
    server: LiveServer, second_process: str
) -> None:
    await product(server, "LV-XPROC", 50)
    async with (
        connect(second_process, server.ops_key) as ws,
        connect(second_process) as pdp,
    ):
        sid = await ws.subscribe(ORDER_EVENTS, {"filter": {"sku": "LV-XPROC"}})
        av = await pdp.subscribe(AVAILABILITY, {"sku": "LV-XPROC"})
        assert (await pdp.next(av))["data"]["availabilityChanged"]["availableQuantity"] == 50
        await asyncio.sleep(0.2)
        placed = await place(server, "LV-XPROC", 5)
        event: dict[str, Any] = (await ws.next(sid))["data"]["orderEvents"]
        assert event["order"]["id"] == placed["order"]["id"]
        changed = (await pdp.next(av))["data"]["availabilityChanged"]
        assert changed["availableQuantity"] == 45
