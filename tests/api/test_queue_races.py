"""Queue races over real concurrent connections: a cancellation or a pause racing a receipt, and a
delay ACCEPT racing a CANCEL, end consistently and never deadlock."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Awaitable
from typing import Any

import asyncpg

from app.services.invariants import check
from app.storage.database import to_asyncpg_dsn
from tests.api.queue_helpers import CANCEL_ORDER, delayed_line
from tests.api.test_supply_and_allocation import (
    PAUSE_ORDER,
    RECEIVE,
    RESPOND,
    backorderable,
    fresh_line,
    line,
    place,
    pool_view,
    product,
)
from tests.support import LiveServer


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


# ---------------------------------------------------------------- an ACCEPT racing a CANCEL


async def test_a_delay_accepted_while_the_customers_cancel_is_in_flight_is_not_cancelled_after_all(
    server: LiveServer,
) -> None:
    order = await delayed_line(server, "RV-CONSENT-RACE")
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
