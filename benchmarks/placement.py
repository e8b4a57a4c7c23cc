"""Order placement: orders/s and p50/p99 confirmation latency of ``placeOrder`` through the full
HTTP stack (uvicorn, Starlette, the GraphQL view, API-key auth, the placement transaction, the
answer) vs raw asyncpg doing the reservation transaction directly, on the same database, run
and concurrency. Each run also reports the CPU the service's processes and PostgreSQL spent per
order (read from /proc; the benchmark's database runs on this machine).

Two scenarios: 1 unit of a random SKU out of ``--skus`` in-stock SKUs (spread), and every order
for one hot SKU (its READY pool row is the contended lock). Every request carries a fresh
idempotency key and a fresh customer, so nothing replays and no customer row is shared.

Storefronts send the trusted ``PlaceOrder`` document (``graphql_schema/documents/
place_order.graphql``) by its sha256 hash; the service answers it on the compiled path. The
same document sent as ad-hoc text (a comment line more, so not a trusted text) runs through
the GraphQL executor and is measured too (``--no-text`` skips it).

The raw baseline, per order, on one of ``--connections`` asyncpg connections: BEGIN; INSERT the
idempotency key; INSERT a minimal order row (number from the same sequence); INSERT its one
order line; the same conditional pool UPDATE as placement (``RESERVE_SQL``); COMMIT. It skips
what placement does besides: the API key check, the SKU snapshot read, planning, the customer
upsert, payment entries, events, completing the key and NOTIFY.

    .venv/bin/python -m benchmarks.placement [--seconds 10] [--connections 32] [--skus 10000]
        [--no-text] [--workers 1] [--open-loop 10] [--deployment worker|in-process]

By default the service is deployed as in production (``docs/scaling.md``): the API runs with
``OMS_MAIL_RELAY_SECONDS=0 OMS_SCHEDULER_SECONDS=0`` and a ``python -m app worker`` process
sends every confirmation e-mail (to ``.eml`` files: no SMTP server) and runs the jobs, on the
same machine, its CPU per order reported beside the API's. ``--deployment in-process`` runs
them inside ``serve``, as ``make run`` does.

After the closed-loop runs of each scenario, the trusted document is sent open loop for
``--open-loop`` seconds at half the closed-loop rate just measured: one request every 1/rate
seconds whatever the answers do, each latency taken from when the request was due
(coordinated omission corrected), p50/p99/p999 from an HdrHistogram. Closed-loop latency at
32 clients is bounded below by 32 / throughput (Little's law); the open-loop p99 is the one
the < 100 ms target is judged by. ``measure()`` is what ``benchmarks/run.py`` collects.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvloop

from app.storage.database import to_asyncpg_dsn
from app.storage.inventory import RESERVE_SQL
from app.storage.migrate import upgrade_to_head
from app.web.documents import TRUSTED_DIR, sha256
from benchmarks.harness import (
    LoadResult,
    OpenLoopResult,
    Row,
    background_worker,
    benchmark_database,
    build_request,
    create_ops_key,
    free_port,
    parent_pid,
    print_rows,
    run_load,
    run_open_loop,
    server_process,
    session_cpu_seconds,
    split_deployment,
    tree_cpu_seconds,
)

STOCK = 1_000_000  # READY units per SKU: never sells out during a run
HOT_SKU = "HOT-00001"
P99_TARGET = 0.100
TARGETS = {"spread": 0.25, "hot": 0.50}

PLACE_ORDER = (TRUSTED_DIR / "place_order.graphql").read_text(encoding="utf-8")
PLACE_ORDER_HASH = sha256(PLACE_ORDER)
PLACE_ORDER_AD_HOC = PLACE_ORDER + "# ad hoc\n"  # not the trusted text: the executor runs it

SEED_SQL = """
INSERT INTO channels (code, name, kind) VALUES ('webstore', 'Webstore', 'WEBSTORE')
    ON CONFLICT DO NOTHING;
INSERT INTO regions (code, name, transit_min_days, transit_max_days, is_default)
    VALUES ('EU', 'EU', 2, 4, true) ON CONFLICT DO NOTHING;
INSERT INTO locations (code, name) VALUES ('main', 'Main') ON CONFLICT DO NOTHING;
INSERT INTO products (sku, name, price_minor, release_date)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, 1000 + i, current_date - 30
FROM generate_series(1, $1) AS i
UNION ALL SELECT 'HOT-00001', 'Hot product', 4999, current_date - 30;
INSERT INTO inventory_pools (product_id, kind, capacity)
SELECT id, k.kind, CASE WHEN k.kind = 'READY' THEN $1::int END FROM products,
       (VALUES ('READY'), ('PRE_ORDER'), ('BACKORDER'), ('RESERVED')) AS k(kind);
INSERT INTO stock_levels (product_id, location_code, on_hand)
SELECT id, 'main', $1 FROM products
"""

RAW_KEY_SQL = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) "
    "VALUES ('raw|webstore', $1, $2, now() + interval '24 hours')"
)
RAW_ORDER_SQL = """
INSERT INTO orders (number, channel_code, customer_email, customer_name, currency, total_minor,
                    token_hash, placed_by, idempotency_key, placed_at)
VALUES ('PO-' || to_char(now(), 'YYYY') || '-' || lpad(nextval('order_number_seq')::text, 6, '0'),
        'webstore', $1, 'Bench Customer', 'EUR', $2, $3, 'raw-baseline', $4, now())
RETURNING id
"""
RAW_LINE_SQL = """
INSERT INTO order_lines (order_id, line_no, sub_no, product_id, sku, quantity, state, status,
                         pool_kind, unit_price_minor, payment_terms, shipment_group)
VALUES ($1, 1, 1, $2, $3, 1, 'READY', 'RESERVED', 'READY', $4, 'FULL', 1)
"""


async def seed(url: str, count: int) -> dict[str, tuple[Any, int, int]]:
    """Products, pools, stock; returns sku -> (product id, READY pool id, price)."""
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        statements = [s for s in SEED_SQL.split(";\n") if s.strip()]
        for statement in statements[:3]:
            await conn.execute(statement)
        await conn.execute(statements[3], count)
        for statement in statements[4:]:
            await conn.execute(statement, STOCK)
        await conn.execute("ANALYZE")
        # A fresh cluster creates (and zero-fills) every WAL segment it needs: fill ~200 MB
        # once and checkpoint, so the runs reuse recycled segments (a run writes less than
        # that); the warm-up phases take care of buffers, plans and pool connections.
        await conn.execute(
            "CREATE TABLE wal_warmup AS SELECT g, repeat('x', 1000) AS pad "
            "FROM generate_series(1, 200000) AS g"
        )
        await conn.execute("DROP TABLE wal_warmup")
        await conn.execute("CHECKPOINT")
        rows = await conn.fetch(
            "SELECT p.sku, p.id, ip.id AS pool_id, p.price_minor FROM products p "
            "JOIN inventory_pools ip ON ip.product_id = p.id AND ip.kind = 'READY'"
        )
        return {r["sku"]: (r["id"], r["pool_id"], r["price_minor"]) for r in rows}
    finally:
        await conn.close()


class Orders:
    """An endless supply of distinct orders: (sequence number, unique key, SKU)."""

    def __init__(self, pick: Callable[[], str]) -> None:
        self.pick = pick
        self.tag = secrets.token_hex(4)
        self.counter = itertools.count(1)

    def __iter__(self) -> Iterator[tuple[int, str, str]]:
        for n in self.counter:
            yield n, f"bench-{self.tag}-{n:09d}", self.pick()


def order_body(orders: Orders, n: int, key: str, sku: str, trusted: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "operationName": "PlaceOrder",
        "variables": {
            "input": {
                "idempotencyKey": key,
                "channel": "webstore",
                "customer": {"email": f"c{n}-{orders.tag}@bench.example", "name": "Bench"},
                "lines": [{"sku": sku, "quantity": 1}],
            }
        },
    }
    if trusted:
        body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": PLACE_ORDER_HASH}}
    else:
        body["query"] = PLACE_ORDER_AD_HOC
    return body


def http_requests(orders: Orders, api_key: str, trusted: bool) -> Iterator[bytes]:
    """Pre-built request bytes, built lazily: one unique idempotency key each."""
    headers = {"Authorization": f"Bearer {api_key}"}
    for n, key, sku in orders:
        yield build_request("/graphql", order_body(orders, n, key, sku, trusted), headers)


def preflight(port: int, orders: Orders, api_key: str) -> None:
    """One order each way first: the server on ``port`` is ours, takes the key, knows the
    trusted document and places orders."""
    for trusted in (True, False):
        n, key, sku = next(iter(orders))
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps(order_body(orders, n, key, sku, trusted)).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
        if b'"number"' not in answer:
            raise RuntimeError(f"placeOrder placed no order: {answer[:500]!r}")


class Failures:
    def __init__(self) -> None:
        self.first: str | None = None

    def note(self, text: str) -> None:
        if self.first is None:
            self.first = text[:300]


async def run_raw(
    url: str,
    orders: Iterator[tuple[int, str, str]],
    catalog: dict[str, tuple[Any, int, int]],
    seconds: float,
    connections: int,
    failures: Failures,
    on_done: Callable[[], None] | None = None,
) -> LoadResult:
    """The baseline: the reservation transaction on raw asyncpg, one loop per connection."""
    conns = [await asyncpg.connect(to_asyncpg_dsn(url)) for _ in range(connections)]
    latencies: list[float] = []
    counters = [0, 0]

    async def loop(conn: asyncpg.Connection, stop_at: float) -> None:
        while time.perf_counter() < stop_at:
            n, key, sku = next(orders)
            product_id, pool_id, price = catalog[sku]
            started = time.perf_counter()
            try:
                async with conn.transaction():
                    await conn.execute(RAW_KEY_SQL, key, "0" * 64)
                    order_id = await conn.fetchval(
                        RAW_ORDER_SQL, f"c{n}@raw.example", price, "0" * 64, key
                    )
                    await conn.execute(RAW_LINE_SQL, order_id, product_id, sku, price)
                    if await conn.fetchval(RESERVE_SQL, pool_id, 1) is None:
                        raise LookupError(f"{sku} sold out")
            except (asyncpg.PostgresError, LookupError) as exc:
                counters[1] += 1
                failures.note(f"{type(exc).__name__}: {exc}")
            else:
                counters[0] += 1
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(loop(c, started + seconds) for c in conns))
        elapsed = time.perf_counter() - started
        if on_done is not None:
            on_done()  # before the backends exit with their CPU counters
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return LoadResult(counters[0], counters[1], elapsed, latencies)


@dataclass
class Options:
    seconds: float = 10.0
    warmup: float = 3.0
    connections: int = 32
    skus: int = 10_000
    text: bool = True  # also the ad-hoc document text (the executor)
    workers: int = 1
    open_loop_seconds: float = 10.0  # 0: no open-loop run
    open_loop_share: float = 0.5  # of the closed-loop capacity
    # "worker": the API runs with the mail relay and the jobs off and `python -m app worker`
    # runs them (the production deployment, docs/scaling.md); "in-process": one `serve` runs
    # all of them, as `make run` does
    deployment: str = "worker"


@dataclass
class Report:
    options: Options
    paths: list[str]
    results: dict[tuple[str, str], LoadResult] = field(default_factory=dict)
    open_loop: dict[str, OpenLoopResult] = field(default_factory=dict)
    cpu: dict[tuple[str, str], float] = field(default_factory=dict)  # service ms per order
    worker_cpu: dict[tuple[str, str], float] = field(default_factory=dict)  # worker ms/order
    db_cpu: dict[tuple[str, str], float] = field(default_factory=dict)  # PostgreSQL ms/order
    failures: dict[tuple[str, str], Failures] = field(default_factory=dict)
    placed: int = 0  # every order answered as placed, warm-ups included
    via_service: int = 0  # of which placed through the service (raw's have no e-mail)
    # worker deployment: seconds from the last order until every confirmation was mailed
    mail_caught_up_s: float | None = None
    orders_in_db: int = 0
    units_committed: int = 0


def run(options: Options) -> Report:
    """Every scenario and path on a fresh database; the orders counted against it at the end."""
    paths = ["raw", "trusted", "text"] if options.text else ["raw", "trusted"]
    report = Report(options, paths)
    results, cpu, db_cpu, failures = report.results, report.cpu, report.db_cpu, report.failures
    with benchmark_database("oms_bench_placement") as url:
        upgrade_to_head(url)
        catalog = asyncio.run(seed(url, options.skus))
        api_key = create_ops_key(url)
        spread_skus = sorted(s for s in catalog if s != HOT_SKU)
        rng = random.Random(7)
        scenarios = {
            "spread": Orders(lambda: rng.choice(spread_skus)),
            "hot": Orders(lambda: HOT_SKU),
        }
        port = free_port()
        env = {
            "OMS_DATABASE_URL": url,
            "OMS_PORT": str(port),
            "OMS_ACCESS_LOG": "false",
            "OMS_LOG_LEVEL": "WARNING",
            "OMS_WORKERS": str(options.workers),
        }
        worker_env: dict[str, str] | None = None
        if options.deployment == "worker":
            env, worker_env = split_deployment(env)
        if options.workers > 1:
            # the embedded server's 100 connections: the service's pools (which stay open
            # between runs) and raw's 32 must fit; each worker serves ~32 / workers at once
            env |= {"OMS_DB_WRITE_POOL_SIZE": "24", "OMS_DB_READ_POOL_SIZE": "4"}

        postmaster = asyncio.run(postmaster_pid(url))

        def db_seconds() -> float:
            return tree_cpu_seconds(postmaster) if postmaster is not None else float("nan")

        with (
            server_process(["-m", "app", "serve"], port, env) as server,
            background_worker(worker_env) as worker,
        ):

            def worker_seconds() -> float:
                return session_cpu_seconds(worker.pid) if worker is not None else 0.0

            async def raw(name: str, seconds: float) -> LoadResult:
                sink = failures.setdefault((name, "raw"), Failures())
                orders = iter(scenarios[name])
                before = db_seconds()
                after = [before]

                def done() -> None:
                    after[0] = db_seconds()

                r = await run_raw(url, orders, catalog, seconds, options.connections, sink, done)
                db_cpu[name, "raw"] = (after[0] - before) * 1000 / max(1, r.requests + r.errors)
                report.placed += r.requests
                return r

            async def service(name: str, seconds: float, path: str) -> LoadResult:
                sink = failures.setdefault((name, path), Failures())
                requests = http_requests(scenarios[name], api_key, path == "trusted")
                before, db_before = session_cpu_seconds(server.pid), db_seconds()
                worker_before = worker_seconds()
                r = await run_load(
                    port, requests, seconds, options.connections, b'"number"', sink.note
                )
                count = max(1, r.requests + r.errors)
                cpu[name, path] = (session_cpu_seconds(server.pid) - before) * 1000 / count
                report.worker_cpu[name, path] = (worker_seconds() - worker_before) * 1000 / count
                db_cpu[name, path] = (db_seconds() - db_before) * 1000 / count
                report.placed += r.requests
                report.via_service += r.requests
                return r

            preflight(port, scenarios["spread"], api_key)
            report.placed += 2
            report.via_service += 2

            async def one(name: str, seconds: float, path: str) -> LoadResult:
                if path == "raw":
                    return await raw(name, seconds)
                return await service(name, seconds, path)

            async def everything() -> None:
                # Warm the database (WAL segments, buffers, plans) and every path first.
                for path in paths:
                    await one("spread", options.warmup, path)
                for name in scenarios:
                    for path in paths:
                        await one(name, options.warmup, path)
                        results[name, path] = await one(name, options.seconds, path)
                    if options.open_loop_seconds > 0:
                        # open loop at a share of the capacity just measured (trusted path)
                        rate = options.open_loop_share * results[name, "trusted"].rps
                        requests = http_requests(scenarios[name], api_key, True)
                        r = await run_open_loop(
                            port, requests, rate, options.open_loop_seconds, check=b'"number"'
                        )
                        report.open_loop[name] = r
                        report.placed += r.ok
                        report.via_service += r.ok

            uvloop.run(everything())
            if worker is not None:
                report.mail_caught_up_s = asyncio.run(mail_caught_up(url, report.via_service))

        report.orders_in_db, report.units_committed = asyncio.run(count_orders(url))
    return report


async def postmaster_pid(url: str) -> int | None:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        # only when the server runs on this machine, as the benchmark's does
        return parent_pid(int(backend))
    except OSError:
        return None
    finally:
        await conn.close()


async def mail_caught_up(url: str, confirmations: int, limit: float = 300.0) -> float | None:
    """Seconds until the worker has mailed every order's confirmation (None: not within
    ``limit``): the e-mail lag the niced worker let build up during the load."""
    started = time.monotonic()
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        while time.monotonic() - started < limit:
            sent = await conn.fetchval(
                "SELECT count(*) FROM notifications "
                "WHERE template = 'order_confirmation' AND status = 'SENT'"
            )
            if sent >= confirmations:
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        return None
    finally:
        await conn.close()


async def count_orders(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(to_asyncpg_dsn(url))
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders")
        units = await conn.fetchval(
            "SELECT sum(committed) FROM inventory_pools WHERE kind = 'READY'"
        )
        return int(orders), int(units)
    finally:
        await conn.close()


TITLES = {"spread": "spread", "hot": "hot SKU"}
LABELS = {"trusted": "trusted", "text": "ad-hoc text"}


def rows(report: Report) -> list[Row]:
    """The runner's rows: each path beside raw asyncpg, then the open-loop latencies."""
    o = report.options
    workers = f"{o.workers}w" + (" in-process loops" if o.deployment == "in-process" else "")
    out: list[Row] = []
    for name in ("spread", "hot"):
        raw_r = report.results[name, "raw"]
        for path in report.paths[1:]:
            r = report.results[name, path]
            met = "met" if r.percentile(99) < P99_TARGET else "missed"
            out.append(
                Row(
                    "placement",
                    f"{TITLES[name]}, {LABELS[path]}, {workers}, closed {o.connections}",
                    "orders/s",
                    r.rps,
                    raw_r.rps,
                    "raw asyncpg reservation txn",
                    p50_ms=r.percentile(50) * 1000,
                    p99_ms=r.percentile(99) * 1000,
                    target=f"ratio >= {TARGETS[name]:.2f}" if path == "trusted" else "",
                    note=(
                        f"service CPU {report.cpu[name, path]:.2f} ms/order"
                        + (
                            f" + worker {report.worker_cpu[name, path]:.2f}"
                            if o.deployment == "worker"
                            else ""
                        )
                        + ", PostgreSQL "
                        f"{report.db_cpu[name, path]:.2f} (raw {report.db_cpu[name, 'raw']:.2f})"
                        + (f"; closed-loop p99 < 100 ms {met}" if path == "trusted" else "")
                    ),
                )
            )
        open_r = report.open_loop.get(name)
        if open_r is not None:
            met = "met" if open_r.ms(99) < P99_TARGET * 1000 else "MISSED"
            out.append(
                Row(
                    "placement",
                    f"{TITLES[name]}, trusted, {workers}, open {o.open_loop_share:.0%} cap.",
                    "orders/s",
                    open_r.achieved,
                    p50_ms=open_r.ms(50),
                    p99_ms=open_r.ms(99),
                    p999_ms=open_r.ms(99.9),
                    target=f"p99 < 100 ms: {met}",
                    note=f"offered {open_r.rate:.0f}/s, errors {open_r.errors}, "
                    "latency from the intended send time (HdrHistogram)" + mail_note(report),
                )
            )
    return out


def mail_note(report: Report) -> str:
    if report.options.deployment != "worker":
        return "; mail relay and jobs in the API process"
    if report.mail_caught_up_s is None:
        return "; the worker had NOT mailed every confirmation 300 s after the load"
    return (
        f"; the worker (nice 10) had mailed every confirmation "
        f"{report.mail_caught_up_s:.1f} s after the load"
    )


def measure(quick: bool = False) -> list[Row]:
    """The runner's entry, with the relay and the jobs in a ``python -m app worker``: 1 uvicorn
    worker (trusted and ad-hoc text) and 2 (trusted); then 1 with them in the API process, as
    ``make run`` serves (trusted)."""
    out: list[Row] = []
    for workers, deployment in ((1, "worker"), (2, "worker"), (1, "in-process")):
        options = (
            Options(seconds=4, warmup=1.5, skus=2000, text=False, open_loop_seconds=4)
            if quick
            else Options(text=workers == 1 and deployment == "worker")
        )
        options.workers = workers
        options.deployment = deployment
        report = run(options)
        check_counts(report)
        out.extend(rows(report))
    return out


def check_counts(report: Report) -> None:
    """Every order answered as placed is in the database exactly once."""
    if not report.placed == report.orders_in_db == report.units_committed:
        raise AssertionError(
            f"orders confirmed {report.placed}, in the database {report.orders_in_db}, READY "
            f"units committed {report.units_committed}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument(
        "--no-text", action="store_true", help="skip the ad-hoc document text (executor) runs"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="service worker processes (OMS_WORKERS)"
    )
    parser.add_argument(
        "--open-loop", type=float, default=10.0, help="seconds of open-loop load (0: none)"
    )
    parser.add_argument(
        "--deployment",
        choices=("worker", "in-process"),
        default="worker",
        help="worker: the mail relay and the jobs in `python -m app worker`, the API without "
        "them (production); in-process: all in `serve`, as `make run`",
    )
    args = parser.parse_args()
    options = Options(
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        skus=args.skus,
        text=not args.no_text,
        workers=args.workers,
        open_loop_seconds=args.open_loop,
        deployment=args.deployment,
    )
    report = run(options)
    paths, results, failures = report.paths, report.results, report.failures
    print(
        f"Order placement, {args.connections} connections, {args.seconds:.0f} s after "
        f"{args.warmup:.0f} s warm-up per run; {STOCK:,} READY units per SKU; "
        f"service: {args.workers} worker process{'es' if args.workers > 1 else ''}, "
        + (
            "mail relay and jobs in `python -m app worker`"
            if args.deployment == "worker"
            else "mail relay and jobs in the API process"
        )
    )
    titles = {
        "spread": f"spread: 1 unit of a random SKU out of {args.skus:,}",
        "hot": f"hot SKU: every order for {HOT_SKU}",
    }
    print(
        f"raw: {args.connections} asyncpg connections, each looping BEGIN; INSERT idempotency "
        "key; INSERT order; INSERT line; conditional pool UPDATE; COMMIT"
    )
    labels = {
        "raw": "raw asyncpg reservation txn",
        "trusted": "placeOrder, trusted doc (hash)",
        "text": "placeOrder, ad-hoc text",
    }
    for name, title in titles.items():
        raw_r = results[name, "raw"]
        print(title)
        for path in paths:
            print(results[name, path].line(labels[path], "orders/s"))
        print(f"  PostgreSQL CPU per order: raw {report.db_cpu[name, 'raw']:.2f} ms", end="")
        for path in paths[1:]:
            print(f", {path} {report.db_cpu[name, path]:.2f} ms", end="")
        print()
        for path in paths[1:]:
            svc = results[name, path]
            p99 = svc.percentile(99)
            target = f"target >= {TARGETS[name]:.2f}" if path == "trusted" else "no target"
            met = "met" if p99 < P99_TARGET else "MISSED"
            print(
                f"  {path}: ratio to raw {svc.rps / raw_r.rps:.2f} ({target}), "
                f"p99 x{p99 / raw_r.percentile(99):.1f}; p99 {p99 * 1000:.0f} ms"
                + (f" (target < {P99_TARGET * 1000:.0f} ms: {met})" if path == "trusted" else "")
                + f"; service CPU {report.cpu[name, path]:.2f} ms/order"
                + (
                    f", worker {report.worker_cpu[name, path]:.2f} ms/order"
                    if args.deployment == "worker"
                    else ""
                )
            )
        if name in report.open_loop:
            print(report.open_loop[name].line("  open loop, trusted"))
        for path in paths:
            first = failures[name, path].first
            if first:
                print(f"  first {path} failure: {first}")
    print(
        f"orders confirmed (all runs and warm-ups): {report.placed:,}; in the database: "
        f"{report.orders_in_db:,}; READY units committed: {report.units_committed:,}"
    )
    print(mail_note(report).removeprefix("; ").capitalize())
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print()
    print_rows(rows(report))


if __name__ == "__main__":
    main()
