"""Property-based tests of FIFO allocation against the real PostgreSQL.

Hypothesis draws a small world (a few SKUs, released or not, FIFO or PRIORITY_FIRST, safety
stock, READY units already sold, some stock on hand) with a queue of waiting BACKORDER and
PRE_ORDER lines, some of them paused, and then a run of steps: goods receipts (stock added and
``app.storage.allocation.allocate`` run for the whole batch of SKUs in one transaction, or one
``app.services.supply.receive_goods`` per receipt), pauses and resumes through
``app.services.queue.set_paused``, and bare re-runs of the allocation. After the setup and after
every step the database is read back and every invariant of allocation is checked.

Rows are written directly with SQL, shaped like placement writes them (``BUNDLE_SQL``,
``create_pools``); each example uses SKUs of its own, so the examples share the module's
database and need no clean-up. The service paths commit, so examples are not rolled back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.container import Services
from app.services.queue import set_paused
from app.services.results import SYSTEM
from app.services.supply import ReceiptInput, receive_goods
from app.settings import Settings
from app.storage.allocation import allocate, free_units, lock_pools
from app.storage.inventory import recompute_ready
from app.storage.readpool import create_read_pool

# ---------------------------------------------------------------- the world hypothesis draws

RELEASES = ("undated", "past", "today", "future", "undated_preorder")
"""undated: no release date, pre-orders off (an ordinary SKU, released); past/today: launched
(pre-orders placed before launch wait with backorders); future: pre-orders only, unreleased;
undated_preorder: pre-orders without a date, unreleased."""

UNRELEASED = ("future", "undated_preorder")


@dataclass(frozen=True)
class SkuSpec:
    release: str
    policy: str
    safety: int
    ready_sold: int
    on_hand: int
    launch_pending: bool  # launched, but the release job has not run (released_at NULL)

    @property
    def released(self) -> bool:
        return self.release not in UNRELEASED


@dataclass(frozen=True)
class LineSpec:
    sku: int
    quantity: int
    backorder: bool
    order: int
    paused: bool


@dataclass(frozen=True)
class OrderSpec:
    priority: bool
    region: str | None


@dataclass(frozen=True)
class Receive:
    receipts: tuple[tuple[int, int], ...]  # (sku index, units)
    through_service: bool


@dataclass(frozen=True)
class Pause:
    line: int
    paused: bool


@dataclass(frozen=True)
class Reallocate:
    skus: tuple[int, ...]


Step = Receive | Pause | Reallocate


@dataclass(frozen=True)
class World:
    skus: list[SkuSpec]
    orders: list[OrderSpec]
    lines: list[LineSpec]
    queue_order: list[int]  # queue_seq rank of each line (not the insertion order)
    steps: list[Step]


def sku_specs(policy: str) -> st.SearchStrategy[SkuSpec]:
    return st.builds(
        SkuSpec,
        # released twice as often as not: the queue is only served once released
        release=st.sampled_from(RELEASES[:3] * 2 + RELEASES[3:]),
        policy=st.just(policy),
        safety=st.integers(0, 3),
        ready_sold=st.integers(0, 3),
        on_hand=st.integers(0, 12),
        launch_pending=st.booleans(),
    )


@st.composite
def worlds(draw: st.DrawFn, policy: str) -> World:
    skus = draw(st.lists(sku_specs(policy), min_size=1, max_size=3))
    orders = draw(
        st.lists(
            st.builds(OrderSpec, st.booleans(), st.sampled_from((None, "EU", "UK"))),
            min_size=1,
            max_size=8,
        )
    )
    lines = draw(
        st.lists(
            st.builds(
                LineSpec,
                sku=st.integers(0, len(skus) - 1),
                quantity=st.integers(1, 4),
                backorder=st.booleans(),
                order=st.integers(0, len(orders) - 1),
                paused=st.integers(0, 4).map(lambda n: n == 0),
            ),
            min_size=2,
            max_size=24,
        )
    )
    queue_order = draw(st.permutations(range(len(lines))))
    sku_index = st.integers(0, len(skus) - 1)
    receive = st.builds(
        Receive,
        st.lists(st.tuples(sku_index, st.integers(1, 10)), min_size=1, max_size=3).map(tuple),
        st.booleans(),
    )
    step = st.one_of(
        receive,
        st.builds(Pause, st.integers(0, len(lines) - 1), st.booleans()),
        st.builds(Reallocate, st.lists(sku_index, min_size=1, max_size=4).map(tuple)),
    )
    steps = [draw(receive), *draw(st.lists(step, max_size=5))]
    return World(skus, orders, lines, list(queue_order), steps)


# ---------------------------------------------------------------- the database side


@dataclass
class Env:
    services: Services
    pool: asyncpg.Pool
    today: date


@pytest_asyncio.fixture(scope="module")
async def env(database_url: str) -> AsyncIterator[Env]:
    fixed = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    app_settings = Settings(database_url=database_url, store_timezone="UTC")
    pool = await create_read_pool(database_url, 4, name="allocation-properties")
    services = Services(app_settings, clock=lambda: fixed, read_pool=pool, write_pool=pool)
    try:
        yield Env(services, pool, services.today())
    finally:
        await pool.close()


@dataclass
class Seeded:
    product_ids: list[uuid.UUID]
    skus: list[str]
    line_ids: list[int]
    order_ids: list[uuid.UUID]


def release_of(spec: SkuSpec, today: date) -> tuple[date | None, bool]:
    """(release_date, preorder_enabled) for a release kind."""
    return {
        "undated": (None, False),
        "past": (today - timedelta(days=10), True),
        "today": (today, True),
        "future": (today + timedelta(days=20), True),
        "undated_preorder": (None, True),
    }[spec.release]


async def seed(conn: asyncpg.Connection, world: World, today: date) -> Seeded:
    tag = secrets.token_hex(5)
    skus = [f"PROP-{tag}-{i}" for i in range(len(world.skus))]
    releases = [release_of(s, today) for s in world.skus]
    rows = await conn.fetch(
        """
        INSERT INTO products (sku, name, price_minor, release_date, preorder_enabled,
                              backorder_allowed, safety_stock, allocation_policy, released_at)
        SELECT x.sku, 'Property ' || x.sku, 1000, x.release_date, x.preorder, true, x.safety,
               x.policy, CASE WHEN x.release_date <= $7 AND NOT x.pending THEN now() END
        FROM unnest($1::text[], $2::date[], $3::bool[], $4::int[], $5::text[], $6::int[],
                    $8::bool[])
             AS x(sku, release_date, preorder, safety, policy, ord, pending)
        ORDER BY x.ord
        RETURNING id, sku
        """,
        skus,
        [r[0] for r in releases],
        [r[1] for r in releases],
        [s.safety for s in world.skus],
        [s.policy for s in world.skus],
        list(range(len(skus))),
        today,
        [s.launch_pending for s in world.skus],
    )
    by_sku = {r["sku"]: r["id"] for r in rows}
    product_ids = [by_sku[s] for s in skus]
    await conn.execute(
        "INSERT INTO stock_levels (product_id, location_code, on_hand) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])",
        product_ids,
        ["main"] * len(skus),
        [s.on_hand for s in world.skus],
    )

    # One order per drawn order, plus one per SKU holding its READY sales.
    ready_skus = [i for i, s in enumerate(world.skus) if s.ready_sold]
    n_orders = len(world.orders) + len(ready_skus)
    order_rows = await conn.fetch(
        """
        INSERT INTO orders (number, channel_code, customer_email, customer_name, region, tags,
                            currency, total_minor, token_hash, placed_by, placed_at)
        SELECT 'PROP-' || $1 || '-' || x.n, 'webstore', 'c' || x.n || '@prop.example', 'Prop',
               x.region, CASE WHEN x.priority THEN ARRAY['PRIORITY'] ELSE '{}' END, 'EUR',
               0, repeat('0', 64), 'property-test', now()
        FROM unnest($2::int[], $3::text[], $4::bool[]) AS x(n, region, priority)
        ORDER BY x.n
        RETURNING id, number
        """,
        tag,
        list(range(n_orders)),
        [o.region for o in world.orders] + [None] * len(ready_skus),
        [o.priority for o in world.orders] + [False] * len(ready_skus),
    )
    by_number = {r["number"]: r["id"] for r in order_rows}
    order_ids = [by_number[f"PROP-{tag}-{n}"] for n in range(n_orders)]

    seqs = sorted(
        r[0]
        for r in await conn.fetch(
            "SELECT nextval('queue_seq') FROM generate_series(1, $1)", len(world.lines)
        )
    )
    line_order: list[uuid.UUID] = []
    line_product: list[uuid.UUID] = []
    line_sku: list[str] = []
    line_qty: list[int] = []
    line_state: list[str] = []
    line_status: list[str] = []
    line_seq: list[int | None] = []
    line_paused: list[bool] = []
    line_no: list[int] = []
    for i, line in enumerate(world.lines):
        spec = world.skus[line.sku]
        if not spec.released:
            state = "PRE_ORDER"
        elif spec.release == "undated" or line.backorder:
            state = "BACKORDER"
        else:
            state = "PRE_ORDER"  # placed before the launch, still waiting
        line_order.append(order_ids[line.order])
        line_product.append(product_ids[line.sku])
        line_sku.append(skus[line.sku])
        line_qty.append(line.quantity)
        line_state.append(state)
        line_status.append("WAITING")
        line_seq.append(seqs[world.queue_order[i]])
        line_paused.append(line.paused)
        line_no.append(i + 1)
    for k, i in enumerate(ready_skus):
        line_order.append(order_ids[len(world.orders) + k])
        line_product.append(product_ids[i])
        line_sku.append(skus[i])
        line_qty.append(world.skus[i].ready_sold)
        line_state.append("READY")
        line_status.append("RESERVED")
        line_seq.append(None)
        line_paused.append(False)
        line_no.append(1)
    line_rows = await conn.fetch(
        """
        INSERT INTO order_lines (order_id, line_no, sub_no, product_id, sku, quantity, state,
                                 status, pool_kind, unit_price_minor, payment_terms,
                                 shipment_group, queue_seq, queued_at, paused_at)
        SELECT x.order_id, x.line_no, 1, x.product_id, x.sku, x.quantity, x.state, x.status,
               x.state, 1000, 'FULL', 1, x.seq, CASE WHEN x.seq IS NOT NULL THEN now() END,
               CASE WHEN x.paused THEN now() END
        FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::text[],
                    $7::text[], $8::bigint[], $9::bool[], $10::int[])
             AS x(order_id, line_no, product_id, sku, quantity, state, status, seq, paused, ord)
        ORDER BY x.ord
        RETURNING id, order_id, line_no
        """,
        line_order,
        line_no,
        line_product,
        line_sku,
        line_qty,
        line_state,
        line_status,
        line_seq,
        line_paused,
        list(range(len(line_order))),
    )
    by_key = {(r["order_id"], r["line_no"]): r["id"] for r in line_rows}
    line_ids = [by_key[line_order[i], line_no[i]] for i in range(len(world.lines))]

    # Pools as create_pools makes them, committed as placement leaves them.
    await conn.execute(
        """
        INSERT INTO inventory_pools (product_id, kind, capacity, committed)
        SELECT p.id, k.kind, CASE WHEN k.kind = 'READY' THEN 0 END,
               CASE WHEN k.kind = 'RESERVED' THEN 0 ELSE COALESCE((
                   SELECT SUM(l.quantity) FROM order_lines l
                   WHERE l.product_id = p.id AND l.pool_kind = k.kind
                     AND l.status IN ('RESERVED', 'WAITING', 'ALLOCATED')), 0) END
        FROM products p,
             (VALUES ('READY'), ('PRE_ORDER'), ('BACKORDER'), ('RESERVED')) AS k(kind)
        WHERE p.id = ANY($1::uuid[])
        """,
        product_ids,
    )
    for product_id in product_ids:
        await recompute_ready(conn, product_id)
    return Seeded(product_ids, skus, line_ids, [order_ids[o.order] for o in world.lines])


# ---------------------------------------------------------------- reading the state back

LINES_SQL = """
SELECT l.id, l.product_id, l.quantity, l.allocated, l.status, l.state, l.queue_seq,
       l.paused_at IS NOT NULL AS paused, 'PRIORITY' = ANY(o.tags) AS priority,
       COALESCE((SELECT SUM(a.quantity) FROM allocations a WHERE a.line_id = l.id), 0)::int
           AS ledger,
       (SELECT count(*) FROM allocations a
        WHERE a.line_id = l.id AND a.product_id <> l.product_id)::int AS foreign_rows
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE l.product_id = ANY($1::uuid[])
"""

SKUS_SQL = """
SELECT p.id, p.allocation_policy, p.safety_stock,
       COALESCE((SELECT SUM(on_hand) FROM stock_levels s WHERE s.product_id = p.id), 0)::int
           AS on_hand,
       COALESCE((SELECT SUM(committed) FROM inventory_pools ip
                 WHERE ip.product_id = p.id AND ip.kind IN ('READY', 'CHANNEL')), 0)::int
           AS sold,
       (SELECT committed FROM inventory_pools ip
        WHERE ip.product_id = p.id AND ip.kind = 'RESERVED') AS reserved
FROM products p WHERE p.id = ANY($1::uuid[])
"""


@dataclass(frozen=True)
class State:
    lines: dict[int, Any]
    skus: dict[uuid.UUID, Any]


async def read_state(conn: asyncpg.Connection, seeded: Seeded) -> State:
    lines = {r["id"]: r for r in await conn.fetch(LINES_SQL, seeded.product_ids)}
    skus = {r["id"]: r for r in await conn.fetch(SKUS_SQL, seeded.product_ids)}
    return State(lines, skus)


def queue_key(line: Any, policy: str) -> tuple[int, int]:
    first = 0 if policy == "PRIORITY_FIRST" and line["priority"] else 1
    return first, line["queue_seq"]


def check(
    world: World,
    seeded: Seeded,
    before: State,
    after: State,
    settled: set[uuid.UUID],
    free_after: dict[uuid.UUID, int],
    where: str,
) -> None:
    """Every invariant of allocation, for the step from ``before`` to ``after``.

    ``settled``: the SKUs whose queue was served in the step (they must have nothing left to
    hand out that an eligible line still needs)."""
    released = {
        pid: spec.released for pid, spec in zip(seeded.product_ids, world.skus, strict=True)
    }
    for line in after.lines.values():
        # Units are never allocated twice: the ledger explains every allocated unit.
        assert line["ledger"] == line["allocated"], f"{where}: line {line['id']} ledger"
        assert line["foreign_rows"] == 0, f"{where}: line {line['id']} has another SKU's rows"
        assert 0 <= line["allocated"] <= line["quantity"], f"{where}: line {line['id']}"
        if line["status"] in ("WAITING", "ALLOCATED"):
            full = line["allocated"] == line["quantity"]
            assert (line["status"] == "ALLOCATED") == full, f"{where}: line {line['id']} status"
        gained = line["allocated"] - before.lines[line["id"]]["allocated"]
        if line["paused"]:
            assert gained <= 0, f"{where}: paused line {line['id']} received {gained} units"
        if not released[line["product_id"]]:
            assert line["allocated"] == 0, f"{where}: unreleased line {line['id']} allocated"
            assert line["ledger"] == 0, f"{where}: unreleased line {line['id']} has allocations"

    for pid, sku in after.skus.items():
        lines = [x for x in after.lines.values() if x["product_id"] == pid]
        open_lines = [x for x in lines if x["status"] in ("WAITING", "ALLOCATED")]
        held = sum(x["allocated"] for x in open_lines)
        assert sku["reserved"] == held, f"{where}: RESERVED {sku['reserved']} != {held} held"
        free_received = sku["on_hand"] - sku["safety_stock"] - sku["sold"]
        assert held <= max(0, free_received), (
            f"{where}: {held} units allocated, only {free_received} free were received"
        )
        if not released[pid]:
            assert held == 0, f"{where}: unreleased SKU allocated {held}"

        eligible = sorted(
            (x for x in lines if x["status"] in ("WAITING", "ALLOCATED") and not x["paused"]),
            key=lambda x: queue_key(x, sku["allocation_policy"]),
        )
        if not released[pid]:
            continue
        # FIFO: a line that got units in this step has no earlier eligible line left short.
        short_before: list[int] = []
        for x in eligible:
            gained = x["allocated"] - before.lines[x["id"]]["allocated"]
            if gained > 0:
                assert not short_before, (
                    f"{where}: line {x['id']} (seq {x['queue_seq']}, {sku['allocation_policy']}) "
                    f"got {gained} units while earlier lines {short_before} are still short"
                )
            if x["allocated"] < x["quantity"]:
                short_before.append(x["id"])
        # Served SKUs keep no free unit back from an eligible line that still needs it.
        if pid in settled and short_before:
            assert free_after[pid] == 0, (
                f"{where}: {free_after[pid]} units free while lines {short_before} are short"
            )


# ---------------------------------------------------------------- the steps


async def run_step(env: Env, world: World, seeded: Seeded, step: Step) -> set[uuid.UUID]:
    """Performs one step; returns the SKUs whose queue it served."""
    if isinstance(step, Pause):
        paused = await set_paused(
            env.services,
            SYSTEM,
            seeded.order_ids[step.line],
            seeded.line_ids[step.line],
            step.paused,
        )
        if not paused.ok:
            return set()
        return {seeded.product_ids[world.lines[step.line].sku]}
    if isinstance(step, Receive) and step.through_service:
        for index, units in step.receipts:
            result = await receive_goods(
                env.services,
                SYSTEM,
                ReceiptInput(seeded.skus[index], units, "main", f"GRN-{secrets.token_hex(3)}"),
            )
            assert result.ok, result.errors
            receipt = result.value
            assert receipt is not None
            assert 0 <= receipt.allocated <= units
        return {seeded.product_ids[i] for i, _ in step.receipts}
    if isinstance(step, Receive):
        targets = [seeded.product_ids[i] for i, _ in step.receipts]
        cause = "RECEIPT"
    else:
        targets = [seeded.product_ids[i] for i in step.skus]
        cause = "TEST"
    async with env.pool.acquire() as conn, conn.transaction():
        await lock_pools(conn, sorted(set(targets)))
        before = await free_units(conn, targets)
        if isinstance(step, Receive):
            for index, units in step.receipts:
                await conn.execute(
                    "UPDATE stock_levels SET on_hand = on_hand + $2 "
                    "WHERE product_id = $1 AND location_code = 'main'",
                    seeded.product_ids[index],
                    units,
                )
        grown = await free_units(conn, targets)
        allocated = await allocate(conn, targets, env.today, cause, "property-test")
        left = await free_units(conn, targets)
        for pid in sorted(set(targets)):
            # What allocate reports is what left the free stock, and never more than there was.
            assert allocated.get(pid, 0) == grown[pid] - left[pid]
            assert allocated.get(pid, 0) <= grown[pid]
            assert grown[pid] >= before[pid]
            await recompute_ready(conn, pid)
    return set(targets)


# ---------------------------------------------------------------- the property


PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def run_world(env: Env, world: World) -> None:
    async with env.pool.acquire() as conn:
        async with conn.transaction():
            seeded = await seed(conn, world, env.today)
        state = await read_state(conn, seeded)
    empty = State({k: {**dict(v), "allocated": 0} for k, v in state.lines.items()}, state.skus)
    check(world, seeded, empty, state, set(), {}, "after setup")
    for n, step in enumerate(world.steps):
        settled = await run_step(env, world, seeded, step)
        async with env.pool.acquire() as conn:
            after = await read_state(conn, seeded)
            free_after = await free_units(conn, seeded.product_ids)
        check(world, seeded, state, after, settled, free_after, f"step {n} {step}")
        state = after


@PROPERTY_SETTINGS
@given(world=worlds("FIFO"))
async def test_fifo_receipts_and_pauses_allocate_in_queue_order_without_overselling(
    env: Env, world: World
) -> None:
    await run_world(env, world)


@PROPERTY_SETTINGS
@given(world=worlds("PRIORITY_FIRST"))
async def test_priority_first_serves_priority_orders_first_then_fifo_without_overselling(
    env: Env, world: World
) -> None:
    await run_world(env, world)
