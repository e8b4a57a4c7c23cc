"""The warehouse's work list: per kind, in dispatch-deadline order (the channel's SLA, its
cut-off, the store's time zone), READY work never behind future-dated work, at-risk and
breached shipments listed and counted; and the channel settings that shape the deadlines."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from app.domain.shipments import Urgency
from app.domain.work_list import deadline_ranges
from app.storage import fulfilment_queue as work_store
from app.storage.database import to_asyncpg_dsn
from tests.api.placement_helpers import product
from tests.support import LiveServer, live_server

# New York: UTC-5 in January. A cut-off of 15:00 there is 20:00 UTC.
STORE_TIMEZONE = "America/New_York"
JAN = date(2031, 1, 14)

QUEUE = """
query($kind: FulfilmentKind!, $urgency: [ShipmentUrgency!], $first: Int, $after: String) {
  fulfilmentQueue(kind: $kind, urgency: $urgency, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id number kind status urgency channel readyAt dispatchDeadline order { id } }
  }
}
"""

COUNTS = """{ fulfilmentCounts { kind open onTime atRisk breached onHold } }"""

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id lines { id state status } } userErrors { code message } }
}
"""

RUN_JOB = "mutation($job: ScheduledJob!) { runScheduledJob(input: {job: $job}) { job ran result } }"

HOLD = """
mutation($id: ID!) {
  holdShipment(input: {id: $id, reason: ADDRESS_PROBLEM}) { userErrors { code message } }
}
"""


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, store_timezone=STORE_TIMEZONE) as live:
        yield live


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def stamp(value: datetime) -> str:
    return value.isoformat()


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def stocked(server: LiveServer, sku: str, quantity: int = 50) -> None:
    await product(
        server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: {quantity}}})'
    )


async def place(
    server: LiveServer, sku: str, channel: str, email: str = "q@example.com", quantity: int = 1
) -> dict[str, Any]:
    data = {
        "idempotencyKey": str(uuid.uuid4()),
        "channel": channel,
        "customer": {"email": email, "name": "Queue"},
        "shippingAddress": {"region": "EU", "postalCode": "1011"},
        "lines": [{"sku": sku, "quantity": quantity}],
    }
    payload = (await server.gql(PLACE, {"input": data})).data["placeOrder"]
    assert payload["userErrors"] == [], payload["userErrors"]
    order: dict[str, Any] = payload["order"]
    return order


async def run_job(server: LiveServer, job: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await server.gql(RUN_JOB, {"job": job})).data["runScheduledJob"]
    assert payload["ran"] is True, payload
    return payload


async def queue(
    server: LiveServer, kind: str, key: str | None = None, **variables: Any
) -> dict[str, Any]:
    variables.setdefault("first", 100)
    result = await server.gql(QUEUE, {"kind": kind, **variables}, key=key)
    found: dict[str, Any] = result.data["fulfilmentQueue"]
    return found


async def counts(server: LiveServer, key: str | None = None) -> dict[str, dict[str, Any]]:
    rows = (await server.gql(COUNTS, key=key)).data["fulfilmentCounts"]
    return {row["kind"]: row for row in rows}


def of_orders(connection: dict[str, Any], *orders: dict[str, Any]) -> list[dict[str, Any]]:
    """The list's shipments of these orders, in list order."""
    wanted = {order["id"] for order in orders}
    return [node for node in connection["nodes"] if node["order"]["id"] in wanted]


SET_FULFILMENT = """
mutation($input: SetChannelFulfilmentInput!) {
  setChannelFulfilment(input: $input) {
    fulfilment { channel slaHours cutoffTime ownCutoffTime autoConsolidate }
    userErrors { field code message }
  }
}
"""

CHANNEL_EVENTS = """
SELECT kind, actor, payload, before FROM events
WHERE subject = 'CHANNEL' AND subject_id = $1 AND kind = 'channel.fulfilment_set' ORDER BY id
"""


async def set_fulfilment(
    server: LiveServer, channel: str, sla_hours: int, cutoff: str | None = None, **extra: Any
) -> dict[str, Any]:
    result = await server.gql(
        SET_FULFILMENT,
        {"input": {"channel": channel, "slaHours": sla_hours, "cutoffTime": cutoff, **extra}},
    )
    payload: dict[str, Any] = result.data["setChannelFulfilment"]
    return payload


async def test_ops_set_a_channels_sla_cutoff_and_auto_consolidation_in_the_ledger(
    server: LiveServer,
) -> None:
    payload = await set_fulfilment(server, "b2b", 36, "16:30", autoConsolidate=True)
    assert payload == {
        "fulfilment": {
            "channel": "b2b",
            "slaHours": 36,
            "cutoffTime": "16:30",
            "ownCutoffTime": "16:30",
            "autoConsolidate": True,
        },
        "userErrors": [],
    }
    back = await set_fulfilment(server, "b2b", 72)
    assert back["fulfilment"] == {
        "channel": "b2b",
        "slaHours": 72,
        "cutoffTime": "15:00",  # the store's, OMS_DEFAULT_CUTOFF_TIME
        "ownCutoffTime": None,
        "autoConsolidate": False,
    }
    events = await server.sql(CHANNEL_EVENTS, "b2b")
    assert [(e["payload"], e["before"]) for e in events] == [
        (
            '{"slaHours": 36, "cutoffTime": "16:30", "autoConsolidate": true}',
            '{"slaHours": 72, "cutoffTime": null, "autoConsolidate": false}',
        ),
        (
            '{"slaHours": 72, "cutoffTime": null, "autoConsolidate": false}',
            '{"slaHours": 36, "cutoffTime": "16:30", "autoConsolidate": true}',
        ),
    ]


async def test_an_sla_out_of_range_or_a_cutoff_not_hh_mm_is_refused_and_changes_nothing(
    server: LiveServer,
) -> None:
    before = await server.sql("SELECT sla_hours, cutoff_time FROM channels WHERE code = 'pos'")
    for hours, cutoff, fields in (
        (0, None, [["input", "slaHours"]]),
        (721, "12:00", [["input", "slaHours"]]),
        (24, "24:00", [["input", "cutoffTime"]]),
        (24, "9:30", [["input", "cutoffTime"]]),
        (-1, "noon", [["input", "slaHours"], ["input", "cutoffTime"]]),
    ):
        payload = await set_fulfilment(server, "pos", hours, cutoff)
        assert payload["fulfilment"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (f, "INVALID") for f in fields
        ], (hours, cutoff)
    unknown = await set_fulfilment(server, "nowhere", 24)
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        (["input", "channel"], "UNKNOWN_CHANNEL")
    ]
    assert await server.sql("SELECT sla_hours, cutoff_time FROM channels WHERE code = 'pos'") == (
        before
    )
    assert await server.sql(CHANNEL_EVENTS, "pos") == []


async def test_only_ops_set_a_channels_fulfilment(server: LiveServer) -> None:
    for scope in ("channel:webstore", "storefront"):
        refused = await server.gql(
            SET_FULFILMENT,
            {"input": {"channel": "webstore", "slaHours": 1}},
            key=await server.key_with(scope),
        )
        assert [e["extensions"]["code"] for e in refused.errors] == ["FORBIDDEN"]


RECEIVE = """
mutation($input: ReceiveGoodsInput!) {
  receiveGoods(input: $input) { receipt { heldForLaunch } userErrors { code message } }
}
"""


def deadlines(nodes: list[dict[str, Any]]) -> list[tuple[datetime, str]]:
    return [(parsed(n["dispatchDeadline"]), n["id"]) for n in nodes]


async def test_a_later_marketplace_order_with_an_earlier_deadline_comes_first_in_ready_work(
    server: LiveServer,
) -> None:
    await set_fulfilment(server, "webstore", 48, "23:00")
    await set_fulfilment(server, "marketplace", 24, "23:00")
    await stocked(server, "FQ-SLA")
    server.clock.current = at(JAN, 14)  # 09:00 in New York
    webstore = await place(server, "FQ-SLA", "webstore")
    server.clock.advance(hours=2)
    marketplace = await place(server, "FQ-SLA", "marketplace")
    await run_job(server, "OPEN_SHIPMENTS")
    ready = await queue(server, "READY")
    mine = of_orders(ready, webstore, marketplace)
    assert [n["order"]["id"] for n in mine] == [marketplace["id"], webstore["id"]]
    assert [parsed(n["dispatchDeadline"]) for n in mine] == [
        at(JAN, 16) + timedelta(hours=24),  # placed 11:00 UTC, 24 h
        at(JAN, 14) + timedelta(hours=48),  # placed 09:00 UTC, 48 h
    ]
    assert [(n["kind"], n["status"], n["urgency"]) for n in mine] == [
        ("READY", "PICKING", "ON_TIME")
    ] * 2
    assert deadlines(ready["nodes"]) == sorted(deadlines(ready["nodes"]), key=_keyset)
    assert ready["totalCount"] == len(ready["nodes"])


def _keyset(item: tuple[datetime, str]) -> tuple[datetime, int]:
    return item[0], int(_raw(item[1]))


def _raw(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id).decode().split(":", 1)[1]


async def test_work_after_the_cutoff_in_the_stores_time_zone_counts_from_the_next_day(
    server: LiveServer,
) -> None:
    await set_fulfilment(server, "pos", 24, "15:00")  # 20:00 UTC in January
    await stocked(server, "FQ-CUTOFF")
    server.clock.current = at(JAN, 19, 30)  # 14:30 in New York: before the cut-off
    before = await place(server, "FQ-CUTOFF", "pos")
    server.clock.current = at(JAN, 20, 30)  # 15:30 in New York: after it
    after = await place(server, "FQ-CUTOFF", "pos")
    await run_job(server, "OPEN_SHIPMENTS")
    mine = of_orders(await queue(server, "READY"), before, after)
    assert [(n["order"]["id"], parsed(n["dispatchDeadline"])) for n in mine] == [
        (before["id"], at(JAN, 19, 30) + timedelta(hours=24)),
        # from midnight in New York (05:00 UTC) the next day
        (after["id"], at(JAN + timedelta(days=1), 5) + timedelta(hours=24)),
    ]


async def test_a_preorder_release_adds_to_the_preorder_list_and_leaves_ready_work_as_it_was(
    server: LiveServer,
) -> None:
    await set_fulfilment(server, "webstore", 48, "23:00")
    server.clock.current = at(JAN, 15)
    launch = (JAN + timedelta(days=3)).isoformat()
    await stocked(server, "FQ-READY")
    await product(
        server,
        "FQ-LAUNCH",
        f'configurePreorder(input: {{sku: "FQ-LAUNCH", enabled: true, releaseDate: "{launch}", '
        "cap: 20})",
    )
    first_ready = await place(server, "FQ-READY", "webstore")
    preorders = [await place(server, "FQ-LAUNCH", "webstore", f"p{i}@example.com") for i in (1, 2)]
    assert {o["lines"][0]["state"] for o in preorders} == {"PRE_ORDER"}
    later_ready = await place(server, "FQ-READY", "webstore")
    receipt = await server.gql(
        RECEIVE,
        {"input": {"sku": "FQ-LAUNCH", "quantity": 5, "location": "main", "reference": "L-1"}},
    )
    assert receipt.data["receiveGoods"]["receipt"]["heldForLaunch"] == 5
    await run_job(server, "OPEN_SHIPMENTS")
    ready_before = await queue(server, "READY")
    assert len(of_orders(ready_before, first_ready, later_ready)) == 2
    assert of_orders(await queue(server, "PRE_ORDER"), *preorders) == []

    server.clock.current = at(JAN + timedelta(days=3), 14)  # launch day, 09:00 in New York
    await run_job(server, "RELEASE_PREORDERS")
    await run_job(server, "OPEN_SHIPMENTS")
    released = of_orders(await queue(server, "PRE_ORDER"), *preorders)
    assert sorted(n["order"]["id"] for n in released) == sorted(o["id"] for o in preorders)
    assert {(n["kind"], parsed(n["readyAt"])) for n in released} == {
        ("PRE_ORDER", at(JAN + timedelta(days=3), 14))
    }
    ready_after = await queue(server, "READY")
    assert deadlines(ready_after["nodes"]) == deadlines(ready_before["nodes"])
    assert {n["kind"] for n in ready_after["nodes"]} == {"READY"}


async def test_at_risk_and_breached_shipments_are_listed_and_counted_held_ones_too(
    server: LiveServer,
) -> None:
    await set_fulfilment(server, "b2b", 24, "23:00")
    b2b = await server.key_with("channel:b2b")
    await stocked(server, "FQ-RISK")
    t0 = at(JAN, 14)
    server.clock.current = t0
    orders = []
    for _ in range(3):  # deadlines t0 + 24 h, + 30 h, + 36 h
        orders.append(await place(server, "FQ-RISK", "b2b"))
        server.clock.advance(hours=6)
    await run_job(server, "OPEN_SHIPMENTS")
    assert (await counts(server, b2b))["READY"] == {
        "kind": "READY",
        "open": 3,
        "onTime": 3,
        "atRisk": 0,
        "breached": 0,
        "onHold": 0,
    }

    server.clock.current = t0 + timedelta(hours=26)  # 4 h risk window (OMS_SHIPMENT_RISK_HOURS)
    listed = await queue(server, "READY", b2b)
    assert [(n["order"]["id"], n["urgency"]) for n in listed["nodes"]] == [
        (orders[0]["id"], "BREACHED"),
        (orders[1]["id"], "AT_RISK"),
        (orders[2]["id"], "ON_TIME"),
    ]
    urgent = await queue(server, "READY", b2b, urgency=["AT_RISK", "BREACHED"])
    assert [n["order"]["id"] for n in urgent["nodes"]] == [orders[0]["id"], orders[1]["id"]]
    assert urgent["totalCount"] == 2
    calm = await queue(server, "READY", b2b, urgency=["ON_TIME"])
    assert [n["order"]["id"] for n in calm["nodes"]] == [orders[2]["id"]]

    held = await server.gql(HOLD, {"id": listed["nodes"][0]["id"]})
    assert held.data["holdShipment"]["userErrors"] == []
    assert (await counts(server, b2b))["READY"] == {
        "kind": "READY",
        "open": 3,
        "onTime": 1,
        "atRisk": 1,
        "breached": 1,
        "onHold": 1,
    }
    still = await queue(server, "READY", b2b, urgency=["BREACHED"])
    assert [(n["status"], n["urgency"]) for n in still["nodes"]] == [("ON_HOLD", "BREACHED")]
    everyone = await counts(server)
    assert everyone["READY"]["breached"] >= 1
    assert everyone["READY"]["onHold"] >= 1
    assert [row["kind"] for row in (await server.gql(COUNTS)).data["fulfilmentCounts"]] == [
        "READY",
        "PRE_ORDER",
        "BACKORDER",
    ]


async def test_the_work_list_pages_by_deadline_and_refuses_bad_cursors_and_storefronts(
    server: LiveServer,
) -> None:
    await set_fulfilment(server, "b2b", 24, "23:00")
    b2b = await server.key_with("channel:b2b")
    await stocked(server, "FQ-PAGE")
    server.clock.current = at(JAN, 14)
    for _ in range(3):
        await place(server, "FQ-PAGE", "b2b")
        server.clock.advance(minutes=10)
    await run_job(server, "OPEN_SHIPMENTS")
    whole = await queue(server, "READY", b2b)
    seen: list[str] = []
    after = None
    while True:
        page = await queue(server, "READY", b2b, first=2, after=after)
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [n["id"] for n in whole["nodes"]]
    assert len(seen) >= 3

    bad = await server.gql(QUEUE, {"kind": "READY", "after": "bm90LWEtY3Vyc29y"})
    assert [e["extensions"]["code"] for e in bad.errors] == ["INVALID_CURSOR"]
    refused = await server.gql(QUEUE, {"kind": "READY"}, key=await server.key_with("storefront"))
    assert [e["extensions"]["code"] for e in refused.errors] == ["FORBIDDEN"]
    others = await queue(server, "READY", await server.key_with("channel:pos"))
    assert {n["channel"] for n in others["nodes"]} <= {"pos"}


class _Capture:
    """Stands in for a connection: keeps the statement a storage function sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.sent.append((sql, args))
        return []


async def test_the_work_list_reads_the_partial_work_index_in_deadline_order(
    server: LiveServer,
) -> None:
    capture = _Capture()
    ranges = deadline_ranges([Urgency.AT_RISK], at(JAN, 14), timedelta(hours=4))
    await work_store.work_list(capture, "READY", ranges, "b2b", (at(JAN, 14), 1), 21)  # type: ignore[arg-type]
    ((sql, args),) = capture.sent
    conn = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))
    finally:
        await conn.close()
    assert "ix_shipments_work" in plan, plan
    assert "Sort" not in plan, plan
