"""Subscription fan-out: ``--subscribers`` WebSocket clients on ``availabilityChanged`` (all on
one SKU, then spread over ``--skus`` SKUs) and a few ops clients on ``orderEvents``, while a
stream of placements and goods receipts changes the SKUs.

For every change and every subscriber of its SKU, the latency is from the mutation's answer
(the commit, as the client sees it) to the first frame that shows the change (or a later one:
frames are coalesced). Printed: p50/p99/max, frames sent, and what was lost: a subscriber whose
last frame is not the SKU's final state, or an ops client that missed a placement event
(both must be 0).

    .venv/bin/python -m benchmarks.fanout [--subscribers 1000] [--skus 100] [--changes 60]
        [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from app.storage.migrate import upgrade_to_head
from benchmarks.harness import (
    ROOT,
    benchmark_database,
    create_ops_key,
    free_port,
    server_process,
)

AVAILABILITY = """subscription($sku: String!) {
  availabilityChanged(sku: $sku) { availableQuantity }
}"""
EVENTS = """subscription { orderEvents(filter: {kinds: [ORDER_PLACED]}) { id } }"""
STOCK = 100_000
RECEIPT = 50  # more than the placements between two receipts: quantities never repeat
RECEIVE = """mutation($sku: String!, $ref: String!) {
  receiveGoods(input: {sku: $sku, quantity: 50, location: "main", reference: $ref}) {
    userErrors { code }
  }
}"""
CREATE = """mutation($sku: String!, $stock: Int!) {
  createProduct(input: {sku: $sku, name: "Fan-out"}) { userErrors { code } }
  setStock(input: {sku: $sku, location: "main", quantity: $stock}) { userErrors { code } }
}"""


@dataclass
class Subscriber:
    sku: str
    frames: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class Change:
    sku: str
    quantity: int  # availableQuantity after it
    at: float


def load_reference(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app", "demo-data"],
        cwd=ROOT,
        env={**os.environ, "OMS_DATABASE_URL": url, "OMS_LOG_LEVEL": "WARNING"},
        check=True,
        capture_output=True,
    )


async def gql(client: httpx.AsyncClient, key: str, query: str, **variables: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def listen(
    base: str, query: str, variables: dict[str, Any], key: str | None, sink: Any
) -> None:
    url = base.replace("http://", "ws://") + "/graphql"
    params = {"authorization": f"Bearer {key}"} if key else {}
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "1",
                    "payload": {"query": query, "variables": variables},
                }
            )
        )
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                sink(time.perf_counter(), message["payload"]["data"])
            elif message["type"] in ("error", "complete"):
                raise RuntimeError(message)


async def scenario(
    base: str, key: str, skus: list[str], subscribers: int, changes: int, rate: float
) -> dict[str, Any]:
    subs = [Subscriber(skus[i % len(skus)]) for i in range(subscribers)]
    ops_events: list[list[str]] = [[] for _ in range(3)]
    tasks = []
    for sub in subs:

        def sink(at: float, data: Any, sub: Subscriber = sub) -> None:
            sub.frames.append((at, data["availabilityChanged"]["availableQuantity"]))

        tasks.append(asyncio.create_task(listen(base, AVAILABILITY, {"sku": sub.sku}, None, sink)))
    for seen in ops_events:

        def collect(at: float, data: Any, seen: list[str] = seen) -> None:
            seen.append(data["orderEvents"]["id"])

        tasks.append(asyncio.create_task(listen(base, EVENTS, {}, key, collect)))
    # wait until every subscriber has its first frame
    await _first_frames(subs, 120)
    await asyncio.sleep(1.0)
    available = {s.sku: s.frames[-1][1] for s in reversed(subs)}
    log: list[Change] = []
    placed = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(changes):
            sku = skus[i % len(skus)]
            if i % 10 == 9:  # a goods receipt every tenth change
                await gql(
                    client,
                    key,
                    RECEIVE,
                    sku=sku,
                    ref=f"GRN-{uuid.uuid4().hex[:8]}",
                )
                available[sku] += RECEIPT
            else:
                await gql(
                    client,
                    key,
                    """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
                       userErrors { code } } }""",
                    input={
                        "idempotencyKey": str(uuid.uuid4()),
                        "channel": "webstore",
                        "customer": {"email": "fan@example.com", "name": "F"},
                        "lines": [{"sku": sku, "quantity": 1}],
                    },
                )
                available[sku] -= 1
                placed += 1
            log.append(Change(sku, available[sku], time.perf_counter()))
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(3.0)  # the last frames
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = _latencies(subs, log)
    lost_frames = sum(1 for s in subs if s.frames[-1][1] != available[s.sku])
    lost_events = sum(max(0, placed - len(seen)) for seen in ops_events)
    frames = sum(len(s.frames) for s in subs)
    return {
        "latencies": latencies,
        "lost_subscribers": lost_frames,
        "lost_events": lost_events,
        "frames": frames,
        "changes": changes,
    }


async def _first_frames(subs: list[Subscriber], seconds: float) -> None:
    """Until every subscriber has its first frame (or ``seconds`` passed)."""
    deadline = time.perf_counter() + seconds
    for sub in subs:
        while not sub.frames and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # frames arrive through a callback


def _latencies(subs: list[Subscriber], log: list[Change]) -> dict[int, list[float]]:
    """For every change (by its place in ``log``), the latency of each subscriber of its SKU:
    from the change's commit to the first frame showing it or a later change (a SKU's
    quantities never repeat: receipts add more than the placements between them take)."""
    per_sku: dict[str, list[Change]] = {}
    for change in log:
        per_sku.setdefault(change.sku, []).append(change)
    number = {id(c): i for i, c in enumerate(log)}
    latencies: dict[int, list[float]] = {}
    for sub in subs:
        changes = per_sku.get(sub.sku, [])
        index = {c.quantity: i for i, c in enumerate(changes)}
        reached = -1
        shown_at: list[float | None] = [None] * len(changes)
        for at, quantity in sub.frames:
            i = index.get(quantity)
            if i is None or i <= reached:
                continue
            for k in range(reached + 1, i + 1):
                shown_at[k] = at
            reached = i
        for c, at in zip(changes, shown_at, strict=True):
            if at is not None:
                latencies.setdefault(number[id(c)], []).append(max(0.0, at - c.at))
    return latencies


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, max(0, round(p / 100 * len(data)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    with benchmark_database("oms_bench_fanout") as url:
        upgrade_to_head(url)
        load_reference(url)
        key = create_ops_key(url, "fanout")
        port = free_port()
        env = {
            "OMS_DATABASE_URL": url,
            "OMS_PORT": str(port),
            "OMS_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            "OMS_SCHEDULER_SECONDS": "0",
        }
        base = f"http://127.0.0.1:{port}"
        skus = [f"FAN-{i:03d}" for i in range(args.skus)]
        serve = ["-m", "app", "serve", "--workers", str(args.workers)]
        with server_process(serve, port, env):

            async def prepare() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    for sku in skus:
                        await gql(client, key, CREATE, sku=sku, stock=STOCK)

            asyncio.run(prepare())
            print(
                f"Subscription fan-out: {args.subscribers} availabilityChanged subscribers, "
                f"3 orderEvents subscribers, {args.changes} changes at {args.rate:g}/s "
                f"(placements, a goods receipt every tenth); {args.workers} server worker(s)"
            )
            for label, targets in (("one SKU", skus[:1]), (f"{args.skus} SKUs", skus)):
                result = asyncio.run(
                    scenario(base, key, targets, args.subscribers, args.changes, args.rate)
                )
                per_change = result["latencies"]
                lat = [x * 1000 for values in per_change.values() for x in values]
                first = [min(v) * 1000 for v in per_change.values()]
                last = [max(v) * 1000 for v in per_change.values()]
                print(
                    f"{label:<10} commit -> client  p50 {percentile(lat, 50):7.1f} ms   "
                    f"p99 {percentile(lat, 99):7.1f} ms   max {max(lat, default=0):7.1f} ms   "
                    f"frames {result['frames']}"
                )
                print(
                    f"           per change: first subscriber p50 {percentile(first, 50):.1f} ms, "
                    f"last subscriber p50 {percentile(last, 50):.1f} ms "
                    f"p99 {percentile(last, 99):.1f} ms"
                )
                print(
                    f"           subscribers behind at the end {result['lost_subscribers']}, "
                    f"order events lost {result['lost_events']} (target: p99 < 250 ms, 0 lost)"
                )
                if lat:
                    print(
                        f"           mean {statistics.mean(lat):.1f} ms over {len(lat)} deliveries"
                    )


if __name__ == "__main__":
    main()
