"""Placement's inventory wake-ups are sent after COMMIT, one NOTIFY per window per replica for
all the SKUs placed in it, and still drop every replica's cached anonymous answers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from app.storage.database import to_asyncpg_dsn
from app.storage.notify import INVENTORY_CHANNEL, CoalescingNotifier
from tests.support import LiveServer, live_server

WINDOW_MS = 1000  # wide, so that placements sent together surely land in one window

PLACE = """mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { number } userErrors { code message } } }"""

PDP = """query Pdp($sku: String!) { productAvailability(sku: $sku) { availableQuantity } }"""


@pytest_asyncio.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[LiveServer]:
    async with live_server(
        database_url, notify_coalesce_ms=WINDOW_MS, pdp_cache_seconds=30
    ) as live:
        await _wait_for_listener(live)
        yield live


async def _wait_for_listener(live: LiveServer) -> None:
    for _ in range(250):
        if live.app.state.listener.connected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("change listener never connected")


async def _products(server: LiveServer, skus: list[str], stock: int) -> None:
    body = " ".join(
        f'c{i}: createProduct(input: {{sku: "{sku}", name: "{sku}"}}) {{ userErrors {{ code }} }} '
        f's{i}: setStock(input: {{sku: "{sku}", location: "main", quantity: {stock}}}) '
        "{ userErrors { code } }"
        for i, sku in enumerate(skus)
    )
    result = await server.gql(f"mutation {{ {body} }}")
    for payload in result.data.values():
        assert payload["userErrors"] == [], payload


async def _place(server: LiveServer, sku: str) -> None:
    result = await server.gql(
        PLACE,
        {
            "input": {
                "idempotencyKey": str(uuid.uuid4()),
                "channel": "webstore",
                "customer": {"email": f"{uuid.uuid4().hex}@example.com", "name": "Ada"},
                "shippingAddress": {"region": "EU", "postalCode": "1011"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    )
    assert result.data["placeOrder"]["userErrors"] == []


async def _available(server: LiveServer, sku: str) -> int:
    response = await server.client.post("/graphql", json={"query": PDP, "variables": {"sku": sku}})
    quantity: int = response.json()["data"]["productAvailability"]["availableQuantity"]
    return quantity


async def _listen(url: str) -> tuple[asyncpg.Connection, asyncio.Queue[str]]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    received: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(
        INVENTORY_CHANNEL, lambda _c, _p, _ch, payload: received.put_nowait(payload)
    )
    return conn, received


async def test_placements_within_one_window_send_one_notify_with_all_their_skus(
    server: LiveServer,
) -> None:
    skus = [f"COAL-{i}" for i in range(6)]
    await _products(server, skus, 10)
    conn, received = await _listen(server.database_url)
    try:
        started = time.monotonic()
        await asyncio.gather(*(_place(server, sku) for sku in skus + skus[:2]))
        placed_in = time.monotonic() - started
        payload = await asyncio.wait_for(received.get(), timeout=WINDOW_MS / 1000 + 5)
        # nothing else follows: every placement was in that one window
        await asyncio.sleep(WINDOW_MS / 1000 + 0.3)
        assert received.empty(), [payload, received.get_nowait()]
    finally:
        await conn.close()
    assert placed_in < WINDOW_MS / 1000, "placements were too slow to share one window"
    assert payload.split(",") == sorted(skus)


async def test_a_placement_on_another_replica_drops_the_cached_answer_within_the_window(
    server: LiveServer,
) -> None:
    window = 0.1
    await _products(server, ["COAL-X"], 5)
    async with live_server(server.database_url, notify_coalesce_ms=window * 1000) as other:
        await _wait_for_listener(other)
        assert await _available(server, "COAL-X") == 5  # cached here for 30 s
        await _place(other, "COAL-X")
        assert await _available(other, "COAL-X") == 4
        deadline = time.monotonic() + window + 2.0  # the window plus a margin for a busy CI
        while (answer := await _available(server, "COAL-X")) != 4:
            assert time.monotonic() < deadline, f"still {answer} after the window"
            await asyncio.sleep(0.01)


async def test_the_payload_is_everything_when_the_skus_do_not_fit_and_failures_retry(
    server: LiveServer,
) -> None:
    conn, received = await _listen(server.database_url)
    pool = await asyncpg.create_pool(to_asyncpg_dsn(server.database_url), min_size=1, max_size=1)
    broken = _FailingOnce(pool)
    notifier = CoalescingNotifier(broken, INVENTORY_CHANNEL, 0.02)  # type: ignore[arg-type]
    try:
        notifier.start()
        notifier.add(f"LONG-SKU-{i:06d}" for i in range(1000))  # ~16 kB joined
        notifier.add(["ANOTHER"])
        assert await asyncio.wait_for(received.get(), timeout=5) == "*"
        assert broken.failures == 1  # the first try failed and was retried in the next window
        notifier.add(["A", "B"])
        await notifier.stop()  # sends what is pending at once
        assert await asyncio.wait_for(received.get(), timeout=5) == "A,B"
        assert notifier.sent == 2
    finally:
        await notifier.stop()
        await pool.close()
        await conn.close()


class _FailingOnce:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.failures = 0

    async def execute(self, *args: Any) -> str:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionResetError("simulated")
        result: str = await self.pool.execute(*args)
        return result
