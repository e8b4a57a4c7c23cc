"""Consolidation (``app.services.consolidation``): what one customer's waiting shipments and
lines are, and the merge, every statement of it.

Lock order (``docs/architecture.md``): the order rows in id order (``shipments.lock_orders``),
then the shipment rows in id order (``shipments.lock_shipments``), then the line rows that are
in no shipment yet, in id order (``lock_lines``; the opening of shipments locks lines after
pool rows, and takes no order or shipment row). No pool row is taken: a merge moves no unit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from app.storage.shipments import OPEN_STATUSES

CUSTOMER_ORDERS_SQL = """
SELECT DISTINCT o.id, o.channel_code
FROM orders o JOIN order_lines l ON l.order_id = o.id
WHERE o.customer_email = $1 AND o.status = 'PLACED' AND l.sku = $2 AND l.state <> 'READY'
  AND l.status IN ('WAITING', 'ALLOCATED')
ORDER BY o.id
"""


async def customer_orders(conn: asyncpg.Connection, email: str, sku: str) -> list[asyncpg.Record]:
    """The customer's open orders (id, channel) with a pre-order or backorder line of ``sku``
    that has not shipped, unlocked."""
    rows: list[asyncpg.Record] = await conn.fetch(CUSTOMER_ORDERS_SQL, email, sku)
    return rows


SHIPMENTS_SQL = f"""
SELECT DISTINCT s.id
FROM order_lines l JOIN shipments s ON s.id = l.shipment_id
WHERE l.order_id = ANY($1::uuid[]) AND ($2::text IS NULL OR l.sku = $2)
  AND s.status IN ({OPEN_STATUSES}) AND s.kind <> 'READY'
ORDER BY s.id
"""


async def waiting_shipments(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID], sku: str | None
) -> list[int]:
    """The open pre-order and backorder shipments holding a line of these orders (``sku``:
    a line of that SKU)."""
    rows = await conn.fetch(SHIPMENTS_SQL, list(order_ids), sku)
    return [int(r["id"]) for r in rows]


ORDERS_OF_SQL = """
SELECT order_id FROM shipments WHERE id = ANY($1::bigint[])
UNION
SELECT l.order_id FROM shipment_lines sl JOIN order_lines l ON l.id = sl.line_id
WHERE sl.shipment_id = ANY($1::bigint[])
"""


async def orders_of(conn: asyncpg.Connection, shipment_ids: Sequence[int]) -> list[uuid.UUID]:
    """Every order these shipments hold or held lines of (a consolidated one spans orders)."""
    return sorted(r["order_id"] for r in await conn.fetch(ORDERS_OF_SQL, list(shipment_ids)))


LOOSE_SQL = """
SELECT l.id, l.order_id, l.line_no, l.sub_no, l.sku, l.state, l.status, l.quantity,
       l.allocated, l.paused_at IS NOT NULL AS paused,
       (p.release_date IS NULL OR p.release_date <= $3::date) AS released,
       o.number, o.customer_email, o.channel_code, o.address, o.region, o.postal_code
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
WHERE l.order_id = ANY($1::uuid[]) AND ($2::text IS NULL OR l.sku = $2)
  AND l.shipment_id IS NULL AND l.state <> 'READY' AND l.status IN ('WAITING', 'ALLOCATED')
ORDER BY l.id
"""


async def loose_lines(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID], sku: str | None, today: date
) -> list[asyncpg.Record]:
    """The pre-order and backorder lines of these orders (``sku``: of that SKU) that have not
    shipped and are in no shipment, with their order's destination."""
    rows: list[asyncpg.Record] = await conn.fetch(LOOSE_SQL, list(order_ids), sku, today)
    return rows


async def lock_lines(conn: asyncpg.Connection, line_ids: Sequence[int]) -> list[int]:
    """Lock these line rows in id order (after the order and shipment rows); the ids still
    in no shipment."""
    if not line_ids:
        return []
    rows = await conn.fetch(
        "SELECT id, shipment_id FROM order_lines WHERE id = ANY($1::bigint[]) ORDER BY id "
        "FOR NO KEY UPDATE",
        sorted(set(line_ids)),
    )
    return [int(r["id"]) for r in rows if r["shipment_id"] is None]


MERGE_SQL = """
WITH cancelled AS (
    UPDATE shipments SET status = 'CANCELLED', held_from = NULL, cancelled_at = $4,
                         updated_at = now()
    WHERE id = ANY($2::bigint[])
    RETURNING id
), moved AS (
    UPDATE order_lines SET shipment_id = $1, updated_at = now()
    WHERE shipment_id = ANY($2::bigint[]) OR (id = ANY($3::bigint[]) AND shipment_id IS NULL)
    RETURNING id
), links AS (
    INSERT INTO shipment_lines (shipment_id, line_id)
    SELECT $1, id FROM moved
    ON CONFLICT DO NOTHING
), survivor AS (
    UPDATE shipments SET kind = $5, updated_at = now() WHERE id = $1
)
SELECT id FROM moved ORDER BY id
"""


async def merge(
    conn: asyncpg.Connection,
    survivor: int,
    cancelled: Sequence[int],
    added_lines: Sequence[int],
    kind: str,
    now: datetime,
) -> list[int]:
    """Cancel the ``cancelled`` shipments and move their lines, and ``added_lines``, into
    ``survivor`` (the cancelled ones keep their ``shipment_lines``: their history), which
    goes on the ``kind`` work list; the ids of the lines moved."""
    rows = await conn.fetch(MERGE_SQL, survivor, list(cancelled), list(added_lines), now, kind)
    return [int(r["id"]) for r in rows]


PROMISES_SQL = """
SELECT l.id, l.order_id, o.number, l.sku, l.promised_earliest, l.promised_latest,
       l.promise_confidence, l.promised_at, l.delay_consent
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE l.shipment_id = $1
ORDER BY l.id
"""


async def promises_in(conn: asyncpg.Connection, shipment_id: int) -> list[asyncpg.Record]:
    """The promise of every line a shipment holds, with what a re-promise writes."""
    rows: list[asyncpg.Record] = await conn.fetch(PROMISES_SQL, shipment_id)
    return rows
