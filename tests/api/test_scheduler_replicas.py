"""The scheduled jobs run in every replica and are safe together: two replicas with their
schedulers on release a launch exactly once, and each waiting line gets one first promise."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from app.services.scheduler import Job
from tests.support import LiveServer, live_server

PLACE = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id lines { status } } userErrors { code message } }
}
"""


async def _admin(server: LiveServer, body: str) -> None:
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def _place(server: LiveServer, sku: str, quantity: int) -> dict[str, Any]:
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "R"},
                "shippingAddress": {"region": "EU"},
                "lines": [{"sku": sku, "quantity": quantity}],
            }
        },
    )
    payload: dict[str, Any] = result.data["placeOrder"]
    assert payload["userErrors"] == [], payload
    return payload


async def _wait_for(server: LiveServer, sql: str, expected: int) -> int:
    found = -1
    for _ in range(200):
        found = (await server.sql(sql))[0]["n"]
        if found >= expected:
            return int(found)
        await asyncio.sleep(0.05)
    return int(found)


async def test_two_replicas_with_schedulers_release_a_launch_once_and_promise_each_line_once(
    server: LiveServer,
) -> None:
    launch = server.services.today() + timedelta(days=1)
    await _admin(
        server,
        'a: createProduct(input: {sku: "SCH-1", name: "S", '
        "price: {amountMinor: 100, currency: EUR}}) { userErrors { code message } } "
        f'b: configurePreorder(input: {{sku: "SCH-1", enabled: true, releaseDate: "{launch}"}})'
        " { userErrors { code message } }",
    )
    for quantity in (1, 2, 1, 3):
        await _place(server, "SCH-1", quantity)
    receipt = await server.gql(
        'mutation { receiveGoods(input: {sku: "SCH-1", quantity: 5, location: "main", '
        'reference: "GRN-SCH"}) { receipt { heldForLaunch } userErrors { code } } }'
    )
    assert receipt.data["receiveGoods"]["receipt"] == {"heldForLaunch": 5}
    now = server.clock.current + timedelta(days=1)
    async with (
        live_server(server.database_url, scheduler_seconds=0.05) as one,
        live_server(server.database_url, scheduler_seconds=0.05) as two,
    ):
        one.clock.current = now
        two.clock.current = now
        released = await _wait_for(
            one,
            "SELECT count(*) AS n FROM events WHERE kind = 'sku.released' AND subject_id = 'SCH-1'",
            1,
        )
        await asyncio.sleep(0.3)  # several more rounds of both schedulers
        rows = await one.sql(
            "SELECT "
            "(SELECT count(*) FROM events WHERE kind = 'sku.released' "
            " AND subject_id = 'SCH-1') AS releases, "
            "(SELECT count(*) FROM events e JOIN order_lines l ON l.id = e.line_id "
            " WHERE l.sku = 'SCH-1' AND e.kind = 'line.released') AS release_events, "
            "(SELECT count(*) FROM events e JOIN order_lines l ON l.id = e.line_id "
            " WHERE l.sku = 'SCH-1' AND e.kind = 'line.allocated') AS allocations, "
            "(SELECT sum(allocated) FROM order_lines WHERE sku = 'SCH-1') AS allocated, "
            "(SELECT count(*) FROM line_promises p JOIN order_lines l ON l.id = p.line_id "
            " WHERE l.sku = 'SCH-1' AND p.cause = 'PLACED') AS first_promises, "
            "(SELECT count(*) FROM scheduler_runs WHERE runs > 0) AS jobs_run"
        )
    assert released == 1
    assert dict(rows[0]) == {
        "releases": 1,
        "release_events": 4,
        # 5 units held for the launch: the first three orders (1 + 2 + 1) in full, then 1 of 3
        "allocations": 4,
        "allocated": 5,
        "first_promises": 4,
        "jobs_run": len(Job),  # every job ran (one replica at a time)
    }
