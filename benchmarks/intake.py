"""Webhook intake: orders/s and latency of signed webhooks (``POST /intake/{channel}``) vs
``placeOrder`` (the trusted document, the storefront's path) on the same server, database and
run: what the signature check, the raw storage, the adapter, the rules, the SKU map and the
outcome record cost on top of the placement they share.

Three paths, each with a fresh order id and customer per request (nothing replays), 1 unit of
a random in-stock SKU out of ``--skus``:

- ``placeOrder``: the trusted PlaceOrder document by hash with a ``channel:webstore`` key (the
  baseline; like the intake's own actor, bound by the channel's unit limits);
- NATIVE webhook: ``placeOrder``'s input as JSON, signed (HMAC-SHA256) for the webstore;
- MARKETPLACE webhook: a marketplace order (nested items, prices with tax, the channel's own
  SKU codes mapped through its SKU map), signed for the marketplace channel.

    .venv/bin/python -m benchmarks.intake [--seconds 8] [--connections 32] [--skus 2000]

At the end every order answered as accepted is counted in the database (exactly once). The
e-mail relay and the scheduler are off during the run: each order's confirmation e-mail,
rendered in the same process, would otherwise be charged to whichever path runs next.
``measure()`` is what ``benchmarks/run.py`` collects.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
import uvloop

from app.domain.intake.signatures import sign
from app.storage.database import to_asyncpg_dsn
from app.storage.migrate import upgrade_to_head
from benchmarks.harness import (
    LoadResult,
    Row,
    benchmark_database,
    build_request,
    create_ops_key,
    free_port,
    print_rows,
    run_load,
    server_process,
    session_cpu_seconds,
)
from benchmarks.placement import PLACE_ORDER_HASH, seed

SECRET = "bench-intake-secret"
SETUP_SQL = """
INSERT INTO channels (code, name, kind) VALUES ('marketplace', 'Marketplace', 'MARKETPLACE')
    ON CONFLICT DO NOTHING;
INSERT INTO intake_channels (channel_code, adapter, rules) VALUES
    ('webstore', 'NATIVE', '{}'), ('marketplace', 'MARKETPLACE', '{"requirePhone": false}');
INSERT INTO channel_sku_map (channel_code, external_sku, sku)
SELECT 'marketplace', 'MP-' || sku, sku FROM products
"""
PATHS = ("placeOrder", "native", "marketplace")
LABELS = {
    "placeOrder": "placeOrder (trusted)",
    "native": "webhook NATIVE",
    "marketplace": "webhook MARKETPLACE + SKU map",
}


@dataclass
class Options:
    seconds: float = 8.0
    warmup: float = 2.0
    connections: int = 32
    skus: int = 2000


@dataclass
class Report:
    options: Options
    results: dict[str, LoadResult] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    accepted: int = 0
    orders_in_db: int = 0


def requests(path: str, skus: list[str], api_key: str) -> Iterator[bytes]:
    """Endless distinct requests of one path (each signed as it is built)."""
    rng = random.Random(11)
    tag = secrets.token_hex(4)
    for n in itertools.count(1):
        sku = rng.choice(skus)
        email = f"c{n}-{tag}@bench.example"
        key = f"bench-{path}-{tag}-{n:09d}"
        if path == "placeOrder":
            body = {
                "operationName": "PlaceOrder",
                "variables": {
                    "input": {
                        "idempotencyKey": key,
                        "channel": "webstore",
                        "customer": {"email": email, "name": "Bench"},
                        "lines": [{"sku": sku, "quantity": 1}],
                    }
                },
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": PLACE_ORDER_HASH}},
            }
            yield build_request(
                "/graphql", json.dumps(body).encode(), {"Authorization": f"Bearer {api_key}"}
            )
            continue
        if path == "native":
            document: dict[str, object] = {
                "externalId": key,
                "customer": {"email": email, "name": "Bench"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
            channel = "webstore"
        else:
            document = {
                "order_id": key,
                "order_total": {"amount": "12.34", "currency": "EUR"},
                "buyer": {"email": email, "name": "Bench"},
                "shipping_address": {
                    "name": "Bench",
                    "address_line_1": "Street 1",
                    "city": "Berlin",
                    "postal_code": "10115",
                    "country_code": "DE",
                },
                "items": [
                    {
                        "order_item_id": "1",
                        "seller_sku": f"MP-{sku}",
                        "quantity_ordered": 1,
                        "item_price": {"amount": "12.34", "currency": "EUR"},
                    }
                ],
            }
            channel = "marketplace"
        payload = json.dumps(document).encode()
        signature = sign(SECRET, int(time.time()), payload)
        yield build_request(f"/intake/{channel}", payload, {"X-OMS-Signature": signature})


async def _count(url: str) -> int:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders"))
    finally:
        await conn.close()


def run(options: Options) -> Report:
    report = Report(options)
    with benchmark_database("oms_bench_intake") as url:
        upgrade_to_head(url)
        catalog = asyncio.run(seed(url, options.skus))

        async def setup() -> None:
            conn = await asyncpg.connect(to_asyncpg_dsn(url))
            try:
                for statement in SETUP_SQL.split(";\n"):
                    await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(setup())
        # a channel key: bound by the channel's limits, as the intake's own actor is
        api_key = create_ops_key(url, "bench-webstore", scope="channel:webstore")
        skus = sorted(s for s in catalog if s.startswith("SKU-"))
        port = free_port()
        env = {
            "OMS_DATABASE_URL": url,
            "OMS_PORT": str(port),
            "OMS_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            "OMS_WORKERS": "1",
            "OMS_INTAKE_SECRETS": json.dumps({"webstore": [SECRET], "marketplace": [SECRET]}),
            # the e-mail relay and the jobs would render every order's confirmation in the
            # same process while later paths run, charging them for earlier paths' orders
            "OMS_MAIL_RELAY_SECONDS": "0",
            "OMS_SCHEDULER_SECONDS": "0",
        }
        with server_process(["-m", "app", "serve"], port, env) as server:

            async def everything() -> None:
                for path in PATHS:
                    check = b'"number"' if path == "placeOrder" else b'"ACCEPTED"'
                    stream = requests(path, skus, api_key)
                    warm = await run_load(port, stream, options.warmup, options.connections, check)
                    report.accepted += warm.requests
                    before = session_cpu_seconds(server.pid)
                    r = await run_load(port, stream, options.seconds, options.connections, check)
                    report.cpu_ms[path] = (
                        (session_cpu_seconds(server.pid) - before) * 1000 / max(1, r.requests)
                    )
                    report.results[path] = r
                    report.accepted += r.requests

            uvloop.run(everything())
        report.orders_in_db = asyncio.run(_count(url))
    return report


def rows(report: Report) -> list[Row]:
    base = report.results["placeOrder"]
    out = [
        Row(
            "intake",
            f"{LABELS['placeOrder']}, 1w, closed {report.options.connections}",
            "orders/s",
            base.rps,
            p50_ms=base.percentile(50) * 1000,
            p99_ms=base.percentile(99) * 1000,
            note=f"service CPU {report.cpu_ms['placeOrder']:.2f} ms/order (the baseline below)",
        )
    ]
    for path in PATHS[1:]:
        r = report.results[path]
        out.append(
            Row(
                "intake",
                f"{LABELS[path]}, 1w, closed {report.options.connections}",
                "orders/s",
                r.rps,
                base.rps,
                "placeOrder (trusted), same run",
                p50_ms=r.percentile(50) * 1000,
                p99_ms=r.percentile(99) * 1000,
                note=f"service CPU {report.cpu_ms[path]:.2f} ms/order; errors {r.errors}",
            )
        )
    return out


def check_counts(report: Report) -> None:
    if report.accepted != report.orders_in_db:
        raise AssertionError(
            f"orders answered as placed {report.accepted}, in the database {report.orders_in_db}"
        )


def measure(quick: bool = False) -> list[Row]:
    options = Options(seconds=4, warmup=1, skus=500) if quick else Options()
    report = run(options)
    check_counts(report)
    return rows(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skus", type=int, default=2000)
    args = parser.parse_args()
    report = run(Options(args.seconds, args.warmup, args.connections, args.skus))
    check_counts(report)
    print_rows(rows(report))


if __name__ == "__main__":
    main()
