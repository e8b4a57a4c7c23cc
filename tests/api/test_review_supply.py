"""Review of supply, allocation, the queue and promises: each test proves one defect over HTTP
(with real concurrent connections where the defect is a race)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable, Iterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from app.services.invariants import check
from app.storage.database import to_asyncpg_dsn
from graphql_schema.relay import encode_cursor
from tests.api.test_supply_and_allocation import (
    ATP,
    CREATE_PO,
    PAUSE_ORDER,
    RECEIVE,
    RESPOND,
    RUN_JOB,
    SCHEDULE_RUN,
    SET_POLICY,
    SUPPLY_QUERY,
    UPDATE_ETA,
    backorderable,
    days,
    events,
    fresh_line,
    line,
    mutate,
    order_mutation,
    place,
    pool_view,
    product,
    purchase_order,
    read,
    run_job,
)
from tests.support import LiveServer, live_server

CANCEL_ORDER = order_mutation("cancelOrder", "CancelOrderInput")


@pytest.fixture(autouse=True)
def _restore_clock(server: LiveServer) -> Iterator[None]:
    saved = server.clock.current
    yield
    server.clock.current = saved


async def _waiting_on_locks(conn: asyncpg.Connection, count: int) -> None:
    """Until ``count`` other backends of this database wait for a row lock."""
    for _ in range(500):
        await conn.execute("SELECT pg_stat_clear_snapshot()")  # fresh view inside a transaction
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    activity = await conn.fetch(
        "SELECT state, wait_event_type, wait_event, left(query, 80) AS q FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    raise AssertionError(f"{count} lock waits expected: {[dict(r) for r in activity]}")


async def _receipt_racing(
    server: LiveServer, sku: str, quantity: int, other: Awaitable[Any]
) -> tuple[Any, Any]:
    """A receipt that has locked the SKU's pools (held at its stock row by this test) while
    ``other`` starts; then the receipt is let go. Both results."""
    holder = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "INSERT INTO stock_levels (product_id, location_code, on_hand) "
            "SELECT id, 'main', 0 FROM products WHERE sku = $1 ON CONFLICT DO NOTHING",
            sku,
        )
        locked = await holder.fetch(
            "SELECT 1 FROM stock_levels s JOIN products p ON p.id = s.product_id "
            "WHERE p.sku = $1 AND s.location_code = 'main' FOR UPDATE OF s",
            sku,
        )
        assert len(locked) == 1
        data = {"sku": sku, "quantity": quantity, "location": "main", "reference": "GRN-RACE"}
        receipt = asyncio.ensure_future(server.gql(RECEIVE, {"input": data}))
        await _waiting_on_locks(holder, 1)
        second = asyncio.ensure_future(other)
        await _waiting_on_locks(holder, 2)
        # past deadlock_timeout: the second request's own deadlock check has run (and found
        # nothing) before the receipt goes on
        await asyncio.sleep(1.3)
        await tx.commit()
        return await receipt, await second
    finally:
        await holder.close()


def order_uuid(order: dict[str, Any]) -> str:
    return base64.urlsafe_b64decode(order["id"]).decode().split(":", 1)[1]


async def _no_violations(server: LiveServer) -> None:
    violations = await check(server.services)
    assert violations == [], [str(v) for v in violations]


# ---------------------------------------------------------------- races with a receipt


async def test_a_cancellation_racing_a_receipt_neither_deadlocks_it_nor_strands_the_units_allocated_to_the_cancelled_line(
    server: LiveServer,
) -> None:
    sku = "RV-CANCEL-RACE"
    await product(server, sku, *backorderable(sku))
    order = await place(server, sku, 2)

    receipt, cancelled = await _receipt_racing(
        server,
        sku,
        2,
        server.gql(CANCEL_ORDER, {"input": {"id": order["id"], "reason": "changed my mind"}}),
    )

    assert receipt.errors == []
    assert receipt.data["receiveGoods"]["userErrors"] == []
    assert cancelled.data["cancelOrder"]["userErrors"] == []
    view = await pool_view(server, sku)
    assert view["onHand"] == 2
    assert view["RESERVED"]["committed"] == 0
    assert view["READY"]["capacity"] == 2
    await _no_violations(server)


async def test_pausing_an_order_racing_a_receipt_neither_deadlocks_it_nor_lets_the_paused_line_keep_the_units(
    server: LiveServer,
) -> None:
    sku = "RV-PAUSE-RACE"
    await product(server, sku, *backorderable(sku))
    first = await place(server, sku, 2)
    second = await place(server, sku, 2)

    receipt, paused = await _receipt_racing(
        server, sku, 2, server.gql(PAUSE_ORDER, {"id": first["id"]})
    )

    assert receipt.errors == []
    assert receipt.data["receiveGoods"]["userErrors"] == []
    assert paused.data["pauseOrder"]["userErrors"] == []
    held = await fresh_line(server, first)
    assert held["paused"] is True
    assert held["allocatedQuantity"] == 0  # OMS_PAUSE_KEEPS_ALLOCATION is false
    served = await fresh_line(server, second)
    assert (served["status"], served["allocatedQuantity"]) == ("ALLOCATED", 2)
    await _no_violations(server)


# ---------------------------------------------------------------- first promises


async def test_the_first_promise_of_a_new_line_counts_the_already_promised_lines_ahead_of_it(
    server: LiveServer,
) -> None:
    sku = "RV-FIRST-PROMISE"
    await product(server, sku, *backorderable(sku))
    await purchase_order(server, sku, 10, 10, supplier="RV-SUP")
    late = await purchase_order(server, sku, 10, 60, supplier="RV-SUP")
    first = await place(server, sku, 8)
    await run_job(server, "PROMISE_NEW_LINES")
    second = await place(server, sku, 8)
    live = (await fresh_line(server, second))["deliveryEstimate"]
    await run_job(server, "PROMISE_NEW_LINES")

    promised = await fresh_line(server, second)
    # 8 units ahead + its 8 > the 10 of the first PO: the second PO serves it
    assert promised["promiseHistory"][0]["latest"] == live["latest"]
    assert promised["promiseHistory"][0]["latest"] > late["expectedOn"]
    # nothing changed for it since: another supply far away does not "delay" it
    await purchase_order(server, sku, 5, 200, supplier="RV-SUP")
    assert events(await read(server, second), "line.delivery_delayed") == []
    assert events(await read(server, first), "line.delivery_delayed") == []


# ---------------------------------------------------------------- delay consent


async def _delayed_line(server: LiveServer, sku: str) -> dict[str, Any]:
    """An order whose only line waits for a delay answer (REQUESTED)."""
    await product(server, sku, *backorderable(sku), price=2000)
    po = await purchase_order(server, sku, 10, 10, supplier="RV-CONSENT")
    order = await place(server, sku, 2)
    await run_job(server, "PROMISE_NEW_LINES")
    moved = await server.gql(
        UPDATE_ETA, {"input": {"id": po["id"], "expectedOn": days(server, 60), "reason": "fire"}}
    )
    assert moved.data["updateSupplyEta"]["userErrors"] == []
    assert (await fresh_line(server, order))["delayConsent"] == "REQUESTED"
    return order


async def test_a_delay_accepted_while_the_customers_cancel_is_in_flight_is_not_cancelled_after_all(
    server: LiveServer,
) -> None:
    order = await _delayed_line(server, "RV-CONSENT-RACE")
    line_id = line(order)["id"]
    holder = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE", uuid.UUID(order_uuid(order))
        )
        cancel = asyncio.ensure_future(
            server.gql(RESPOND, {"input": {"orderLineId": line_id, "decision": "CANCEL"}})
        )
        await _waiting_on_locks(holder, 1)  # checked REQUESTED, now cancelling
        accept = await server.gql(
            RESPOND, {"input": {"orderLineId": line_id, "decision": "ACCEPT"}}
        )
        await tx.commit()
        cancelled = await cancel
    finally:
        await holder.close()

    accepted_ok = accept.data["respondToDelay"]["userErrors"] == []
    cancelled_ok = cancelled.data["respondToDelay"]["userErrors"] == []
    assert accepted_ok != cancelled_ok, (accept.body, cancelled.body)
    final = await fresh_line(server, order)
    if accepted_ok:
        assert (final["status"], final["delayConsent"]) == ("WAITING", "ACCEPTED")
        assert final["paymentSummary"]["refunded"]["amountMinor"] == 0
    await _no_violations(server)


async def test_the_no_answer_policy_leaves_lines_cancelled_meanwhile_alone(
    server: LiveServer,
) -> None:
    order = await _delayed_line(server, "RV-CONSENT-CLOSED")
    gone = await server.gql(CANCEL_ORDER, {"input": {"id": order["id"], "reason": "moved on"}})
    assert gone.data["cancelOrder"]["userErrors"] == []
    server.clock.advance(days=30)

    ran = await run_job(server, "EXPIRE_DELAY_CONSENTS")

    # nothing closed for the job to take (it takes 500 a run: closed lines picked again and
    # again would starve the open ones under the CANCEL policy)
    assert ran["result"] == 0
    found = await read(server, order)
    assert line(found)["status"] == "CANCELLED"
    assert line(found)["delayConsent"] != "DEFAULT_ACCEPTED"
    assert events(found, "line.delay_accepted") == []


# ---------------------------------------------------------------- bad input


BAD_INPUT = [
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
        if result.errors:
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


# ---------------------------------------------------------------- promises that stay true

TAG_ORDER = order_mutation("tagOrder", "TagOrderInput")


async def _priority_sku(server: LiveServer, sku: str) -> tuple[dict[str, Any], dict[str, Any]]:
    await product(server, sku, *backorderable(sku))
    await mutate(server, SET_POLICY, "setAllocationPolicy", sku=sku, policy="PRIORITY_FIRST")
    soon = await purchase_order(server, sku, 10, 10, supplier="RV-PRIO")
    late = await purchase_order(server, sku, 10, 60, supplier="RV-PRIO")
    return soon, late


async def test_tagging_an_order_priority_re_promises_the_lines_it_jumps_ahead_of(
    server: LiveServer,
) -> None:
    soon, late = await _priority_sku(server, "RV-PRIO-TAG")
    plain = await place(server, "RV-PRIO-TAG", 8)
    tagged = await place(server, "RV-PRIO-TAG", 8)
    await run_job(server, "PROMISE_NEW_LINES")
    before = await fresh_line(server, plain)
    assert before["deliveryEstimate"]["latest"] < late["expectedOn"]

    await mutate(server, TAG_ORDER, "tagOrder", input={"id": tagged["id"], "add": ["PRIORITY"]})

    jumped = await read(server, plain)
    assert line(jumped)["deliveryEstimate"]["latest"] > late["expectedOn"]
    assert len(events(jumped, "line.delivery_delayed")) == 1
    ahead = await fresh_line(server, tagged)
    assert ahead["deliveryEstimate"]["latest"] < late["expectedOn"]
    assert soon["expectedOn"] < ahead["deliveryEstimate"]["latest"]


async def test_a_priority_order_placed_ahead_of_promised_lines_re_promises_them_with_the_first_promise_job(
    server: LiveServer,
) -> None:
    marketplace = await server.key_with("channel:marketplace")
    await product(server, "RV-PRIO-SEED", *backorderable("RV-PRIO-SEED"))
    await place(server, "RV-PRIO-SEED", 1, email="rv-vip@example.com")
    await mutate(
        server,
        'mutation { setCustomerPriority(input: {email: "rv-vip@example.com", priority: true}) '
        "{ email priority userErrors { field code message } } }",
        "setCustomerPriority",
    )
    _soon, late = await _priority_sku(server, "RV-PRIO-PLACE")
    plain = await place(server, "RV-PRIO-PLACE", 8)
    await run_job(server, "PROMISE_NEW_LINES")
    vip = await place(
        server,
        "RV-PRIO-PLACE",
        8,
        key=marketplace,
        channel="marketplace",
        email="rv-vip@example.com",
    )
    assert "PRIORITY" in vip["tags"]

    await run_job(server, "PROMISE_NEW_LINES")

    jumped = await read(server, plain)
    assert line(jumped)["deliveryEstimate"]["latest"] > late["expectedOn"]
    assert len(events(jumped, "line.delivery_delayed")) == 1
    assert (await fresh_line(server, vip))["deliveryEstimate"]["latest"] < late["expectedOn"]


async def test_the_cancel_on_no_answer_policy_does_not_cancel_a_line_whose_delay_is_gone_again(
    server: LiveServer,
) -> None:
    sku = "RV-CONSENT-GONE"
    await product(server, sku, *backorderable(sku), price=2000)
    po = await purchase_order(server, sku, 10, 10, supplier="RV-GONE")
    order = await place(server, sku, 2)
    await run_job(server, "PROMISE_NEW_LINES")
    first = (await fresh_line(server, order))["deliveryEstimate"]
    for when in (60, 10):  # a long slip, then the supplier makes it after all
        moved = await server.gql(
            UPDATE_ETA,
            {"input": {"id": po["id"], "expectedOn": days(server, when), "reason": "news"}},
        )
        assert moved.data["updateSupplyEta"]["userErrors"] == []
    back = await fresh_line(server, order)
    assert back["delayConsent"] == "REQUESTED"
    # within the threshold of the first promise again (a slip widens the window 3 days)
    gap = date.fromisoformat(back["deliveryEstimate"]["latest"]) - date.fromisoformat(
        first["latest"]
    )
    assert gap <= timedelta(days=14)

    async with live_server(server.database_url, delay_no_answer_policy="CANCEL") as strict:
        strict.clock.current = server.clock.current + timedelta(days=8)
        ran = await strict.gql(RUN_JOB, {"job": "EXPIRE_DELAY_CONSENTS"})
        assert ran.data["runScheduledJob"]["ran"] is True

    kept = await fresh_line(server, order)
    assert kept["status"] == "WAITING"
    assert kept["delayConsent"] == "DEFAULT_ACCEPTED"
    assert kept["paymentSummary"]["refunded"]["amountMinor"] == 0


async def test_a_supply_cursor_past_bigint_or_with_unicode_digits_is_invalid_cursor_not_an_unexpected_error(
    server: LiveServer,
) -> None:
    for value in ("9" * 30, "\u00b2", "\u0663"):
        cursor = encode_cursor("supply", value)
        result = await server.gql(
            "query($after: String) { supply(after: $after) { nodes { id } } }", {"after": cursor}
        )
        assert [e["extensions"]["code"] for e in result.errors] == ["INVALID_CURSOR"], value
