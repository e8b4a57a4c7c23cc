"""The fan-out baseline: a bare Starlette WebSocket endpoint that LISTENs on PostgreSQL and
sends every notification's payload to every connected socket, as it comes (no GraphQL, no
ledger read, no availability snapshot, no per-subscriber filtering, no coalescing).

Run: ``python -m benchmarks.bare_fanout <database-url> <port>``; ``measure_bare`` (used by
``benchmarks.fanout``) connects the subscribers, sends the changes as NOTIFYs and returns the
latencies from each NOTIFY's commit to each subscriber's frame.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.storage.database import to_asyncpg_dsn

CHANNEL = "bare_fanout"


def build(url: str) -> Starlette:
    sockets: set[WebSocket] = set()
    loop_tasks: set[asyncio.Task[None]] = set()

    async def send(ws: WebSocket, payload: str) -> None:
        try:
            await ws.send_text(payload)
        except Exception:  # a socket closing while we send: it leaves the set on its own
            sockets.discard(ws)

    def notified(_: object, __: int, ___: str, payload: str) -> None:
        for ws in list(sockets):
            task = asyncio.get_running_loop().create_task(send(ws, payload))
            loop_tasks.add(task)
            task.add_done_callback(loop_tasks.discard)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        conn = await asyncpg.connect(to_asyncpg_dsn(url))
        await conn.add_listener(CHANNEL, notified)
        yield
        await conn.close()

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        sockets.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(ws)

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)], lifespan=lifespan)


async def measure_bare(
    url: str, port: int, subscribers: int, changes: int, rate: float
) -> list[float]:
    """Latencies (ms) from each NOTIFY's commit to each subscriber's frame showing it."""
    frames: list[dict[int, float]] = [{} for _ in range(subscribers)]
    ready = asyncio.Event()
    connected = [0]

    async def subscriber(i: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_queue=None) as ws:
            connected[0] += 1
            if connected[0] == subscribers:
                ready.set()
            async for raw in ws:
                frames[i][int(raw)] = time.perf_counter()

    tasks = [asyncio.create_task(subscriber(i)) for i in range(subscribers)]
    await asyncio.wait_for(ready.wait(), 120)
    sent: dict[int, float] = {}
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        for n in range(changes):
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(n))
            sent[n] = time.perf_counter()
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(2.0)
    finally:
        await conn.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [max(0.0, (got[n] - at) * 1000) for got in frames for n, at in sent.items() if n in got]


if __name__ == "__main__":
    database_url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(build(database_url), host="127.0.0.1", port=port, log_level="warning")
