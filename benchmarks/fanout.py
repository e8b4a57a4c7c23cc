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
from benchmarks.bare_fanout import measure_bare
from benchmarks.harness import (
    ROOT,
    Row,
    background_worker,
    benchmark_database,
    create_ops_key,
    free_port,
    print_rows,
    server_process,
    split_deployment,
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


P99_TARGET_MS = 250.0


@dataclass
class Outcome:
    label: str
    latencies_ms: list[float]
    first_p50: float
    last_p50: float
    last_p99: float
    frames: int
    lost_subscribers: int
    lost_events: int


def run(
    subscribers: int, sku_count: int, changes: int, rate: float, workers: int
) -> tuple[list[Outcome], list[float]]:
    """One SKU, then ``sku_count`` SKUs, on one server with ``workers`` processes; then the
    bare baseline (``benchmarks.bare_fanout``: NOTIFY straight to the sockets) on the same
    database server; its latencies in ms."""
    outcomes: list[Outcome] = []
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
        }
        # as deployed (docs/scaling.md): the jobs and the mail relay in a worker process
        env, worker_env = split_deployment(env)
        base = f"http://127.0.0.1:{port}"
        skus = [f"FAN-{i:03d}" for i in range(sku_count)]
        serve = ["-m", "app", "serve", "--workers", str(workers)]
        with server_process(serve, port, env), background_worker(worker_env):

            async def prepare() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    for sku in skus:
                        await gql(client, key, CREATE, sku=sku, stock=STOCK)

            asyncio.run(prepare())
            for label, targets in (("one SKU", skus[:1]), (f"{sku_count} SKUs", skus)):
                result = asyncio.run(scenario(base, key, targets, subscribers, changes, rate))
                per_change = result["latencies"]
                outcomes.append(
                    Outcome(
                        label,
                        [x * 1000 for values in per_change.values() for x in values],
                        percentile([min(v) * 1000 for v in per_change.values()], 50),
                        percentile([max(v) * 1000 for v in per_change.values()], 50),
                        percentile([max(v) * 1000 for v in per_change.values()], 99),
                        result["frames"],
                        result["lost_subscribers"],
                        result["lost_events"],
                    )
                )
        bare_port = free_port()
        with server_process(["-m", "benchmarks.bare_fanout", url, str(bare_port)], bare_port):
            bare = asyncio.run(measure_bare(url, bare_port, subscribers, changes, rate))
    return outcomes, bare


def rows(outcomes: list[Outcome], bare: list[float], subscribers: int, workers: int) -> list[Row]:
    out = []
    for o in outcomes:
        p99 = percentile(o.latencies_ms, 99)
        met = "met" if p99 < P99_TARGET_MS and not o.lost_subscribers + o.lost_events else "MISSED"
        out.append(
            Row(
                "fanout",
                f"{subscribers} subscribers, {o.label}, {workers}w",
                "ms",
                p99,
                # the bare endpoint sends every change to every socket: the one-SKU case
                percentile(bare, 99) if bare and o.label == "one SKU" else None,
                "bare Starlette WebSocket + LISTEN, p99" if o.label == "one SKU" else "",
                higher_is_better=False,
                p50_ms=percentile(o.latencies_ms, 50),
                p99_ms=p99,
                target=f"p99 < {P99_TARGET_MS:.0f} ms, 0 lost: {met}",
                note=f"commit -> frame; last subscriber p50 {o.last_p50:.0f} ms; "
                f"{o.frames} frames; behind {o.lost_subscribers}, events lost {o.lost_events}; "
                f"bare p50 {percentile(bare, 50):.1f} ms",
            )
        )
    return out


def measure(quick: bool = False) -> list[Row]:
    """The runner's entry: 1,000 subscribers on 1 and on 2 workers."""
    changes = 20 if quick else 60
    out: list[Row] = []
    for workers in (1, 2):
        outcomes, bare = run(1000, 100, changes, 10.0, workers)
        out.extend(rows(outcomes, bare, 1000, workers))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    print(
        f"Subscription fan-out: {args.subscribers} availabilityChanged subscribers, "
        f"3 orderEvents subscribers, {args.changes} changes at {args.rate:g}/s "
        f"(placements, a goods receipt every tenth); {args.workers} server worker(s)"
    )
    outcomes, bare = run(args.subscribers, args.skus, args.changes, args.rate, args.workers)
    for o in outcomes:
        lat = o.latencies_ms
        print(
            f"{o.label:<10} commit -> client  p50 {percentile(lat, 50):7.1f} ms   "
            f"p99 {percentile(lat, 99):7.1f} ms   max {max(lat, default=0):7.1f} ms   "
            f"frames {o.frames}"
        )
        print(
            f"           per change: first subscriber p50 {o.first_p50:.1f} ms, "
            f"last subscriber p50 {o.last_p50:.1f} ms p99 {o.last_p99:.1f} ms"
        )
        print(
            f"           subscribers behind at the end {o.lost_subscribers}, "
            f"order events lost {o.lost_events} (target: p99 < 250 ms, 0 lost)"
        )
        if lat:
            print(f"           mean {statistics.mean(lat):.1f} ms over {len(lat)} deliveries")
    print(
        f"bare Starlette WebSocket + LISTEN (NOTIFY -> every socket): p50 "
        f"{percentile(bare, 50):.1f} ms, p99 {percentile(bare, 99):.1f} ms over {len(bare)} frames"
    )
    print()
    print_rows(rows(outcomes, bare, args.subscribers, args.workers))


if __name__ == "__main__":
    main()
