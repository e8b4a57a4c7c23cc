"""Inventory persistence: SKU snapshots in one statement, pool maintenance, the stock ledger.

Lock order, always: the product row (FOR NO KEY UPDATE) for admin writes, then pool rows
CHANNEL → READY → PRE_ORDER → BACKORDER → RESERVED. Placement takes only pool rows, in the
same order, so the two never deadlock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from app.domain.availability import (
    BackorderPolicy,
    ChannelHold,
    PaymentTerms,
    PoolKind,
    PreorderPolicy,
    SkuSnapshot,
)
from app.domain.estimates import LATENESS_HISTORY_SIZE, SupplyKind, SupplySource
from app.domain.text import lookup_key

# The lateness history of an open supply ``su`` (``SupplySource.lateness_history``): days from
# the first expected date to the last, of the supplier's most recent received supply (a
# production run: the SKU's earlier runs); negative when it came early. A purchase order
# received in full has ``received_on``, the day it came, early or late, told or not
# (``app.storage.supply.record_received``); a production run (and a record received before
# migration 0014) is measured by its last expected date.
LATENESS_HISTORY_SQL = f"""
COALESCE(CASE WHEN su.supplier_code IS NOT NULL THEN
    (SELECT array_agg(h.late) FROM (
        SELECT COALESCE(r.received_on, r.expected_on) - r.original_expected_on AS late
        FROM supply r
        WHERE r.status = 'RECEIVED' AND r.supplier_code = su.supplier_code
          AND r.kind = su.kind
        ORDER BY r.id DESC LIMIT {LATENESS_HISTORY_SIZE}) h)
  ELSE
    (SELECT array_agg(h.late) FROM (
        SELECT COALESCE(r.received_on, r.expected_on) - r.original_expected_on AS late
        FROM supply r
        WHERE r.status = 'RECEIVED' AND r.supplier_code IS NULL
          AND r.product_id = su.product_id AND r.kind = su.kind
        ORDER BY r.id DESC LIMIT {LATENESS_HISTORY_SIZE}) h)
  END, '{{}}')
"""
# (one indexed look-up either way: ix_supply_received_supplier, ix_supply_received_product)

SNAPSHOT_SQL = f"""
SELECT p.id, p.sku, p.release_date, p.safety_stock, p.tags, p.price_minor, p.currency,
       p.preorder_enabled, p.preorder_message, p.preorder_payment,
       p.preorder_deposit_percent, p.preorder_deposit_minor,
       p.backorder_allowed, p.backorder_message, p.backorder_payment,
       p.backorder_deposit_percent, p.backorder_deposit_minor, p.released_at,
       p.allocation_policy,
       COALESCE((SELECT json_agg(json_build_array(su.id, su.kind,
                                                  GREATEST(0, su.quantity - su.received_quantity),
                                                  su.expected_on, su.units_per_day, su.slips,
                                                  sp.receipts, sp.on_time_receipts,
                                                  {LATENESS_HISTORY_SQL})
                                 ORDER BY su.expected_on, su.id)
                 FROM supply su LEFT JOIN suppliers sp ON sp.code = su.supplier_code
                 WHERE su.product_id = p.id AND su.status = 'OPEN'), '[]'::json) AS supply,
       COALESCE((SELECT SUM(s.on_hand) FROM stock_levels s WHERE s.product_id = p.id), 0)::int
           AS on_hand,
       COALESCE((SELECT json_agg(json_build_array(ip.kind, ip.channel_code, ip.capacity,
                                                  ip.committed, ip.share_percent,
                                                  ip.fixed_quantity, ip.id) ORDER BY ip.id)
                 FROM inventory_pools ip WHERE ip.product_id = p.id), '[]'::json) AS pools
FROM products p
WHERE p.sku = ANY($1::text[])
"""


@dataclass(frozen=True)
class PoolRow:
    kind: PoolKind
    channel: str | None
    capacity: int | None
    committed: int
    share_percent: float | None
    fixed_quantity: int | None
    id: int = 0


@dataclass(frozen=True)
class SkuRecord:
    """A snapshot plus what the API shows beside it (policies' raw settings, pool rows)."""

    product_id: uuid.UUID
    snapshot: SkuSnapshot
    tags: tuple[str, ...]
    preorder_deposit_percent: float | None
    preorder_deposit_minor: int | None
    backorder_deposit_percent: float | None
    backorder_deposit_minor: int | None
    pools: tuple[PoolRow, ...]
    price_minor: int = 0
    currency: str = "EUR"
    supply: tuple[SupplySource, ...] = ()
    allocation_policy: str = "FIFO"

    @property
    def waiting_units(self) -> int:
        """Units of open pre-order and backorder lines not yet ring-fenced."""
        counted = sum(
            p.committed for p in self.pools if p.kind in (PoolKind.PRE_ORDER, PoolKind.BACKORDER)
        )
        return max(0, counted - self.snapshot.reserved)

    def supply_sources(self, today: date) -> list[SupplySource]:
        """What waiting demand is served from, in the estimates' terms: before the release,
        the stock on hand held for the launch, then the open supply. (Once released, free
        stock goes to the waiting lines at once, so there is none left to count.)"""
        sources: list[SupplySource] = []
        if not self.snapshot.is_released(today) and self.free_on_hand:
            sources.append(SupplySource(None, SupplyKind.ON_HAND, self.free_on_hand, today))
        sources.extend(self.supply)
        return sources

    @property
    def free_on_hand(self) -> int:
        """On hand and promised to nobody (before launch: held for the pre-orders)."""
        snap = self.snapshot
        sold = snap.ready_committed + sum(h.committed for h in snap.channel_holds)
        return max(0, snap.sellable - sold)


def json_date(value: str) -> date:
    """A date PostgreSQL wrote into JSON. Its infinities come as words: they are read as
    ``date.max`` and ``date.min``, as asyncpg reads them from a date column (no date a caller
    gives can be one: ``app.domain.dates``; a row written otherwise is that row's problem)."""
    if value == "infinity":
        return date.max
    if value == "-infinity":
        return date.min
    return date.fromisoformat(value)


def supply_sources(raw: Any) -> tuple[SupplySource, ...]:
    """Open supply from the ``supply`` JSON column of ``SNAPSHOT_SQL`` (or the same shape)."""
    items = orjson.loads(raw) if isinstance(raw, str) else raw
    sources: list[SupplySource] = []
    for sid, kind, remaining, expected, per_day, slips, receipts, on_time, *late in items:
        if remaining <= 0:
            continue
        lateness = tuple(int(days) for days in late[0]) if late and late[0] else ()
        sources.append(
            SupplySource(
                supply_id=str(sid),
                kind=SupplyKind(kind),
                quantity=int(remaining),
                expected_on=json_date(expected) if isinstance(expected, str) else expected,
                units_per_day=int(per_day or 0),
                on_time_rate=(on_time / receipts) if receipts else None,
                slips=int(slips),
                lateness_history=lateness,
            )
        )
    return tuple(sources)


def _pool_rows(raw: Any) -> tuple[PoolRow, ...]:
    items = orjson.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        PoolRow(
            PoolKind(kind),
            channel,
            capacity,
            committed,
            float(share) if share is not None else None,
            fixed,
            pool_id,
        )
        for kind, channel, capacity, committed, share, fixed, pool_id in items
    )


def record_from_row(row: Mapping[str, Any]) -> SkuRecord:
    """A record from one row of ``SNAPSHOT_SQL`` (an asyncpg Record or a row mapping)."""
    pools = _pool_rows(row["pools"])
    by_kind = {p.kind: p for p in pools if p.kind is not PoolKind.CHANNEL}
    ready = by_kind.get(PoolKind.READY)
    pre = by_kind.get(PoolKind.PRE_ORDER)
    back = by_kind.get(PoolKind.BACKORDER)
    reserved = by_kind.get(PoolKind.RESERVED)
    released_at = row["released_at"]
    supply = supply_sources(row["supply"])
    snapshot = SkuSnapshot(
        sku=row["sku"],
        release_date=row["release_date"],
        on_hand=row["on_hand"],
        safety_stock=row["safety_stock"],
        ready_committed=ready.committed if ready else 0,
        reserved=reserved.committed if reserved else 0,
        channel_holds=tuple(
            ChannelHold(p.channel or "", p.capacity or 0, p.committed)
            for p in pools
            if p.kind is PoolKind.CHANNEL
        ),
        preorder=PreorderPolicy(
            enabled=row["preorder_enabled"],
            cap=pre.capacity if pre else None,
            committed=pre.committed if pre else 0,
            message_template=row["preorder_message"],
            payment=PaymentTerms(row["preorder_payment"]),
        ),
        backorder=BackorderPolicy(
            allowed=row["backorder_allowed"],
            cap=back.capacity if back else None,
            committed=back.committed if back else 0,
            message_template=row["backorder_message"],
            payment=PaymentTerms(row["backorder_payment"]),
        ),
        incoming=sum(source.quantity for source in supply),
        # Pre-orders are waiting and the release job has not served them yet.
        launch_pending=released_at is None and pre is not None and pre.committed > 0,
    )
    return SkuRecord(
        product_id=row["id"],
        snapshot=snapshot,
        tags=tuple(row["tags"]),
        preorder_deposit_percent=_float(row["preorder_deposit_percent"]),
        preorder_deposit_minor=row["preorder_deposit_minor"],
        backorder_deposit_percent=_float(row["backorder_deposit_percent"]),
        backorder_deposit_minor=row["backorder_deposit_minor"],
        pools=pools,
        price_minor=row["price_minor"],
        currency=row["currency"],
        supply=supply,
        allocation_policy=row["allocation_policy"],
    )


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


async def fetch_records(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, SkuRecord]:
    """Snapshots for many SKUs in one round trip (a SKU that cannot be stored is unknown)."""
    skus = [sku for sku in skus if lookup_key(sku)]
    if not skus:
        return {}
    rows = await conn.fetch(SNAPSHOT_SQL, list(skus))
    return {row["sku"]: record_from_row(row) for row in rows}


async def fetch_records_each(
    conn: asyncpg.Connection, skus: Sequence[str]
) -> dict[str, SkuRecord | Exception]:
    """``fetch_records`` for a list (a DataLoader batch): a row that cannot be read (a value
    stored outside what the domain represents) is that SKU's error, not the whole batch's."""
    skus = [sku for sku in skus if lookup_key(sku)]
    if not skus:
        return {}
    found: dict[str, SkuRecord | Exception] = {}
    for row in await conn.fetch(SNAPSHOT_SQL, list(skus)):
        try:
            found[row["sku"]] = record_from_row(row)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            found[row["sku"]] = exc
    return found


async def create_pools(conn: asyncpg.Connection, product_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO inventory_pools (product_id, kind, capacity) VALUES "
        "($1, 'READY', 0), ($1, 'PRE_ORDER', NULL), ($1, 'BACKORDER', NULL), "
        "($1, 'RESERVED', NULL) ON CONFLICT DO NOTHING",
        product_id,
    )


RECOMPUTE_READY_SQL = """
WITH base AS (
    SELECT GREATEST(0,
        COALESCE((SELECT SUM(on_hand) FROM stock_levels WHERE product_id = $1), 0)
        - p.safety_stock
        - COALESCE((SELECT committed FROM inventory_pools
                    WHERE product_id = $1 AND kind = 'RESERVED'), 0))::int AS sellable
    FROM products p WHERE p.id = $1
), targets AS (
    SELECT c.id, c.committed,
           CASE WHEN c.share_percent IS NOT NULL
                THEN floor(base.sellable * c.share_percent / 100)::int
                ELSE COALESCE(c.fixed_quantity, 0) END AS target
    FROM inventory_pools c, base
    WHERE c.product_id = $1 AND c.kind = 'CHANNEL'
), clamped AS (
    SELECT t.id, LEAST(t.target, GREATEST(0, base.sellable - COALESCE(SUM(t.target) OVER (
               ORDER BY t.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))::int AS cap
    FROM targets t, base
), channel_update AS (
    UPDATE inventory_pools c SET capacity = clamped.cap, updated_at = now()
    FROM clamped WHERE c.id = clamped.id
    RETURNING GREATEST(c.capacity, c.committed) AS set_aside
)
UPDATE inventory_pools r
SET capacity = GREATEST(0, base.sellable
                           - COALESCE((SELECT SUM(set_aside) FROM channel_update), 0))::int,
    updated_at = now()
FROM base
WHERE r.product_id = $1 AND r.kind = 'READY'
RETURNING r.capacity
"""


async def recompute_ready(conn: asyncpg.Connection, product_id: uuid.UUID) -> int:
    """Bring READY and CHANNEL capacities in line with stock; returns READY capacity."""
    return int(await conn.fetchval(RECOMPUTE_READY_SQL, product_id))


async def set_pool_cap(
    conn: asyncpg.Connection, product_id: uuid.UUID, kind: str, cap: int | None
) -> int | None:
    """Set a PRE_ORDER or BACKORDER pool's cap atomically; returns the committed count when
    the cap would be below it (nothing changed), else None."""
    done = await conn.fetchval(
        "UPDATE inventory_pools SET capacity = $3, updated_at = now() "
        "WHERE product_id = $1 AND kind = $2 AND ($3::int IS NULL OR committed <= $3) "
        "RETURNING id",
        product_id,
        kind,
        cap,
    )
    if done is not None:
        return None
    committed = await conn.fetchval(
        "SELECT committed FROM inventory_pools WHERE product_id = $1 AND kind = $2",
        product_id,
        kind,
    )
    return int(committed)


async def set_channel_hold(
    conn: asyncpg.Connection,
    product_id: uuid.UUID,
    channel: str,
    quantity: int | None,
    share_percent: Decimal | None,
) -> None:
    """Create or change a channel's hold (its capacity follows in ``recompute_ready``)."""
    await conn.execute(
        "INSERT INTO inventory_pools (product_id, kind, channel_code, capacity, "
        "fixed_quantity, share_percent) VALUES ($1, 'CHANNEL', $2, 0, $3, $4) "
        "ON CONFLICT ON CONSTRAINT uq_pool_product_kind DO UPDATE SET "
        "fixed_quantity = EXCLUDED.fixed_quantity, share_percent = EXCLUDED.share_percent, "
        "updated_at = now()",
        product_id,
        channel,
        quantity,
        share_percent,
    )


RESERVE_SQL = """
UPDATE inventory_pools SET committed = committed + $2, updated_at = now()
WHERE id = $1 AND (capacity IS NULL OR committed + $2 <= capacity)
RETURNING committed
"""

RELEASE_SQL = """
UPDATE inventory_pools SET committed = committed - $2, updated_at = now()
WHERE id = $1 AND committed >= $2
RETURNING committed
"""


async def release(conn: asyncpg.Connection, pool_id: int, quantity: int) -> bool:
    """Give ``quantity`` units back to a pool; False if it has fewer committed (drift)."""
    return await conn.fetchval(RELEASE_SQL, pool_id, quantity) is not None


RELEASE_SHIPPED_SQL = """
WITH x AS (
    SELECT product_id, pool_kind AS kind, pool_channel AS channel, SUM(q)::int AS units
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[])
         AS u(product_id, pool_kind, pool_channel, q)
    GROUP BY 1, 2, 3
)
UPDATE inventory_pools ip SET committed = ip.committed - x.units, updated_at = now()
FROM x WHERE ip.product_id = x.product_id AND ip.kind = x.kind
  AND ip.channel_code IS NOT DISTINCT FROM x.channel
"""


async def release_by_kind(
    conn: asyncpg.Connection, units: Sequence[tuple[uuid.UUID, str, str | None, int]]
) -> None:
    """Take ``(product_id, pool kind, channel, units)`` out of their pools (shipped lines
    leave the pool they were drawn from and, when ring-fenced, RESERVED)."""
    await conn.execute(
        RELEASE_SHIPPED_SQL,
        [u[0] for u in units],
        [u[1] for u in units],
        [u[2] for u in units],
        [u[3] for u in units],
    )


@dataclass(frozen=True)
class PoolRef:
    id: int
    sku: str
    kind: PoolKind
    channel: str | None


async def pool_page(
    conn: asyncpg.Connection,
    sku: str | None,
    kind: PoolKind | None,
    limit: int,
    after_id: int | None,
) -> list[PoolRef]:
    """Pool rows ordered by id (keyset pagination)."""
    if sku is not None and not lookup_key(sku):
        return []
    rows = await conn.fetch(
        "SELECT ip.id, p.sku, ip.kind, ip.channel_code FROM inventory_pools ip "
        "JOIN products p ON p.id = ip.product_id "
        "WHERE ($1::text IS NULL OR p.sku = $1) AND ($2::text IS NULL OR ip.kind = $2) "
        "AND ($3::bigint IS NULL OR ip.id > $3) ORDER BY ip.id LIMIT $4",
        sku,
        kind.value if kind else None,
        after_id,
        limit,
    )
    return [PoolRef(r["id"], r["sku"], PoolKind(r["kind"]), r["channel_code"]) for r in rows]


async def count_pools(conn: asyncpg.Connection, sku: str | None, kind: PoolKind | None) -> int:
    if sku is not None and not lookup_key(sku):
        return 0
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM inventory_pools ip JOIN products p ON p.id = ip.product_id "
            "WHERE ($1::text IS NULL OR p.sku = $1) AND ($2::text IS NULL OR ip.kind = $2)",
            sku,
            kind.value if kind else None,
        )
    )


# ---------------------------------------------------------------- stock on hand


async def on_hand_at(conn: asyncpg.Connection, product_id: uuid.UUID, location: str) -> int:
    value = await conn.fetchval(
        "SELECT on_hand FROM stock_levels WHERE product_id = $1 AND location_code = $2",
        product_id,
        location,
    )
    return int(value or 0)


async def on_hand_and_reserved(conn: asyncpg.Connection, product_id: uuid.UUID) -> tuple[int, int]:
    """Units on hand at all locations, and units ring-fenced for waiting lines (RESERVED)."""
    row = await conn.fetchrow(
        "SELECT COALESCE((SELECT SUM(on_hand) FROM stock_levels WHERE product_id = $1), 0)::int "
        "AS on_hand, COALESCE((SELECT committed FROM inventory_pools "
        "WHERE product_id = $1 AND kind = 'RESERVED'), 0) AS reserved",
        product_id,
    )
    return int(row["on_hand"]), int(row["reserved"])


async def set_on_hand(
    conn: asyncpg.Connection, product_id: uuid.UUID, location: str, units: int
) -> None:
    await conn.execute(
        "INSERT INTO stock_levels (product_id, location_code, on_hand) VALUES ($1, $2, $3) "
        "ON CONFLICT (product_id, location_code) DO UPDATE SET on_hand = EXCLUDED.on_hand",
        product_id,
        location,
        units,
    )


async def add_on_hand(
    conn: asyncpg.Connection, product_id: uuid.UUID, location: str, units: int
) -> int:
    """Add received units at a location; returns the new on-hand count there."""
    return int(
        await conn.fetchval(
            "INSERT INTO stock_levels (product_id, location_code, on_hand) "
            "VALUES ($1, $2, $3) ON CONFLICT (product_id, location_code) "
            "DO UPDATE SET on_hand = stock_levels.on_hand + EXCLUDED.on_hand RETURNING on_hand",
            product_id,
            location,
            units,
        )
    )


async def stock_to_ship(
    conn: asyncpg.Connection, product_id: uuid.UUID, location: str | None, units: int
) -> asyncpg.Record | None:
    """The location to ship ``units`` from (the given one, else the one with the most),
    locked; None when no single location has that many."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT location_code, on_hand FROM stock_levels WHERE product_id = $1 "
        "AND ($2::text IS NULL OR location_code = $2) AND on_hand >= $3 "
        "ORDER BY on_hand DESC, location_code LIMIT 1 FOR UPDATE",
        product_id,
        location,
        units,
    )
    return row


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
