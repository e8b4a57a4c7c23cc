"""PDP availability: requests/s and p99 through the full HTTP stack vs a bare endpoint.

Both servers run as one uvicorn process each against the same database on the same run; the
load generator (keep-alive HTTP/1.1, raw asyncio) runs here. Prints both lines and the ratio.

    .venv/bin/python -m benchmarks.pdp_availability [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import re
import urllib.request

import asyncpg
import uvloop

from app.settings import Settings
from app.storage.database import to_asyncpg_dsn
from app.storage.migrate import upgrade_to_head
from app.web.documents import TRUSTED_DIR
from benchmarks.harness import (
    LoadResult,
    Row,
    benchmark_database,
    build_request,
    free_port,
    print_rows,
    run_load,
    server_process,
)

PDP_DOCUMENT = (TRUSTED_DIR / "pdp.graphql").read_text(encoding="utf-8")
PDP_HASH = hashlib.sha256(PDP_DOCUMENT.encode()).hexdigest()

RUNS = (
    "GraphQL executor (ad-hoc text)",
    "trusted document, compiled",
    "trusted + 1 s anonymous cache",
)

SEED_SQL = """
INSERT INTO channels (code, name, kind) VALUES ('webstore', 'Webstore', 'WEBSTORE')
    ON CONFLICT DO NOTHING;
INSERT INTO regions (code, name, transit_min_days, transit_max_days, is_default)
    VALUES ('EU', 'EU', 2, 4, true) ON CONFLICT DO NOTHING;
INSERT INTO locations (code, name) VALUES ('main', 'Main') ON CONFLICT DO NOTHING;
INSERT INTO products (sku, name, price_minor, release_date, preorder_enabled, preorder_message,
                      preorder_payment, preorder_deposit_percent, backorder_allowed)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, 1000 + i,
       CASE WHEN i % 3 = 1 THEN current_date + 30 ELSE current_date - 30 END,
       i % 3 = 1, CASE WHEN i % 3 = 1 THEN 'Ships from {date}' END,
       CASE WHEN i % 3 = 1 THEN 'DEPOSIT' ELSE 'FULL' END,
       CASE WHEN i % 3 = 1 THEN 20 END,
       i % 3 = 2
FROM generate_series(1, $1) AS i;
"""


async def seed(url: str, count: int) -> list[str]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        statements = [s for s in SEED_SQL.split(";\n") if s.strip()]
        for statement in statements[:-1]:
            await conn.execute(statement)
        await conn.execute(statements[-1], count)
        await conn.execute(
            "INSERT INTO inventory_pools (product_id, kind, capacity) "
            "SELECT id, k.kind, CASE WHEN k.kind = 'READY' THEN 0 END FROM products, "
            "(VALUES ('READY'), ('PRE_ORDER'), ('BACKORDER'), ('RESERVED')) AS k(kind)"
        )
        await conn.execute("UPDATE inventory_pools SET capacity = 500 WHERE kind = 'PRE_ORDER'")
        await conn.execute(
            "INSERT INTO stock_levels (product_id, location_code, on_hand) "
            "SELECT id, 'main', 100 FROM products WHERE NOT preorder_enabled "
            "AND NOT backorder_allowed"
        )
        await conn.execute(
            "UPDATE inventory_pools ip SET capacity = s.on_hand FROM stock_levels s "
            "WHERE s.product_id = ip.product_id AND ip.kind = 'READY'"
        )
        await conn.execute("ANALYZE")
        rows = await conn.fetch("SELECT sku FROM products ORDER BY sku")
        return [r["sku"] for r in rows]
    finally:
        await conn.close()


def run(
    seconds: float, warmup: float, connections: int, skus_count: int, workers: int = 1
) -> tuple[dict[str, LoadResult], dict[str, str]]:
    """The bare endpoint and the three service variants on one database."""
    with benchmark_database("oms_bench_pdp") as url:
        upgrade_to_head(url)
        skus = asyncio.run(seed(url, skus_count))
        rng = random.Random(7)
        picks = [rng.choice(skus) for _ in range(2000)]

        def graphql(sku: str, by_hash: bool) -> bytes:
            body: dict[str, object] = {
                "operationName": "PDP",
                "variables": {"sku": sku, "quantity": 1},
            }
            if by_hash:
                body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": PDP_HASH}}
            else:  # the same operation as a text the server does not know as trusted
                body["query"] = "# ad hoc\n" + PDP_DOCUMENT
            return build_request("/graphql", body, {})

        trusted = [graphql(sku, True) for sku in picks]
        ad_hoc = [graphql(sku, False) for sku in picks]
        bare_requests = [build_request("/pdp", {"sku": sku, "quantity": 1}, {}) for sku in picks]

        async def measure_one(port: int, requests: list[bytes]) -> LoadResult:
            await run_load(port, requests, warmup, connections, b'"state"')
            return await run_load(port, requests, seconds, connections, b'"state"')

        results: dict[str, LoadResult] = {}
        hit_ratio: dict[str, str] = {}
        bare_port = free_port()
        with server_process(["-m", "benchmarks.bare_pdp", url, str(bare_port)], bare_port):
            results["bare"] = uvloop.run(measure_one(bare_port, bare_requests))
        runs = (
            (RUNS[0], "0", ad_hoc),
            (RUNS[1], "0", trusted),
            (RUNS[2], "1", trusted),
        )
        for label, cache_seconds, requests in runs:
            port = free_port()
            env = {
                "OMS_DATABASE_URL": url,
                "OMS_PORT": str(port),
                "OMS_ACCESS_LOG": "false",
                "OMS_LOG_LEVEL": "WARNING",
                "OMS_PDP_CACHE_SECONDS": cache_seconds,
                "OMS_WORKERS": str(workers),
            }
            with server_process(["-m", "app", "serve"], port, env):
                results[label] = uvloop.run(measure_one(port, requests))
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
                counts = dict(
                    re.findall(rb'oms_pdp_cache_total\{result="(\w+)"\} ([0-9.e+]+)', metrics)
                )
                hits = float(counts.get(b"hit", 0))
                misses = float(counts.get(b"miss", 0))
                hit_ratio[label] = f"{hits / (hits + misses):.0%}" if hits + misses else "off"
    return results, hit_ratio


SHORT = {
    RUNS[0]: "ad-hoc text (executor)",
    RUNS[1]: "trusted, compiled",
    RUNS[2]: "trusted + 1 s cache",
}


def rows(results: dict[str, LoadResult], hit_ratio: dict[str, str], workers: int) -> list[Row]:
    bare = results["bare"]
    return [
        Row(
            "pdp",
            f"{SHORT[label]}, {workers}w",
            "req/s",
            results[label].rps,
            bare.rps,
            "bare Starlette + asyncpg (1 process)",
            p50_ms=results[label].percentile(50) * 1000,
            p99_ms=results[label].percentile(99) * 1000,
            target="ratio >= 0.50",
            note=f"bare p99 {bare.percentile(99) * 1000:.1f} ms; cache hits {hit_ratio[label]}",
        )
        for label in RUNS
    ]


def measure(quick: bool = False) -> list[Row]:
    """The runner's entry: 1 and 2 service workers, each beside the bare endpoint."""
    seconds, warmup = (3.0, 1.0) if quick else (10.0, 3.0)
    out: list[Row] = []
    for workers in (1, 2):
        results, hit_ratio = run(seconds, warmup, 32, 1000, workers)
        out.extend(rows(results, hit_ratio, workers))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    args = parser.parse_args()
    results, hit_ratio = run(args.seconds, args.warmup, args.connections, args.skus, args.workers)

    settings = Settings()
    print(
        f"PDP availability, {args.skus} SKUs, {args.connections} connections, "
        f"{args.seconds:.0f} s after {args.warmup:.0f} s warm-up "
        f"(depth limit {settings.max_query_depth})"
    )
    bare = results["bare"]
    print(bare.line("bare Starlette + asyncpg"))
    for label in RUNS:
        r = results[label]
        print(r.line(label))
        print(
            f"  ratio to bare: {r.rps / bare.rps:.2f} req/s (target >= 0.50), "
            f"p99 x{r.percentile(99) / bare.percentile(99):.1f}; response cache hits "
            f"{hit_ratio[label]}"
        )
    print()
    print_rows(rows(results, hit_ratio, args.workers))


if __name__ == "__main__":
    main()
