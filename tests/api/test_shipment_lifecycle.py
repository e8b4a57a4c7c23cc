"""Shipments over HTTP, one lifecycle per state: a READY order's shipment is opened by the
OPEN_SHIPMENTS job, a pre-order's at its launch, a backorder's at its receipt; each goes
PICKING → PACKED → AWAITING_SHIPMENT → DISPATCHED → DELIVERED, and its moves are in the
order's history. Every move the state machine does not allow is refused and changes nothing;
a hold goes back to the step it was held at; a cancelled shipment's lines wait for the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.domain.shipments import dispatch_deadline
from app.services.invariants import check
from tests.api import test_query_counts as query_counts
from tests.api.placement_helpers import placed, product
from tests.api.shipment_helpers import (
    ADVANCE,
    CANCEL,
    DELIVER,
    DISPATCH,
    HOLD,
    RELEASE,
    accuracy,
    day_after,
    kinds,
    move,
    moved,
    open_shipments,
    order_view,
    parcel,
    receive,
    run_job,
    shipment,
    shipments_of,
    stock_view,
    the_shipment,
    to_awaiting,
)
from tests.support import LiveServer


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _arrival(server: LiveServer, order_id: str) -> None:
    """Move the clock to the earliest day of the line's first dated promise (two days on for
    a line that had none)."""
    line = (await order_view(server, order_id))["lines"][0]
    first = next((p for p in line["promiseHistory"] if p["earliest"]), None)
    if first is None:
        server.clock.advance(days=2)
    else:
        server.clock.set_today(date.fromisoformat(first["earliest"]))


async def _walk_to_delivered(
    server: LiveServer, found: dict[str, Any], sku: str, quantity: int
) -> dict[str, Any]:
    """PICKING → PACKED → AWAITING_SHIPMENT → DISPATCHED → DELIVERED, checking each step; it
    arrives on the first day its first dated promise said."""
    sid = found["id"]
    assert found["status"] == "PICKING"
    packed = await moved(server, ADVANCE, id=sid)
    assert (packed["status"], packed["packedAt"] is not None) == ("PACKED", True)
    awaiting = await moved(server, ADVANCE, id=sid)
    assert awaiting["status"] == "AWAITING_SHIPMENT"
    assert awaiting["urgency"] in ("ON_TIME", "AT_RISK", "BREACHED")
    before = await stock_view(server, sku)
    track = parcel()
    dispatched = await moved(server, DISPATCH, id=sid, **track)
    assert dispatched["status"] == "DISPATCHED"
    assert (dispatched["carrier"], dispatched["trackingNumber"], dispatched["trackingUrl"]) == (
        track["carrier"],
        track["trackingNumber"],
        track["trackingUrl"],
    )
    assert dispatched["urgency"] is None  # no longer in the warehouse
    assert {x["status"] for x in dispatched["lines"]} == {"SHIPPED"}
    after = await stock_view(server, sku)
    assert after["onHand"] == before["onHand"] - quantity
    assert after["RESERVED"] == 0
    await _arrival(server, found["order"]["id"])
    delivered = await moved(server, DELIVER, id=sid, deliveredOn=day_after(server))
    assert (delivered["status"], delivered["deliveredOn"]) == ("DELIVERED", day_after(server))
    assert {x["deliveredOn"] for x in delivered["lines"]} == {day_after(server)}
    assert kinds(delivered["events"]) == [
        "SHIPMENT_CREATED",
        "SHIPMENT_ADVANCED",
        "SHIPMENT_ADVANCED",
        "SHIPMENT_DISPATCHED",
        "SHIPMENT_DELIVERED",
    ]
    return delivered


async def test_a_ready_order_ships_from_the_job_opened_shipment_through_every_step(
    server: LiveServer,
) -> None:
    sku = "SH-READY"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 5}})')
    order = await placed(server, [{"sku": sku, "quantity": 2}])
    assert await shipments_of(server, order["id"]) == []  # placement opens nothing
    result = await open_shipments(server)
    assert result["opened"] >= 1
    found = await the_shipment(server, order["id"])
    assert (found["kind"], found["status"]) == ("READY", "PICKING")
    assert found["number"].startswith("SH-")
    # READY work could start at the placement; its deadline follows the channel's SLA
    assert _ts(found["readyAt"]) == _ts(order["placedAt"])
    (channel,) = await server.sql("SELECT sla_hours FROM channels WHERE code = 'webstore'")
    expected = dispatch_deadline(
        _ts(order["placedAt"]),
        channel["sla_hours"],
        datetime.strptime(server.services.settings.default_cutoff_time, "%H:%M").time(),
        server.services.settings.store_timezone,
    )
    assert _ts(found["dispatchDeadline"]) == expected
    assert [x["id"] for x in found["lines"]] == [x["id"] for x in order["lines"]]
    assert found["order"]["id"] == order["id"]
    again = await open_shipments(server)
    assert again.get("opened") is None  # nothing twice
    delivered = await _walk_to_delivered(server, found, sku, 2)
    view = await order_view(server, order["id"])
    assert view["status"] == "COMPLETED"
    assert view["lines"][0]["shipment"]["id"] == delivered["id"]
    history = kinds(view["events"])
    for kind in ("SHIPMENT_CREATED", "LINE_SHIPPED", "SHIPMENT_DISPATCHED", "SHIPMENT_DELIVERED"):
        assert kind in history
    assert history.index("SHIPMENT_DISPATCHED") > history.index("SHIPMENT_CREATED")
    # READY lines had no promised window: promise accuracy counts pre-orders and backorders
    assert await accuracy(server, sku) == (0, 0)


async def test_a_backorder_ships_once_received_and_its_delivery_counts_in_promise_accuracy(
    server: LiveServer,
) -> None:
    sku = "SH-BACK"
    await product(
        server,
        sku,
        f'setStock(input: {{sku: "{sku}", location: "main", quantity: 0}})',
        f'configureBackorder(input: {{sku: "{sku}", allowed: true, '
        "paymentTerms: {kind: DEPOSIT, depositPercent: 20}})",
    )
    order = await placed(server, [{"sku": sku, "quantity": 2}])
    assert order["lines"][0]["state"] == "BACKORDER"
    await open_shipments(server)
    assert await shipments_of(server, order["id"]) == []  # waiting: nothing to ship yet
    await receive(server, sku, 2)
    # the receipt's allocation opened the shipment in its own transaction
    found = await the_shipment(server, order["id"])
    assert (found["kind"], found["status"]) == ("BACKORDER", "PICKING")
    view = await order_view(server, order["id"])
    assert view["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 1600
    delivered = await _walk_to_delivered(server, found, sku, 2)
    view = await order_view(server, order["id"])
    balance = [p for p in view["payments"] if p["note"] == "balance captured at dispatch"]
    assert [(p["kind"], p["amount"]["amountMinor"]) for p in balance] == [("CAPTURE", 1600)]
    assert view["paymentSummary"]["dueAtDispatch"]["amountMinor"] == 0
    assert delivered["lines"][0]["deliveredOn"] is not None
    assert await accuracy(server, sku) == (1, 1)


async def test_a_pre_order_ships_after_its_launch_and_receipt(server: LiveServer) -> None:
    sku = "SH-PRE"
    launch = server.services.today() + timedelta(days=5)
    await product(
        server,
        sku,
        f'configurePreorder(input: {{sku: "{sku}", enabled: true, '
        f'releaseDate: "{launch.isoformat()}"}})',
    )
    order = await placed(server, [{"sku": sku, "quantity": 1}])
    assert order["lines"][0]["state"] == "PRE_ORDER"
    await receive(server, sku, 1)  # before the launch: held for the pre-orders
    await open_shipments(server)
    assert await shipments_of(server, order["id"]) == []
    server.clock.set_today(launch)
    await run_job(server, "RELEASE_PREORDERS")
    found = await the_shipment(server, order["id"])
    assert (found["kind"], found["status"]) == ("PRE_ORDER", "PICKING")
    assert _ts(found["readyAt"]) == server.clock.current.astimezone(UTC)
    await _walk_to_delivered(server, found, sku, 1)
    assert await accuracy(server, sku) == (1, 1)


# ---------------------------------------------------------------- the state machine

ILLEGAL_FROM = {
    # status: the moves that must be refused
    "PICKING": ("release", "dispatch", "deliver"),
    "PACKED": ("release", "dispatch", "deliver"),
    "AWAITING_SHIPMENT": ("advance", "release", "deliver"),
    "ON_HOLD": ("advance", "hold", "dispatch", "deliver"),
    "DISPATCHED": ("advance", "hold", "release", "dispatch", "cancel"),
    "DELIVERED": ("advance", "hold", "release", "dispatch", "deliver", "cancel"),
    "CANCELLED": ("advance", "hold", "release", "dispatch", "deliver", "cancel"),
}


async def _attempt(server: LiveServer, what: str, sid: str) -> dict[str, Any]:
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "advance": (ADVANCE, {}),
        "hold": (HOLD, {"reason": "OTHER"}),
        "release": (RELEASE, {}),
        "dispatch": (DISPATCH, parcel()),
        "deliver": (DELIVER, {"deliveredOn": day_after(server)}),
        "cancel": (CANCEL, {"reason": "test"}),
    }
    document, extra = documents[what]
    return await move(server, document, id=sid, **extra)


async def _ready_shipment(server: LiveServer, sku: str) -> dict[str, Any]:
    order = await placed(server, [{"sku": sku, "quantity": 1}])
    await open_shipments(server)
    return await the_shipment(server, order["id"])


async def _in_status(server: LiveServer, sku: str, status: str) -> dict[str, Any]:
    found = await _ready_shipment(server, sku)
    sid = found["id"]
    if status == "PICKING":
        return found
    if status == "CANCELLED":
        return await moved(server, CANCEL, id=sid)
    if status == "ON_HOLD":
        return await moved(server, HOLD, id=sid, reason="DAMAGED")
    found = await moved(server, ADVANCE, id=sid)
    if status == "PACKED":
        return found
    found = await moved(server, ADVANCE, id=sid)
    if status == "AWAITING_SHIPMENT":
        return found
    found = await moved(server, DISPATCH, id=sid, **parcel())
    if status == "DISPATCHED":
        return found
    return await moved(server, DELIVER, id=sid, deliveredOn=day_after(server))


@pytest.mark.parametrize("status", list(ILLEGAL_FROM))
async def test_every_move_the_state_machine_forbids_is_refused_and_changes_nothing(
    server: LiveServer, status: str
) -> None:
    sku = f"SH-ILL-{status}"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})')
    found = await _in_status(server, sku, status)
    assert found["status"] == status
    for what in ILLEGAL_FROM[status]:
        payload = await _attempt(server, what, found["id"])
        codes = [e["code"] for e in payload["userErrors"]]
        assert codes == ["INVALID_TRANSITION"], (status, what, payload["userErrors"])
        assert payload["userErrors"][0]["message"]
        now = await shipment(server, found["id"])
        assert now["status"] == status, (status, what)
        assert kinds(now["events"]) == kinds(found["events"]), (status, what)


@pytest.mark.parametrize("step", ["PICKING", "PACKED", "AWAITING_SHIPMENT"])
async def test_a_held_shipment_is_released_back_to_the_step_it_was_held_at(
    server: LiveServer, step: str
) -> None:
    sku = f"SH-HOLD-{step}"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})')
    found = await _in_status(server, sku, step)
    held = await moved(server, HOLD, id=found["id"], reason="ADDRESS_PROBLEM", note="Flat 3?")
    assert (held["status"], held["heldFrom"], held["holdReason"], held["holdNote"]) == (
        "ON_HOLD",
        step,
        "ADDRESS_PROBLEM",
        "Flat 3?",
    )
    listed = await server.gql(
        "query { shipments(filter: {status: ON_HOLD}) { nodes { id holdReason } } }"
    )
    assert {"id": found["id"], "holdReason": "ADDRESS_PROBLEM"} in listed.data["shipments"]["nodes"]
    released = await moved(server, RELEASE, id=found["id"])
    assert (released["status"], released["heldFrom"]) == (step, None)
    assert kinds(released["events"])[-2:] == ["SHIPMENT_HELD", "SHIPMENT_RELEASED"]
    # the note is the shipment's (ops'): the order's history, which token holders read too,
    # carries the reason only
    held_event = next(e for e in released["events"] if e["kind"] == "SHIPMENT_HELD")
    assert held_event["payload"]["reason"] == "ADDRESS_PROBLEM"
    assert "note" not in held_event["payload"]


async def test_a_cancelled_shipment_lets_its_lines_wait_for_the_next_one(
    server: LiveServer,
) -> None:
    sku = "SH-CANCEL"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})')
    found = await _in_status(server, sku, "PACKED")
    order_id = found["order"]["id"]
    cancelled = await moved(server, CANCEL, id=found["id"], reason="wrong box")
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancelledAt"] is not None
    assert [x["id"] for x in cancelled["lines"]] == [x["id"] for x in found["lines"]]  # history
    view = await order_view(server, order_id)
    assert view["lines"][0]["shipment"] is None
    assert view["lines"][0]["status"] == "RESERVED"
    await open_shipments(server)
    second = [s for s in await shipments_of(server, order_id) if s["status"] == "PICKING"]
    assert len(second) == 1
    assert second[0]["id"] != found["id"]
    assert [x["id"] for x in second[0]["lines"]] == [x["id"] for x in found["lines"]]


async def test_a_shipment_whose_lines_were_all_cancelled_is_cancelled_by_the_job(
    server: LiveServer,
) -> None:
    sku = "SH-EMPTY"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})')
    found = await _ready_shipment(server, sku)
    order_id = found["order"]["id"]
    result = await server.gql(
        'mutation($id: ID!) { cancelOrder(input: {id: $id, reason: "gone"}) '
        "{ userErrors { code } } }",
        {"id": order_id},
    )
    assert result.data["cancelOrder"]["userErrors"] == []
    refused = await move(
        server, DISPATCH, id=(await to_awaiting(server, found["id"]))["id"], **parcel()
    )
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_DISPATCHABLE"]
    assert (await open_shipments(server))["closedEmpty"] >= 1
    now = await shipment(server, found["id"])
    assert now["status"] == "CANCELLED"
    assert now["events"][-1]["payload"]["reason"] == "no line left to ship"


async def test_shipments_need_a_key_and_another_channels_key_sees_none(
    server: LiveServer,
) -> None:
    sku = "SH-AUTH"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 3}})')
    found = await _ready_shipment(server, sku)
    storefront = await server.key_with("storefront")
    other = await server.key_with("channel:b2b")
    own = await server.key_with("channel:webstore")
    denied = await server.gql(
        "query($id: ID!) { shipment(id: $id) { id } }", {"id": found["id"]}, key=storefront
    )
    assert [e["extensions"]["code"] for e in denied.errors] == ["FORBIDDEN"]
    anonymous = await server.gql(
        "query($id: ID!) { shipment(id: $id) { id } }", {"id": found["id"]}, anonymous=True
    )
    assert [e["extensions"]["code"] for e in anonymous.errors] == ["UNAUTHENTICATED"]
    assert await shipment(server, found["id"], key=other) is None
    assert (await shipment(server, found["id"], key=own))["id"] == found["id"]
    node = await server.gql(
        "query($id: ID!) { node(id: $id) { id ... on Shipment { number } } }",
        {"id": found["id"]},
        key=other,
    )
    assert node.data["node"] is None
    hidden = await move(server, ADVANCE, key=other, id=found["id"])
    assert [e["code"] for e in hidden["userErrors"]] == ["NOT_FOUND"]
    assert (await shipment(server, found["id"]))["status"] == "PICKING"
    listed = await server.gql("query { shipments(first: 100) { nodes { id channel } } }", key=other)
    assert all(s["channel"] == "b2b" for s in listed.data["shipments"]["nodes"])


async def test_a_page_of_shipments_with_their_orders_lines_and_events_costs_a_fixed_number_of_statements(
    server: LiveServer,
) -> None:
    sku = "SH-COUNT"
    await product(server, sku, f'setStock(input: {{sku: "{sku}", location: "main", quantity: 40}})')
    for _ in range(12):
        await placed(server, [{"sku": sku, "quantity": 1}, {"sku": sku, "quantity": 2}])
    await open_shipments(server)
    page = (
        "query($n: Int!) { shipments(first: $n, filter: {kind: READY}) { nodes { "
        "number urgency order { number } orders { number } lines { sku status shipment { id } } "
        "events { kind } } } }"
    )
    await server.gql(page, {"n": 12})  # the pools open what the request needs
    with query_counts.count_statements(server) as small:
        result = await server.gql(page, {"n": 2})
    assert len(result.data["shipments"]["nodes"]) == 2
    with query_counts.count_statements(server) as large:
        result = await server.gql(page, {"n": 12})
    assert len(result.data["shipments"]["nodes"]) == 12
    assert len(large) == len(small), large


async def test_after_all_of_the_above_no_invariant_is_violated(server: LiveServer) -> None:
    violations = await check(server.services)
    assert [v for v in violations if v.is_error] == [], [str(v) for v in violations]
