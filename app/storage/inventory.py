"""Inventory persistence: SKU snapshots in one statement, pool maintenance, the stock ledger.

Lock order, always: the product row (FOR NO KEY UPDATE) for admin writes, then pool rows
CHANNEL → READY → PRE_ORDER → BACKORDER → RESERVED. Placement takes only pool rows, in the
same order, so the two never deadlock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.domain.availability import (
    BackorderPolicy,
    ChannelHold,
    PaymentTerms,
    PoolKind,
    PreorderPolicy,
    SkuSnapshot,
)
from app.domain.estimates import SupplyKind, SupplySource

SNAPSHOT_SQL = """
SELECT p.id, p.sku, p.release_date, p.safety_stock, p.tags, p.price_minor, p.currency,
       p.preorder_enabled, p.preorder_message, p.preorder_payment,
       p.preorder_deposit_percent, p.preorder_deposit_minor,
       p.backorder_allowed, p.backorder_message, p.backorder_payment,
       p.backorder_deposit_percent, p.backorder_deposit_minor, p.released_at,
       p.allocation_policy,
       COALESCE((SELECT json_agg(json_build_array(su.id, su.kind,
                                                  GREATEST(0, su.quantity - su.received_quantity),
                                                  su.expected_on, su.units_per_day, su.slips,
                                                  sp.receipts, sp.on_time_receipts)
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
WHERE p.sku = ANY(:skus)
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


def supply_sources(raw: Any) -> tuple[SupplySource, ...]:
    """Open supply from the ``supply`` JSON column of ``SNAPSHOT_SQL`` (or the same shape)."""
    items = orjson.loads(raw) if isinstance(raw, str) else raw
    sources: list[SupplySource] = []
    for sid, kind, remaining, expected, per_day, slips, receipts, on_time in items:
        if remaining <= 0:
            continue
        sources.append(
            SupplySource(
                supply_id=str(sid),
                kind=SupplyKind(kind),
                quantity=int(remaining),
                expected_on=date.fromisoformat(expected) if isinstance(expected, str) else expected,
                units_per_day=int(per_day or 0),
                on_time_rate=(on_time / receipts) if receipts else None,
                slips=int(slips),
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


async def load_records(
    conn: AsyncConnection | AsyncSession, skus: Sequence[str]
) -> dict[str, SkuRecord]:
    """Snapshots for many SKUs in one statement."""
    if not skus:
        return {}
    result = await conn.execute(text(SNAPSHOT_SQL), {"skus": list(skus)})
    return {row.sku: record_from_row(cast(Mapping[str, Any], row._mapping)) for row in result}


SNAPSHOT_SQL_ASYNCPG = SNAPSHOT_SQL.replace(":skus", "$1")


async def fetch_records(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, SkuRecord]:
    """The same snapshots on a raw asyncpg connection: one round trip, no ORM."""
    if not skus:
        return {}
    rows = await conn.fetch(SNAPSHOT_SQL_ASYNCPG, list(skus))
    return {row["sku"]: record_from_row(row) for row in rows}


async def lock_product(session: AsyncSession, sku: str) -> Any:
    """Lock one product row for an admin write; None when the SKU is unknown."""
    result = await session.execute(
        text("SELECT * FROM products WHERE sku = :sku FOR NO KEY UPDATE"), {"sku": sku}
    )
    return result.first()


async def create_pools(session: AsyncSession, product_id: uuid.UUID) -> None:
    await session.execute(
        text(
            "INSERT INTO inventory_pools (product_id, kind, capacity) VALUES "
            "(:pid, 'READY', 0), (:pid, 'PRE_ORDER', NULL), (:pid, 'BACKORDER', NULL), "
            "(:pid, 'RESERVED', NULL) ON CONFLICT DO NOTHING"
        ),
        {"pid": product_id},
    )


RECOMPUTE_READY_SQL = """
WITH base AS (
    SELECT GREATEST(0,
        COALESCE((SELECT SUM(on_hand) FROM stock_levels WHERE product_id = :pid), 0)
        - p.safety_stock
        - COALESCE((SELECT committed FROM inventory_pools
                    WHERE product_id = :pid AND kind = 'RESERVED'), 0))::int AS sellable
    FROM products p WHERE p.id = :pid
), targets AS (
    SELECT c.id, c.committed,
           CASE WHEN c.share_percent IS NOT NULL
                THEN floor(base.sellable * c.share_percent / 100)::int
                ELSE COALESCE(c.fixed_quantity, 0) END AS target
    FROM inventory_pools c, base
    WHERE c.product_id = :pid AND c.kind = 'CHANNEL'
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
WHERE r.product_id = :pid AND r.kind = 'READY'
RETURNING r.capacity
"""


RECOMPUTE_READY_SQL_ASYNCPG = RECOMPUTE_READY_SQL.replace(":pid", "$1")


async def recompute_ready_raw(conn: asyncpg.Connection, product_id: uuid.UUID) -> int:
    """``recompute_ready`` on a raw asyncpg connection (placement and cancellation)."""
    return int(await conn.fetchval(RECOMPUTE_READY_SQL_ASYNCPG, product_id))


async def recompute_ready(session: AsyncSession, product_id: uuid.UUID) -> int:
    """Bring READY and CHANNEL capacities in line with stock; returns READY capacity."""
    result = await session.execute(text(RECOMPUTE_READY_SQL), {"pid": product_id})
    return int(result.scalar_one())


async def record_audit(
    session: AsyncSession,
    entity: str,
    entity_id: str,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await session.execute(
        text(
            "INSERT INTO audit_events (entity, entity_id, action, actor, before, after) "
            "VALUES (:entity, :entity_id, :action, :actor, "
            "CAST(:before AS jsonb), CAST(:after AS jsonb))"
        ),
        {
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "actor": actor,
            "before": json.dumps(before, default=str) if before is not None else None,
            "after": json.dumps(after, default=str) if after is not None else None,
        },
    )


def iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class PoolRef:
    id: int
    sku: str
    kind: PoolKind
    channel: str | None


async def pool_page(
    conn: AsyncConnection,
    sku: str | None,
    kind: PoolKind | None,
    limit: int,
    after_id: int | None,
) -> list[PoolRef]:
    """Pool rows ordered by id (keyset pagination)."""
    result = await conn.execute(
        text(
            "SELECT ip.id, p.sku, ip.kind, ip.channel_code FROM inventory_pools ip "
            "JOIN products p ON p.id = ip.product_id "
            "WHERE (CAST(:sku AS text) IS NULL OR p.sku = :sku) "
            "AND (CAST(:kind AS text) IS NULL OR ip.kind = :kind) "
            "AND (CAST(:after AS bigint) IS NULL OR ip.id > :after) "
            "ORDER BY ip.id LIMIT :limit"
        ),
        {"sku": sku, "kind": kind.value if kind else None, "after": after_id, "limit": limit},
    )
    return [PoolRef(r.id, r.sku, PoolKind(r.kind), r.channel_code) for r in result]
