"""FIFO allocation of free stock to waiting lines: set-based SQL, one statement per batch.

Free stock of a SKU is what is on hand and promised to nobody: on hand - safety stock -
units ring-fenced for waiting lines (``RESERVED``) - units sold as READY - what channel holds
set aside (``max(hold, sold from it)``: no channel's waiting line takes units held for
another, and a hold never ends up promising units that shared READY sales already took),
except while a launch is pending: then the waiting pre-orders come before any READY sale,
holds included (the holds shrink to what is left). ``ALLOCATE_SQL`` hands it to the SKU's
eligible waiting lines in queue order (a window function over the queue, never a per-line
loop), records an ``allocations`` row and an order event per line and adds the units to the
``RESERVED`` pool. Eligible: status WAITING, not paused, and the SKU released (a pre-order is
never served before its launch).

Callers hold the SKU's pool rows (``lock_pools``) for the whole transaction: that is the
mutex for a SKU's queue, taken in the one global order, so allocation never races a
placement, a cancellation or a pause.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import asyncpg

from app.domain.events import EventKind
from app.storage.ledger import INSERT_EVENTS

LOCK_POOLS_SQL = """
SELECT 1 FROM inventory_pools ip JOIN products p ON p.id = ip.product_id
WHERE ip.product_id = ANY($1::uuid[])
ORDER BY p.sku COLLATE "C",  -- the order placement sorts SKUs in (code points)
         CASE ip.kind WHEN 'CHANNEL' THEN 0 WHEN 'READY' THEN 1 WHEN 'PRE_ORDER' THEN 2
                      WHEN 'BACKORDER' THEN 3 ELSE 4 END,
         ip.channel_code NULLS FIRST, ip.id
FOR UPDATE OF ip
"""


async def lock_pools(conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]) -> None:
    """Every pool row of these SKUs, in the global lock order (SKU, then CHANNEL by channel,
    READY, PRE_ORDER, BACKORDER, RESERVED)."""
    await conn.execute(LOCK_POOLS_SQL, list(product_ids))


FREE_UNITS = """
GREATEST(0, COALESCE((SELECT SUM(s.on_hand) FROM stock_levels s WHERE s.product_id = p.id), 0)
            - p.safety_stock
            - COALESCE((SELECT SUM(CASE WHEN ip.kind <> 'CHANNEL' THEN ip.committed
                                        WHEN pending.launch THEN ip.committed
                                        ELSE GREATEST(ip.committed, COALESCE(ip.capacity, 0))
                                   END)
                        FROM inventory_pools ip
                        WHERE ip.product_id = p.id
                          AND ip.kind IN ('RESERVED', 'READY', 'CHANNEL')), 0))::int
"""

# The launch date has come (or not) but the release job has not served the pre-orders yet.
LAUNCH_PENDING = """
CROSS JOIN LATERAL (
    SELECT p.released_at IS NULL AND p.release_date IS NOT NULL AND EXISTS (
        SELECT 1 FROM inventory_pools pre WHERE pre.product_id = p.id
          AND pre.kind = 'PRE_ORDER' AND pre.committed > 0) AS launch
) pending
"""

FREE_SQL = f"""
SELECT p.id AS product_id, {FREE_UNITS} AS units
FROM products p {LAUNCH_PENDING} WHERE p.id = ANY($1::uuid[])
"""


async def free_units(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await conn.fetch(FREE_SQL, list(product_ids))
    return {r["product_id"]: int(r["units"]) for r in rows}


_ALLOCATED = EventKind.LINE_ALLOCATED.value
_UNALLOCATED = EventKind.LINE_UNALLOCATED.value

ALLOCATE_SQL = f"""
WITH target AS (
    SELECT DISTINCT ON (t.product_id) t.product_id, t.receipt_id
    FROM unnest($1::uuid[], $2::bigint[]) AS t(product_id, receipt_id)
), free AS MATERIALIZED (
    SELECT p.id AS product_id, p.allocation_policy, t.receipt_id, {FREE_UNITS} AS units
    FROM target t JOIN products p ON p.id = t.product_id {LAUNCH_PENDING}
    WHERE p.release_date IS NULL AND NOT p.preorder_enabled OR p.release_date <= $3::date
), queue AS (
    SELECT l.id, l.order_id, l.product_id, f.receipt_id, f.units,
           l.quantity - l.allocated AS need,
           SUM(l.quantity - l.allocated) OVER (
               PARTITION BY l.product_id
               -- the order's tags are read only for SKUs whose policy needs them
               ORDER BY CASE WHEN f.allocation_policy = 'PRIORITY_FIRST' AND EXISTS (
                                  SELECT 1 FROM orders o
                                  WHERE o.id = l.order_id AND 'PRIORITY' = ANY(o.tags))
                             THEN 0 ELSE 1 END,
                        l.queue_seq
               ROWS UNBOUNDED PRECEDING) AS cum
    FROM free f
    JOIN order_lines l ON l.product_id = f.product_id
    WHERE f.units > 0 AND l.status = 'WAITING' AND l.paused_at IS NULL
), pick AS (
    SELECT id, order_id, product_id, receipt_id, LEAST(need, units - (cum - need))::int AS take
    FROM queue WHERE cum - need < units
), upd AS (
    UPDATE order_lines l
    SET allocated = l.allocated + p.take,
        status = CASE WHEN l.allocated + p.take = l.quantity THEN 'ALLOCATED' ELSE 'WAITING' END,
        updated_at = now()
    FROM pick p WHERE l.id = p.id
    RETURNING l.id, l.order_id, l.product_id, p.receipt_id, p.take, l.allocated, l.status,
              l.quantity
), alloc AS (
    INSERT INTO allocations (line_id, product_id, receipt_id, quantity, cause, actor)
    SELECT id, product_id, receipt_id, take, $4, $5 FROM upd
), ev AS (
    {INSERT_EVENTS}
    SELECT '{_ALLOCATED}', 'LINE', id::text, order_id, id, $5,
           jsonb_build_object('allocated', allocated - take, 'status', 'WAITING'),
           jsonb_build_object('allocated', allocated, 'status', status, 'units', take,
                              'cause', $4, 'receipt', receipt_id)
    FROM upd
), pool AS (
    UPDATE inventory_pools ip SET committed = ip.committed + s.units, updated_at = now()
    FROM (SELECT product_id, SUM(take)::int AS units FROM upd GROUP BY product_id) s
    WHERE ip.product_id = s.product_id AND ip.kind = 'RESERVED'
    RETURNING ip.product_id, s.units
)
SELECT product_id, units, (SELECT count(*) FROM upd) AS lines FROM pool
"""


async def allocate(
    conn: asyncpg.Connection,
    product_ids: Sequence[uuid.UUID],
    today: date,
    cause: str,
    actor: str,
    receipt_ids: Sequence[int | None] | None = None,
) -> dict[uuid.UUID, int]:
    """Hand each SKU's free stock to its eligible waiting lines, FIFO (PRIORITY first when the
    SKU's policy says so). Returns units allocated per SKU (SKUs that got none are absent).
    The caller holds the SKUs' pool locks and recomputes READY afterwards."""
    if not product_ids:
        return {}
    receipts = list(receipt_ids) if receipt_ids is not None else [None] * len(product_ids)
    rows = await conn.fetch(ALLOCATE_SQL, list(product_ids), receipts, today, cause, actor)
    return {r["product_id"]: int(r["units"]) for r in rows}


LAST_SERVED_SQL = """
WITH held AS (
    SELECT l.id, l.allocated,
           SUM(l.allocated) OVER (
               -- the queue order of ALLOCATE_SQL, backwards
               ORDER BY CASE WHEN p.allocation_policy = 'PRIORITY_FIRST' AND EXISTS (
                                  SELECT 1 FROM orders o
                                  WHERE o.id = l.order_id AND 'PRIORITY' = ANY(o.tags))
                             THEN 0 ELSE 1 END DESC,
                        l.queue_seq DESC
               ROWS UNBOUNDED PRECEDING) AS cum
    FROM order_lines l JOIN products p ON p.id = l.product_id
    WHERE l.product_id = $1 AND l.allocated > 0 AND l.status IN ('WAITING', 'ALLOCATED')
)
SELECT id FROM held WHERE cum - allocated < $2 ORDER BY cum
"""


async def last_served(conn: asyncpg.Connection, product_id: uuid.UUID, units: int) -> list[int]:
    """The lines holding ring-fenced units of a SKU, last in its queue first, until they hold
    at least ``units`` between them (for ``unallocate``). The caller holds the SKU's pools."""
    return [int(r["id"]) for r in await conn.fetch(LAST_SERVED_SQL, product_id, units)]


UNALLOCATE_SQL = f"""
WITH lines AS (
    SELECT l.id, l.order_id, l.product_id, l.allocated
    FROM order_lines l
    WHERE l.id = ANY($1::bigint[]) AND l.allocated > 0 AND l.status IN ('WAITING', 'ALLOCATED')
), upd AS (
    -- a line whose units are taken back cannot ship: it leaves its (open) shipment
    UPDATE order_lines l SET allocated = 0, status = 'WAITING', shipment_id = NULL,
                             updated_at = now()
    FROM lines x WHERE l.id = x.id
    RETURNING l.id, x.order_id, x.product_id, x.allocated
), alloc AS (
    INSERT INTO allocations (line_id, product_id, quantity, cause, actor)
    SELECT id, product_id, -allocated, $2, $3 FROM upd
), ev AS (
    {INSERT_EVENTS}
    SELECT '{_UNALLOCATED}', 'LINE', id::text, order_id, id, $3,
           jsonb_build_object('allocated', allocated),
           jsonb_build_object('allocated', 0, 'status', 'WAITING', 'cause', $2)
    FROM upd
), pool AS (
    UPDATE inventory_pools ip SET committed = ip.committed - s.units, updated_at = now()
    FROM (SELECT product_id, SUM(allocated)::int AS units FROM upd GROUP BY product_id) s
    WHERE ip.product_id = s.product_id AND ip.kind = 'RESERVED'
    RETURNING ip.product_id, s.units
)
SELECT product_id, units FROM pool
"""


async def unallocate(
    conn: asyncpg.Connection, line_ids: Sequence[int], cause: str, actor: str
) -> dict[uuid.UUID, int]:
    """Take ring-fenced units back from open lines (they become free stock again, for the
    next in line). Returns units released per SKU."""
    if not line_ids:
        return {}
    rows = await conn.fetch(UNALLOCATE_SQL, list(line_ids), cause, actor)
    return {r["product_id"]: int(r["units"]) for r in rows}
