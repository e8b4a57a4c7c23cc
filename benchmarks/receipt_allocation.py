"""Receipt allocation: one batch of goods receipts handed FIFO to a long waiting queue.

100,000 waiting BACKORDER lines over 100 released SKUs (1,000 per SKU, 1-3 units each, one
order per line, the SKUs' queues interleaved), each SKU with one open purchase order for all
of its waiting units, every line already promised from it. Then one goods receipt per SKU for
~60 % of that SKU's waiting units is booked (stock on hand, the PO's received quantity, a
``goods_receipts`` row) and committed, and three variants run on that same data:

1. ``allocate``: our code path for the batch, ``app.storage.allocation.allocate`` for all 100
   product ids at once (with the pool locks and ``recompute_ready`` per SKU, as ``settle``
   does): the allocation arithmetic, the line updates, an ``allocations`` ledger row and an
   order event per line, the RESERVED pools.
2. ``promises.recompute``: the delivery promises of the 100 SKUs re-computed after (1), in the
   same transaction (``app.services.promises.recompute``, as ``settle`` does next): every line
   that got units is re-promised (a ``line_promises`` history row each).
3. the lower bound: one bare ``UPDATE order_lines ... FROM (window function over the queue)``
   with the free units of each SKU as parameters: the allocation arithmetic and the line
   update only (no ledger rows, no events, no pool update, no READY recompute).

Each run is a transaction that is rolled back (then VACUUM, so every run sees the same
tables); one warm-up run first, then ``--runs`` timed runs, median reported.

    .venv/bin/python -m benchmarks.receipt_allocation [--runs 3] [--skus 100] [--lines 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from app.services import promises
from app.services.container import Services
from app.settings import Settings
from app.storage.allocation import allocate, free_units, lock_pools
from app.storage.database import to_asyncpg_dsn
from app.storage.inventory import recompute_ready
from app.storage.migrate import upgrade_to_head
from app.storage.readpool import create_read_pool
from benchmarks.harness import Row, benchmark_database, print_rows

RECEIVED_SHARE = 0.60
PO_LEAD_DAYS = 14

SEED_SQL = """
INSERT INTO channels (code, name, kind) VALUES ('webstore', 'Webstore', 'WEBSTORE')
    ON CONFLICT DO NOTHING;
INSERT INTO regions (code, name, transit_min_days, transit_max_days, is_default)
    VALUES ('EU', 'EU', 2, 4, true) ON CONFLICT DO NOTHING;
INSERT INTO locations (code, name) VALUES ('main', 'Main') ON CONFLICT DO NOTHING;
INSERT INTO products (sku, name, price_minor, release_date, backorder_allowed)
SELECT 'BO-' || lpad(i::text, 5, '0'), 'Backordered ' || i, 1000 + i, current_date - 30, true
FROM generate_series(1, $1::int) AS i;
INSERT INTO orders (number, channel_code, customer_email, customer_name, region, currency,
                    total_minor, token_hash, placed_by, placed_at)
SELECT 'PO-BENCH-' || lpad(i::text, 7, '0'), 'webstore', 'c' || i || '@bench.example', 'Bench',
       'EU', 'EUR', 1000, repeat('0', 64), 'bench', now() - interval '1 day'
FROM generate_series(1, $1::int * $2::int) AS i;
INSERT INTO order_lines (order_id, line_no, sub_no, product_id, sku, quantity, state, status,
                         pool_kind, unit_price_minor, payment_terms, shipment_group, queue_seq,
                         queued_at)
SELECT o.id, 1, 1, p.id, p.sku, 1 + (hashint4(o.n) & 2147483647) % 3, 'BACKORDER', 'WAITING',
       'BACKORDER', p.price_minor, 'FULL', 1, o.n, now() - interval '1 day'
FROM (SELECT id, substr(number, 10)::int AS n FROM orders WHERE number LIKE 'PO-BENCH-%') o
JOIN (SELECT id, sku, price_minor, row_number() OVER (ORDER BY sku) - 1 AS k FROM products) p
  ON p.k = o.n % $1::int;
SELECT setval('queue_seq', (SELECT max(queue_seq) FROM order_lines));
INSERT INTO inventory_pools (product_id, kind, capacity, committed)
SELECT p.id, k.kind, CASE WHEN k.kind = 'READY' THEN 0 END,
       CASE WHEN k.kind = 'BACKORDER' THEN COALESCE((
           SELECT SUM(quantity) FROM order_lines l WHERE l.product_id = p.id), 0) ELSE 0 END
FROM products p, (VALUES ('READY'), ('PRE_ORDER'), ('BACKORDER'), ('RESERVED')) AS k(kind);
INSERT INTO stock_levels (product_id, location_code, on_hand) SELECT id, 'main', 0 FROM products;
INSERT INTO supply (kind, product_id, location_code, reference, quantity, expected_on,
                    original_expected_on, created_by)
SELECT 'PURCHASE_ORDER', p.id, 'main', 'PO-' || p.sku, w.units, current_date + $1::int,
       current_date + $1::int, 'bench'
FROM products p JOIN (SELECT product_id, SUM(quantity)::int AS units FROM order_lines
                      GROUP BY product_id) w ON w.product_id = p.id
"""

RECEIVE_SQL = """
WITH r AS (
    SELECT su.id AS supply_id, su.product_id, round(su.quantity * $1::numeric)::int AS units
    FROM supply su
), stock AS (
    UPDATE stock_levels s SET on_hand = s.on_hand + r.units FROM r
    WHERE s.product_id = r.product_id AND s.location_code = 'main'
), po AS (
    UPDATE supply su SET received_quantity = su.received_quantity + r.units FROM r
    WHERE su.id = r.supply_id
)
INSERT INTO goods_receipts (product_id, location_code, supply_id, quantity, reference, on_time,
                            actor)
SELECT product_id, 'main', supply_id, units, 'GRN-' || supply_id, true, 'bench' FROM r
RETURNING id, product_id, quantity
"""

# The lower bound: the allocation arithmetic and the line update, nothing else.
BARE_SQL = """
UPDATE order_lines l
SET allocated = l.allocated + p.take,
    status = CASE WHEN l.allocated + p.take = l.quantity THEN 'ALLOCATED' ELSE 'WAITING' END
FROM (
    SELECT q.id, LEAST(q.need, q.units - (q.cum - q.need))::int AS take
    FROM (
        SELECT l.id, f.units, l.quantity - l.allocated AS need,
               SUM(l.quantity - l.allocated) OVER (
                   PARTITION BY l.product_id ORDER BY l.queue_seq ROWS UNBOUNDED PRECEDING) AS cum
        FROM unnest($1::uuid[], $2::int[]) AS f(product_id, units)
        JOIN order_lines l ON l.product_id = f.product_id
        WHERE l.status = 'WAITING' AND l.paused_at IS NULL
    ) q
    WHERE q.cum - q.need < q.units
) p
WHERE l.id = p.id
"""

VACUUM_SQL = (
    "VACUUM (ANALYZE) order_lines, inventory_pools, allocations, events, line_promises, "
    "products, stock_levels"
)


@dataclass
class Receipts:
    product_ids: list[uuid.UUID]
    receipt_ids: list[int]
    units: int


async def seed(conn: asyncpg.Connection, services: Services, skus: int, per_sku: int) -> Receipts:
    statements = [s for s in SEED_SQL.split(";\n") if s.strip()]
    arguments: list[tuple[int, ...]] = [(), (), (), (skus,), (skus, per_sku), (skus,)]
    arguments += [()] * (len(statements) - len(arguments) - 1) + [(PO_LEAD_DAYS,)]
    for statement, args in zip(statements, arguments, strict=True):
        await conn.execute(statement, *args)
    product_ids = [r["id"] for r in await conn.fetch("SELECT id FROM products ORDER BY sku")]
    await conn.execute("ANALYZE")
    # Every line was promised when it was placed (from its SKU's purchase order).
    async with conn.transaction():
        await promises.recompute(conn, services, product_ids, "PLACED", "bench")
    async with conn.transaction():
        rows = await conn.fetch(RECEIVE_SQL, RECEIVED_SHARE)
        for product_id in product_ids:
            await recompute_ready(conn, product_id)
    by_product = {r["product_id"]: r["id"] for r in rows}
    # WAL segments and buffers: fill ~200 MB of WAL once and checkpoint, as placement does.
    await conn.execute(
        "CREATE TABLE wal_warmup AS SELECT g, repeat('x', 1000) AS pad "
        "FROM generate_series(1, 200000) AS g"
    )
    await conn.execute("DROP TABLE wal_warmup")
    await conn.execute(VACUUM_SQL)
    await conn.execute("CHECKPOINT")
    return Receipts(
        product_ids, [by_product[p] for p in product_ids], sum(r["quantity"] for r in rows)
    )


@dataclass
class Run:
    allocate_s: float
    allocated_lines: int
    allocated_units: int
    recompute_s: float
    repromised: int
    bare_s: float
    bare_lines: int


async def one_run(conn: asyncpg.Connection, services: Services, receipts: Receipts) -> Run:
    ids = receipts.product_ids
    tx = conn.transaction()
    await tx.start()
    try:
        started = time.perf_counter()
        await lock_pools(conn, ids)
        units = await allocate(
            conn, ids, services.today(), "RECEIPT", "bench", receipts.receipt_ids
        )
        for product_id in sorted(ids):
            await recompute_ready(conn, product_id)
        allocate_s = time.perf_counter() - started
        lines = await conn.fetchval("SELECT count(*) FROM allocations")
        started = time.perf_counter()
        repromised = await promises.recompute(conn, services, ids, "RECEIPT", "bench")
        recompute_s = time.perf_counter() - started
    finally:
        await tx.rollback()
    await conn.execute(VACUUM_SQL)

    tx = conn.transaction()
    await tx.start()
    try:
        free = await free_units(conn, ids)
        started = time.perf_counter()
        status = await conn.execute(BARE_SQL, ids, [free[p] for p in ids])
        bare_s = time.perf_counter() - started
    finally:
        await tx.rollback()
    await conn.execute(VACUUM_SQL)
    return Run(
        allocate_s,
        int(lines),
        sum(units.values()),
        recompute_s,
        repromised.lines,
        bare_s,
        int(status.split()[-1]),
    )


async def measure_runs(url: str, runs: int, skus: int, per_sku: int) -> tuple[Receipts, list[Run]]:
    settings = Settings(database_url=url, store_timezone="UTC")
    now = datetime.now(UTC)
    pool = await create_read_pool(url, 1, name="receipt-benchmark-reference")
    services = Services(settings, clock=lambda: now, read_pool=pool, write_pool=pool)
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        receipts = await seed(conn, services, skus, per_sku)
        await one_run(conn, services, receipts)  # warm-up: plans, buffers, caches
        return receipts, [await one_run(conn, services, receipts) for _ in range(runs)]
    finally:
        await conn.close()
        await pool.close()


def run(runs: int, skus: int, per_sku: int) -> tuple[Receipts, list[Run]]:
    with benchmark_database("oms_bench_receipt_allocation") as url:
        upgrade_to_head(url)
        return asyncio.run(measure_runs(url, runs, skus, per_sku))


def rows(results: list[Run], skus: int, per_sku: int) -> list[Row]:
    """Both of our variants beside the bare window UPDATE (medians of the runs)."""
    bare = statistics.median([r.bare_s for r in results])
    label = "bare UPDATE ... FROM (window)"
    total = f"{skus * per_sku // 1000}k lines"
    return [
        Row(
            "receipt",
            f"allocate, {total}, {skus} receipts",
            "s",
            statistics.median([r.allocate_s for r in results]),
            bare,
            label,
            higher_is_better=False,
            note=f"{results[0].allocated_lines:,} lines allocated (bare "
            f"{results[0].bare_lines:,}); median of {len(results)}",
        ),
        Row(
            "receipt",
            f"promises.recompute, {skus} SKUs",
            "s",
            statistics.median([r.recompute_s for r in results]),
            bare,
            label,
            higher_is_better=False,
            note=f"{results[0].repromised:,} lines re-promised; median of {len(results)}",
        ),
    ]


def measure(quick: bool = False) -> list[Row]:
    """The runner's entry: 100k lines (3 runs), or 20k lines and 1 run with ``quick``."""
    runs, skus, per_sku = (1, 100, 200) if quick else (3, 100, 1000)
    _, results = run(runs, skus, per_sku)
    return rows(results, skus, per_sku)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--lines", type=int, default=1000, help="waiting lines per SKU")
    args = parser.parse_args()

    receipts, results = run(args.runs, args.skus, args.lines)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    bare = median([r.bare_s for r in results])
    rows = [
        (
            f"allocate ({args.skus} receipts, 1 batch) + READY",
            median([r.allocate_s for r in results]),
            results[0].allocated_lines,
        ),
        (
            f"promises.recompute ({args.skus} SKUs)",
            median([r.recompute_s for r in results]),
            results[0].repromised,
        ),
        ("bare UPDATE ... FROM (window) lower bound", bare, results[0].bare_lines),
    ]
    total = args.skus * args.lines
    print(
        f"Receipt allocation: {total:,} waiting lines over {args.skus} SKUs, one receipt per SKU "
        f"for {RECEIVED_SHARE:.0%} of its waiting units ({receipts.units:,} units); median of "
        f"{len(results)} runs after 1 warm-up, each run rolled back"
    )
    print(f"{'variant':<44} {'seconds':>8} {'lines':>8} {'x lower bound':>14}")
    for label, seconds, lines in rows:
        print(f"{label:<44} {seconds:>8.3f} {lines:>8,} {seconds / bare:>14.1f}")
    print(
        "lines: allocated lines for the allocation variants, re-promised lines for the "
        f"recompute; units allocated by allocate: {results[0].allocated_units:,}"
    )
    for name, pick in (
        ("allocate", lambda r: r.allocate_s),
        ("recompute", lambda r: r.recompute_s),
        ("bare", lambda r: r.bare_s),
    ):
        print(f"  {name} runs: {', '.join(f'{pick(r):.3f}' for r in results)}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if any(r.allocated_lines != r.bare_lines for r in results):
        print("  WARNING: allocate and the lower bound allocated different numbers of lines")
    print()
    print_rows(rows(results, args.skus, args.lines))


if __name__ == "__main__":
    main()
