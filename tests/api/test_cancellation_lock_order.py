"""Cancellation keeps the global pool lock order, so it never deadlocks with placement."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from app.storage.database import to_asyncpg_dsn
from tests.support import LiveServer

PLACE = """
mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id lines { sku reservedPool reservedChannel } } userErrors { code message } } }
"""
CANCEL = """
mutation($id: ID!) { cancelOrder(input: {id: $id}) { order { status } userErrors { code } } }
"""


async def _mutate(server: LiveServer, body: str) -> None:
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


def _input(channel: str, lines: list[dict[str, Any]], email: str) -> dict[str, Any]:
    return {
        "input": {
            "idempotencyKey": str(uuid.uuid4()),
            "channel": channel,
            "customer": {"email": email, "name": "Lock"},
            "lines": lines,
        }
    }


async def _lock_waiters(server: LiveServer) -> int:
    rows = await server.sql(
        "SELECT count(*) AS n FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(rows[0]["n"])


async def _until_waiters(server: LiveServer, n: int) -> None:
    for _ in range(200):
        if await _lock_waiters(server) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {n} lock waiters")


async def test_cancelling_a_channel_line_does_not_deadlock_with_a_placement(
    server: LiveServer,
) -> None:
    await _mutate(
        server,
        """a: createProduct(input: {sku: "RV-DL-A", name: "A", price: {amountMinor: 100, currency: EUR}})
             { userErrors { code } }
           b: setStock(input: {sku: "RV-DL-A", location: "main", quantity: 10})
             { userErrors { code } }
           c: allocateChannelPool(input: {sku: "RV-DL-A", channel: "marketplace", quantity: 2})
             { userErrors { code } }
           d: allocateChannelPool(input: {sku: "RV-DL-A", channel: "pos", quantity: 2})
             { userErrors { code } }
           e: createProduct(input: {sku: "RV-DL-B", name: "B", price: {amountMinor: 100, currency: EUR}})
             { userErrors { code } }
           f: setStock(input: {sku: "RV-DL-B", location: "main", quantity: 10})
             { userErrors { code } }""",
    )
    placed = await server.gql(
        PLACE,
        _input(
            "marketplace",
            [{"sku": "RV-DL-A", "quantity": 1}, {"sku": "RV-DL-B", "quantity": 1}],
            "victim@example.com",
        ),
    )
    order = placed.data["placeOrder"]["order"]
    assert [(ln["sku"], ln["reservedPool"]) for ln in order["lines"]] == [
        ("RV-DL-A", "CHANNEL"),
        ("RV-DL-B", "READY"),
    ]
    (pos_pool,) = await server.sql(
        "SELECT ip.id FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
        "WHERE p.sku = 'RV-DL-A' AND ip.kind = 'CHANNEL' AND ip.channel_code = 'pos'"
    )
    # A bystander (e.g. an admin write) briefly holds another channel row of SKU A.
    holder = await asyncpg.connect(to_asyncpg_dsn(server.database_url))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "SELECT 1 FROM inventory_pools WHERE id = $1 FOR UPDATE", pos_pool["id"]
        )
        base = await _lock_waiters(server)
        # The cancel releases A.CHANNEL and B.READY, then waits in recompute_ready_raw(A).
        cancel = asyncio.create_task(server.gql(CANCEL, {"id": order["id"]}))
        await _until_waiters(server, base + 1)
        # A placement takes A.READY then waits for B.READY (held by the cancel).
        place = asyncio.create_task(
            server.gql(
                PLACE,
                _input(
                    "webstore",
                    [{"sku": "RV-DL-A", "quantity": 1}, {"sku": "RV-DL-B", "quantity": 1}],
                    "other@example.com",
                ),
            )
        )
        # Before the fix the placement then waited on B.READY behind the cancel: a cycle.
        # Now the cancel locks every pool of A and B up front in the global order, so the
        # placement either completes or waits behind it, never the other way round.
        for _ in range(50):
            if place.done() or await _lock_waiters(server) >= base + 2:
                break
            await asyncio.sleep(0.02)
        await tx.rollback()
        cancelled, other = await asyncio.gather(cancel, place)
    finally:
        await holder.close()
    errors = (cancelled.errors, other.errors)
    assert errors == ([], []), errors
    assert cancelled.data["cancelOrder"]["order"]["status"] == "CANCELLED"
    assert other.data["placeOrder"]["userErrors"] == []
