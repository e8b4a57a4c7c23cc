"""A launch-day drop: ``--customers`` customers race for a LIMITED_RUN pre-order of ``--units``
units (one unit each, a fresh idempotency key and customer each, all arriving at once over
``--connections`` keep-alive connections). Exactly ``--units`` must be accepted (asserted,
and counted against the database); the rest are refused with a user error.

Printed: accepted / refused, the time from the drop to the last unit sold (sell-out) and to
the last answer, confirmation latency (p50/p99/p999 from each request's send, and p99 from
the drop itself: every customer arrived at the drop), and where the time went: CPU seconds of
the service's processes, of PostgreSQL and of this load generator over the drop, against the
machine's cores. The baseline is the raw asyncpg reservation transaction of
``benchmarks.placement`` racing for its own copy of the same pool on the same run (the
one-row limit: how fast one pool row can be sold with nothing else in the way).

    .venv/bin/python -m benchmarks.drop [--customers 5000] [--units 1000] [--connections 256]
        [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvloop

from app.storage.database import to_asyncpg_dsn
from app.storage.inventory import RESERVE_SQL
from app.storage.migrate import upgrade_to_head
from benchmarks.harness import (
    Row,
    background_worker,
    benchmark_database,
    build_request,
    client_cpu_seconds,
    create_ops_key,
    free_port,
    machine_busy_seconds,
    new_histogram,
    print_rows,
    run_load,
    server_process,
    session_cpu_seconds,
    split_deployment,
    tree_cpu_seconds,
)
from benchmarks.placement import (
    PLACE_ORDER_HASH,
    RAW_KEY_SQL,
    RAW_LINE_SQL,
    RAW_ORDER_SQL,
    postmaster_pid,
)

DROP_SKU, RAW_SKU, WARM_SKU = "DROP-00001", "DROP-RAW01", "WARM-00001"

SEED_SQL = """
INSERT INTO channels (code, name, kind) VALUES ('webstore', 'Webstore', 'WEBSTORE')
    ON CONFLICT DO NOTHING;
INSERT INTO regions (code, name, transit_min_days, transit_max_days, is_default)
    VALUES ('EU', 'EU', 2, 4, true) ON CONFLICT DO NOTHING;
INSERT INTO locations (code, name) VALUES ('main', 'Main') ON CONFLICT DO NOTHING;
INSERT INTO products (sku, name, price_minor, release_date, preorder_enabled, preorder_payment,
                      tags)
VALUES ('DROP-00001', 'Limited drop', 9900, current_date + 30, true, 'FULL',
        ARRAY['PREORDER', 'LIMITED_RUN']),
       ('DROP-RAW01', 'Limited drop (raw copy)', 9900, current_date + 30, true, 'FULL',
        ARRAY['PREORDER', 'LIMITED_RUN']);
INSERT INTO products (sku, name, price_minor, release_date)
VALUES ('WARM-00001', 'Warm-up', 1000, current_date - 30);
INSERT INTO inventory_pools (product_id, kind, capacity)
SELECT id, k.kind,
       CASE WHEN k.kind = 'READY' THEN CASE WHEN sku = 'WARM-00001' THEN 1000000 ELSE 0 END
            WHEN k.kind = 'PRE_ORDER' AND sku <> 'WARM-00001' THEN $1::int END
FROM products, (VALUES ('READY'), ('PRE_ORDER'), ('BACKORDER'), ('RESERVED')) AS k(kind);
INSERT INTO stock_levels (product_id, location_code, on_hand)
SELECT id, 'main', CASE WHEN sku = 'WARM-00001' THEN 1000000 ELSE 0 END FROM products
"""


@dataclass
class DropResult:
    customers: int
    units: int
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    sold_out_s: float = 0.0  # drop -> the last accepted answer
    all_answered_s: float = 0.0
    accepted_latency: Any = field(default_factory=new_histogram)  # from each send
    from_drop: Any = field(default_factory=new_histogram)  # from the drop (all arrived)
    first_refusal: str = ""
    first_error: str = ""
    retries: int = 0  # 503 answers retried with the same key
    service_cpu: float = 0.0
    worker_cpu: float = 0.0  # the `python -m app worker` mailing the confirmations
    db_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float = 0.0  # every process on the machine
    raw_sold_out_s: float = 0.0
    raw_accepted: int = 0
    orders_in_db: int = 0
    pool_committed: int = 0

    @property
    def rate(self) -> float:
        return self.units / self.sold_out_s if self.sold_out_s else 0.0

    @property
    def raw_rate(self) -> float:
        return self.raw_accepted / self.raw_sold_out_s if self.raw_sold_out_s else 0.0


def body(n: int, tag: str, sku: str) -> dict[str, object]:
    return {
        "operationName": "PlaceOrder",
        "variables": {
            "input": {
                "idempotencyKey": f"drop-{tag}-{n:06d}",
                "channel": "webstore",
                "customer": {"email": f"fan{n}-{tag}@drop.example", "name": "Fan"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": PLACE_ORDER_HASH}},
    }


async def race(port: int, requests: list[bytes], connections: int, result: DropResult) -> None:
    """Every customer arrives at the drop; ``connections`` of them are being served at once."""
    queue = iter(requests)
    drop = time.perf_counter()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                sent = time.perf_counter()
                while True:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    answer = await reader.readexactly(length)
                    if not head.startswith(b"HTTP/1.1 503"):
                        break
                    # busy (a pool checkout that gave up): the customer retries, same key
                    result.retries += 1
                    await asyncio.sleep(0.1)
                now = time.perf_counter()
                result.from_drop.record_value(max(1, int((now - drop) * 1e6)))
                if head.startswith(b"HTTP/1.1 200") and b'"number"' in answer:
                    result.accepted += 1
                    result.accepted_latency.record_value(max(1, int((now - sent) * 1e6)))
                    result.sold_out_s = max(result.sold_out_s, now - drop)
                elif head.startswith(b"HTTP/1.1 200") and b'"userErrors":[{' in answer:
                    result.refused += 1
                    if not result.first_refusal:
                        errors = json.loads(answer)["data"]["placeOrder"]["userErrors"]
                        result.first_refusal = str(errors[0].get("code"))
                else:
                    result.errors += 1
                    if not result.first_error:
                        result.first_error = answer[:300].decode(errors="replace")
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    result.all_answered_s = time.perf_counter() - drop


async def raw_race(
    url: str, pool_id: int, product_id: Any, customers: int, connections: int
) -> tuple[int, float]:
    """The raw asyncpg reservation transaction racing for the raw copy's pool row."""
    conns = [await asyncpg.connect(to_asyncpg_dsn(url)) for _ in range(connections)]
    numbers = iter(range(customers))
    accepted = [0]
    last = [0.0]
    started = time.perf_counter()

    async def loop(conn: asyncpg.Connection) -> None:
        for n in numbers:
            try:
                async with conn.transaction():  # a refusal rolls the order back
                    key = f"raw-drop-{n}"
                    await conn.execute(RAW_KEY_SQL, key, "0" * 64)
                    order_id = await conn.fetchval(
                        RAW_ORDER_SQL, f"r{n}@raw.example", 9900, "0" * 64, key
                    )
                    await conn.execute(RAW_LINE_SQL, order_id, product_id, RAW_SKU, 9900)
                    if await conn.fetchval(RESERVE_SQL, pool_id, 1) is None:
                        raise LookupError("sold out")
            except LookupError:
                continue
            accepted[0] += 1
            last[0] = time.perf_counter() - started

    try:
        await asyncio.gather(*(loop(c) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return accepted[0], last[0]


def run(customers: int, units: int, connections: int, workers: int) -> DropResult:
    result = DropResult(customers, units)
    tag = secrets.token_hex(3)
    with benchmark_database("oms_bench_drop") as url:
        upgrade_to_head(url)

        async def seed() -> dict[str, tuple[Any, int]]:
            conn = await asyncpg.connect(to_asyncpg_dsn(url))
            try:
                statements = [s for s in SEED_SQL.split(";\n") if s.strip()]
                for statement in statements:
                    await conn.execute(statement, *((units,) if "$1" in statement else ()))
                await conn.execute("ANALYZE")
                rows = await conn.fetch(
                    "SELECT p.sku, p.id, ip.id AS pool_id FROM products p JOIN inventory_pools "
                    "ip ON ip.product_id = p.id AND ip.kind = 'PRE_ORDER'"
                )
                return {r["sku"]: (r["id"], r["pool_id"]) for r in rows}
            finally:
                await conn.close()

        catalog = asyncio.run(seed())
        api_key = create_ops_key(url)
        headers = {"Authorization": f"Bearer {api_key}"}
        port = free_port()
        env = {
            "OMS_DATABASE_URL": url,
            "OMS_PORT": str(port),
            "OMS_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            "OMS_WORKERS": str(workers),
            # 2 workers x (write + read pool + listener) within max_connections (100)
            "OMS_DB_WRITE_POOL_SIZE": "30",
        }
        postmaster = asyncio.run(postmaster_pid(url))
        product_id, pool_id = catalog[RAW_SKU]
        # the one-row baseline first, with placement's 32 connections
        result.raw_accepted, result.raw_sold_out_s = asyncio.run(
            raw_race(url, pool_id, product_id, customers, 32)
        )
        # as deployed (docs/scaling.md): confirmations are mailed by a worker process
        env, worker_env = split_deployment(env)
        with (
            server_process(["-m", "app", "serve"], port, env) as server,
            background_worker(worker_env) as worker,
        ):
            # a pre-order placed through the service answers an order (else: no drop to run)
            probe = urllib.request.Request(
                f"http://127.0.0.1:{port}/graphql",
                data=json.dumps(body(0, "probe", WARM_SKU)).encode(),
                headers={"Content-Type": "application/json", **headers},
            )
            with urllib.request.urlopen(probe, timeout=30) as response:
                if b'"number"' not in response.read():
                    raise RuntimeError("the warm-up order was not placed")
            warm = (
                build_request("/graphql", body(n, tag + "w", WARM_SKU), headers)
                for n in range(1, 10_000_000)
            )
            requests = [
                build_request("/graphql", body(n, tag, DROP_SKU), headers) for n in range(customers)
            ]

            async def everything() -> None:
                await run_load(port, warm, 3.0, 32)  # buffers, plans, pools, the process
                cpu0 = session_cpu_seconds(server.pid)
                worker0 = session_cpu_seconds(worker.pid) if worker else 0.0
                db0 = tree_cpu_seconds(postmaster) if postmaster else 0.0
                client0 = client_cpu_seconds()
                machine0 = machine_busy_seconds()
                await race(port, requests, connections, result)
                result.service_cpu = session_cpu_seconds(server.pid) - cpu0
                result.worker_cpu = (session_cpu_seconds(worker.pid) if worker else 0.0) - worker0
                result.db_cpu = (tree_cpu_seconds(postmaster) if postmaster else 0.0) - db0
                result.client_cpu = client_cpu_seconds() - client0
                result.machine_cpu = machine_busy_seconds() - machine0

            uvloop.run(everything())

        async def count() -> tuple[int, int]:
            conn = await asyncpg.connect(to_asyncpg_dsn(url))
            try:
                orders = await conn.fetchval(
                    "SELECT count(DISTINCT order_id) FROM order_lines WHERE sku = $1", DROP_SKU
                )
                committed = await conn.fetchval(
                    "SELECT committed FROM inventory_pools WHERE id = $1", catalog[DROP_SKU][1]
                )
                return int(orders), int(committed)
            finally:
                await conn.close()

        result.orders_in_db, result.pool_committed = asyncio.run(count())
    # exactly the cap, through the service and in the database, and on the raw copy
    assert result.accepted == units, f"{result.accepted} accepted, cap {units}"
    assert result.orders_in_db == units == result.pool_committed, result
    assert result.raw_accepted == units, f"raw: {result.raw_accepted} accepted, cap {units}"
    return result


def where_the_time_went(r: DropResult) -> str:
    cores = os.cpu_count() or 1
    ours = r.service_cpu + r.worker_cpu + r.db_cpu + r.client_cpu
    available = r.all_answered_s * cores
    share = r.machine_cpu / available
    verdict = (
        "CPU-bound (the cores were busy; waiting on the pool row is not what limits it)"
        if share > 0.85
        else "not CPU-bound"
    )
    return (
        f"over {r.all_answered_s:.2f} s: service {r.service_cpu:.2f} CPU-s "
        f"({r.service_cpu / r.customers * 1000:.2f} ms/request), PostgreSQL {r.db_cpu:.2f} "
        f"({r.db_cpu / r.customers * 1000:.2f} ms/request), worker (mail) {r.worker_cpu:.2f}, "
        f"load generator {r.client_cpu:.2f}, "
        f"other processes {max(0.0, r.machine_cpu - ours):.2f}; the machine was busy "
        f"{r.machine_cpu:.2f} of {available:.2f} CPU-s on {cores} cores ({share:.0%}): {verdict}"
    )


def row_arithmetic(r: DropResult) -> str:
    """Is the pool row the limit? Its raw one-row rate vs the service's sell-out rate."""
    use = r.rate / r.raw_rate if r.raw_rate else float("nan")
    return (
        f"one pool row sells {r.raw_rate:.0f}/s raw; the service sold {r.rate:.0f}/s "
        f"({use:.0%} of the row's rate): "
        + (
            "the row is near its limit, striping would help"
            if use > 0.7
            else "the row is not the limit, striping would not help here"
        )
    )


def rows(r: DropResult, workers: int) -> list[Row]:
    return [
        Row(
            "drop",
            f"{r.customers} customers, {r.units} units, {workers}w: sell-out",
            "s",
            r.sold_out_s,
            r.raw_sold_out_s,
            "raw asyncpg, same pool row",
            higher_is_better=False,
            p50_ms=r.accepted_latency.get_value_at_percentile(50) / 1000,
            p99_ms=r.accepted_latency.get_value_at_percentile(99) / 1000,
            p999_ms=r.accepted_latency.get_value_at_percentile(99.9) / 1000,
            target=f"exactly {r.units} accepted: {r.accepted}",
            note=(
                f"{r.rate:.0f} orders/s; all {r.customers} answered in {r.all_answered_s:.2f} s "
                f"(p99 from the drop {r.from_drop.get_value_at_percentile(99) / 1000:.0f} ms); "
                f"refused {r.refused} ({r.first_refusal}), retried 503s {r.retries}, errors "
                f"{r.errors}{' (' + r.first_error[:80] + ')' if r.errors else ''}; "
                + where_the_time_went(r)
                + "; "
                + row_arithmetic(r)
            ),
        )
    ]


def measure(quick: bool = False) -> list[Row]:
    out: list[Row] = []
    for workers in (1, 2):
        out.extend(rows(run(5000, 1000, 256, workers), workers))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    r = run(args.customers, args.units, args.connections, args.workers)
    print(
        f"Launch-day drop: {args.customers} customers, {args.units} LIMITED_RUN pre-order "
        f"units, {args.connections} connections, {args.workers} worker(s)"
    )
    print(
        f"accepted {r.accepted} (orders in the database {r.orders_in_db}, pool committed "
        f"{r.pool_committed}), refused {r.refused} ({r.first_refusal}), 503s retried "
        f"{r.retries}, errors {r.errors} {r.first_error}"
    )
    print(
        f"sold out in {r.sold_out_s:.2f} s ({r.rate:.0f} orders/s); all answered in "
        f"{r.all_answered_s:.2f} s; raw asyncpg sells the same row out in "
        f"{r.raw_sold_out_s:.2f} s ({r.raw_rate:.0f}/s)"
    )
    h = r.accepted_latency
    print(
        f"confirmation (accepted, from send) p50 {h.get_value_at_percentile(50) / 1000:.1f} ms "
        f"p99 {h.get_value_at_percentile(99) / 1000:.1f} ms "
        f"p999 {h.get_value_at_percentile(99.9) / 1000:.1f} ms; any answer from the drop p99 "
        f"{r.from_drop.get_value_at_percentile(99) / 1000:.1f} ms"
    )
    print("where the time went: " + where_the_time_went(r))
    print("the pool row: " + row_arithmetic(r))
    print()
    print_rows(rows(r, args.workers))


if __name__ == "__main__":
    main()
