"""Orders and their lines: the read model (orders, lines with queue positions, lists), and
the writes of the use cases after placement (cancellation, tags, pause and resume, delay
consent, the launch, dispatch and delivery).

Lock order (``docs/architecture.md``): a use case that changes an order's lines locks the
order row FOR NO KEY UPDATE first (FOR UPDATE would deadlock with allocation, which inserts
order events whose foreign key share-locks the row), then the SKUs' pool rows
(``app.storage.allocation.lock_pools``), then stock rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from app.domain.events import EventKind
from app.storage.ledger import INSERT_EVENTS

ORDER_COLUMNS = """
o.id, o.number, o.channel_code, o.customer_email, o.customer_name, o.region, o.postal_code,
o.address, o.ship_together, o.status, o.tags, o.currency, o.total_minor, o.placed_by,
o.placed_at, o.updated_at, o.token_hash
"""

LINE_SQL = """
SELECT l.id, l.order_id, l.product_id, l.line_no, l.sub_no, l.sku, l.quantity, l.state,
       l.status, l.pool_kind, l.pool_channel, l.unit_price_minor, l.payment_terms,
       l.shipment_group, l.queued_at, l.allocated, l.paused_at, l.promised_earliest,
       l.promised_latest, l.promise_confidence, l.promised_at, l.delay_consent,
       l.consent_due_at, l.shipped_at, l.delivered_on, l.shipment_id,
       q.region,
       CASE WHEN l.status = 'WAITING' THEN (
           SELECT count(*) + 1 FROM order_lines w JOIN orders wo ON wo.id = w.order_id
           WHERE w.product_id = l.product_id AND w.status = 'WAITING' AND w.paused_at IS NULL
             AND (CASE WHEN q.priority_first AND 'PRIORITY' = ANY(wo.tags) THEN 0 ELSE 1 END,
                  w.queue_seq) < (q.rank, l.queue_seq)
       ) END AS queue_position,
       CASE WHEN l.status = 'WAITING' THEN (
           SELECT COALESCE(sum(w.quantity - w.allocated), 0)
           FROM order_lines w JOIN orders wo ON wo.id = w.order_id
           WHERE w.product_id = l.product_id AND w.status = 'WAITING' AND w.paused_at IS NULL
             AND (CASE WHEN q.priority_first AND 'PRIORITY' = ANY(wo.tags) THEN 0 ELSE 1 END,
                  w.queue_seq) < (q.rank, l.queue_seq)
       ) END AS units_ahead
FROM order_lines l
-- The queue order allocation uses: PRIORITY-tagged orders first when the SKU's policy is
-- PRIORITY_FIRST, then FIFO (``app.storage.allocation.ALLOCATE_SQL``).
CROSS JOIN LATERAL (
    SELECT o.region, p.allocation_policy = 'PRIORITY_FIRST' AS priority_first,
           CASE WHEN p.allocation_policy = 'PRIORITY_FIRST' AND 'PRIORITY' = ANY(o.tags)
                THEN 0 ELSE 1 END AS rank
    FROM orders o, products p WHERE o.id = l.order_id AND p.id = l.product_id
) q
WHERE l.order_id = ANY($1::uuid[])
ORDER BY l.order_id, l.line_no, l.sub_no
"""


async def orders_by_id(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = ANY($1::uuid[])", list(ids)
    )
    return rows


async def lines_by_order(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(LINE_SQL, list(order_ids))
    return rows


@dataclass(frozen=True)
class OrderFilter:
    state: str | None = None
    status: str | None = None
    tag: str | None = None
    channel: str | None = None
    sku: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None


async def list_orders(
    conn: asyncpg.Connection,
    flt: OrderFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    channel_only: str | None,
) -> list[asyncpg.Record]:
    """Orders newest first (keyset on placed_at, id); ``channel_only`` limits a channel key."""
    where, args = _order_filter(flt, channel_only)

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if after is not None:
        where += f" AND (o.placed_at, o.id) < ({arg(after[0])}, {arg(after[1])})"
    sql = (
        f"SELECT {ORDER_COLUMNS} FROM orders o WHERE {where} "
        f"ORDER BY o.placed_at DESC, o.id DESC LIMIT {arg(limit)}"
    )
    return list(await conn.fetch(sql, *args))


def _order_filter(flt: OrderFilter, channel_only: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause of the order lists and its arguments."""
    where = ["TRUE"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if channel_only is not None:
        where.append(f"o.channel_code = {arg(channel_only)}")
    if flt.channel:
        where.append(f"o.channel_code = {arg(flt.channel)}")
    if flt.status:
        where.append(f"o.status = {arg(flt.status)}")
    if flt.tag:
        where.append(f"{arg(flt.tag.strip().upper())} = ANY(o.tags)")
    if flt.placed_from is not None:
        where.append(f"o.placed_at >= {arg(flt.placed_from)}")
    if flt.placed_to is not None:
        where.append(f"o.placed_at < {arg(flt.placed_to)}")
    if flt.state or flt.sku:
        cond = ["l.order_id = o.id"]
        if flt.status != "CANCELLED":
            cond.append("l.status <> 'CANCELLED'")
        if flt.state:
            cond.append(f"l.state = {arg(flt.state)}")
        if flt.sku:
            cond.append(f"l.sku = {arg(flt.sku)}")
        where.append(f"EXISTS (SELECT 1 FROM order_lines l WHERE {' AND '.join(cond)})")
    return " AND ".join(where), args


async def order_id_by_number(conn: asyncpg.Connection, number: str) -> uuid.UUID | None:
    order_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM orders WHERE number = $1", number
    )
    return order_id


async def order_id_of_line(conn: asyncpg.Connection, line_id: int) -> uuid.UUID | None:
    order_id: uuid.UUID | None = await conn.fetchval(
        "SELECT order_id FROM order_lines WHERE id = $1", line_id
    )
    return order_id


async def order_ids_of_lines(
    conn: asyncpg.Connection, line_ids: Sequence[int]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, order_id FROM order_lines WHERE id = ANY($1::bigint[])", list(line_ids)
    )
    return rows


async def count_orders(conn: asyncpg.Connection, flt: OrderFilter, channel_only: str | None) -> int:
    where, args = _order_filter(flt, channel_only)
    return int(await conn.fetchval(f"SELECT count(*) FROM orders o WHERE {where}", *args))


async def event_context(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID], line_ids: Sequence[int]
) -> list[asyncpg.Record]:
    """What live subscriptions check events against: each order's channel and token hash
    with the SKUs and states of its lines, and each line's (``line_id`` null on the order
    rows)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT o.id AS order_id, NULL::bigint AS line_id, o.channel_code AS channel, "
        "o.token_hash, ARRAY(SELECT DISTINCT l.sku FROM order_lines l WHERE l.order_id = o.id) "
        "AS skus, ARRAY(SELECT DISTINCT l.state FROM order_lines l WHERE l.order_id = o.id) "
        "AS states FROM orders o WHERE o.id = ANY($1::uuid[]) "
        "UNION ALL "
        "SELECT o.id, l.id, o.channel_code, o.token_hash, ARRAY[l.sku::text], "
        "ARRAY[l.state::text] "
        "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.id = ANY($2::bigint[])",
        list(order_ids),
        list(line_ids),
    )
    return rows


async def placed_with_key(conn: asyncpg.Connection, idempotency_key: str) -> bool:
    """Whether an order was ever placed with this key (whatever its scope or age)."""
    return bool(
        await conn.fetchval("SELECT 1 FROM orders WHERE idempotency_key = $1", idempotency_key)
    )


# ---------------------------------------------------------------- writes after placement


async def lock_order(conn: asyncpg.Connection, order_id: uuid.UUID) -> asyncpg.Record | None:
    """The order row, locked FOR NO KEY UPDATE (see the module on lock order)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, number, status, channel_code, currency, token_hash, tags FROM orders "
        "WHERE id = $1 FOR NO KEY UPDATE",
        order_id,
    )
    return row


LINES_SQL = """
SELECT l.id, l.order_id, l.sku, l.product_id, l.quantity, l.allocated, l.state, l.status,
       l.pool_kind,
       l.pool_channel, l.paused_at, l.unit_price_minor, l.payment_terms, l.delay_consent,
       l.shipped_at, l.delivered_on, l.shipment_id, p.release_date, p.preorder_enabled,
       ip.id AS pool_id
FROM order_lines l
JOIN products p ON p.id = l.product_id
JOIN inventory_pools ip ON ip.product_id = l.product_id AND ip.kind = l.pool_kind
 AND ip.channel_code IS NOT DISTINCT FROM l.pool_channel
WHERE l.order_id = $1 AND ($2::bigint IS NULL OR l.id = $2)
ORDER BY l.id
"""


async def order_lines(
    conn: asyncpg.Connection, order_id: uuid.UUID, line_id: int | None = None
) -> list[asyncpg.Record]:
    """An order's lines (or one of them) with their product's launch and their pool."""
    rows: list[asyncpg.Record] = await conn.fetch(LINES_SQL, order_id, line_id)
    return rows


async def cancel_lines(
    conn: asyncpg.Connection, line_ids: Sequence[int], delay_consent: str | None
) -> int:
    """Mark lines CANCELLED (with the consent answer that cancelled them, if any); a
    cancellation on a delay answer only cancels while the delay still waits for one. A
    cancelled line leaves its (open) shipment. Returns how many were cancelled."""
    rows = await conn.fetch(
        "UPDATE order_lines SET status = 'CANCELLED', shipment_id = NULL, updated_at = now(), "
        "delay_consent = COALESCE($2, delay_consent) WHERE id = ANY($1::bigint[]) "
        "AND ($2::text IS NULL OR delay_consent = 'REQUESTED') RETURNING id",
        list(line_ids),
        delay_consent,
    )
    return len(rows)


async def lines_left(conn: asyncpg.Connection, order_id: uuid.UUID, *closed: str) -> int:
    """Lines of the order whose status is none of ``closed``."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM order_lines WHERE order_id = $1 AND status <> ALL($2::text[])",
            order_id,
            list(closed),
        )
    )


async def set_order_status(conn: asyncpg.Connection, order_id: uuid.UUID, status: str) -> None:
    await conn.execute(
        "UPDATE orders SET status = $2, updated_at = now() WHERE id = $1", order_id, status
    )


async def set_tags(conn: asyncpg.Connection, order_id: uuid.UUID, tags: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE orders SET tags = $2, updated_at = now() WHERE id = $1", order_id, list(tags)
    )


async def waiting_skus_under_priority_first(
    conn: asyncpg.Connection, order_id: uuid.UUID
) -> list[uuid.UUID]:
    """SKUs the order waits for whose allocation policy is PRIORITY_FIRST."""
    rows = await conn.fetch(
        "SELECT DISTINCT l.product_id FROM order_lines l "
        "JOIN products p ON p.id = l.product_id WHERE l.order_id = $1 "
        "AND l.status = 'WAITING' AND p.allocation_policy = 'PRIORITY_FIRST' ORDER BY 1",
        order_id,
    )
    return [r["product_id"] for r in rows]


async def set_paused(
    conn: asyncpg.Connection, line_ids: Sequence[int], paused_at: datetime | None
) -> None:
    """Pause (``paused_at``) or resume lines; a paused line leaves its (open) shipment."""
    await conn.execute(
        "UPDATE order_lines SET paused_at = $2, updated_at = now(), "
        "shipment_id = CASE WHEN $2::timestamptz IS NULL THEN shipment_id END "
        "WHERE id = ANY($1::bigint[])",
        list(line_ids),
        paused_at,
    )


async def line_for_consent(conn: asyncpg.Connection, line_id: int) -> asyncpg.Record | None:
    """A line with its order's channel and token, locked for its customer's answer."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT l.id, l.order_id, l.delay_consent, o.channel_code, o.token_hash "
        "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.id = $1 "
        "FOR UPDATE OF l",
        line_id,
    )
    return row


async def set_delay_consent(
    conn: asyncpg.Connection, line_ids: Sequence[int], consent: str
) -> None:
    await conn.execute(
        "UPDATE order_lines SET delay_consent = $2, updated_at = now() "
        "WHERE id = ANY($1::bigint[])",
        list(line_ids),
        consent,
    )


EXPIRED_CONSENTS_SQL = """
SELECT l.id, l.order_id,
       -- is the line still later than the threshold after its first promise?
       COALESCE(l.promised_latest IS NULL OR l.promised_latest > fp.latest + $2::int, true)
           AS still_delayed
FROM order_lines l
LEFT JOIN LATERAL (SELECT lp.latest FROM line_promises lp
                   WHERE lp.line_id = l.id AND lp.latest IS NOT NULL
                   ORDER BY lp.id LIMIT 1) fp ON true
-- consent_due_at is set when the customer was told (the delay message was sent)
WHERE l.delay_consent = 'REQUESTED' AND l.consent_due_at <= $1
  AND l.status IN ('WAITING', 'ALLOCATED')
ORDER BY l.consent_due_at, l.id
LIMIT 500
FOR UPDATE OF l SKIP LOCKED
"""


async def expired_consents(
    conn: asyncpg.Connection, now: datetime, threshold_days: int
) -> list[asyncpg.Record]:
    """Open lines whose delay went unanswered past its due time, locked (skipping any
    another replica holds), each with whether it is still delayed past the threshold."""
    rows: list[asyncpg.Record] = await conn.fetch(EXPIRED_CONSENTS_SQL, now, threshold_days)
    return rows


RELEASE_EVENTS_SQL = f"""
WITH lines AS (
    SELECT l.id, l.order_id, l.sku, l.allocated, l.quantity, l.status
    FROM order_lines l
    WHERE l.product_id = ANY($1::uuid[]) AND l.state = 'PRE_ORDER'
      AND l.status IN ('WAITING', 'ALLOCATED')
)
{INSERT_EVENTS}
SELECT '{EventKind.LINE_RELEASED.value}', 'LINE', id::text, order_id, id, $2, NULL::jsonb,
       jsonb_build_object('sku', sku, 'allocated', allocated, 'quantity', quantity,
                          'status', status)
FROM lines
UNION ALL
SELECT '{EventKind.SKU_RELEASED.value}', 'SKU', p.sku, NULL, NULL, $2, NULL::jsonb,
       jsonb_build_object('sku', p.sku)
FROM products p WHERE p.id = ANY($1::uuid[])
"""


async def record_release(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID], actor: str
) -> None:
    """The launch of these SKUs in the ledger: an event per waiting pre-order line and one
    per SKU."""
    await conn.execute(RELEASE_EVENTS_SQL, list(product_ids), actor)


async def mark_shipped(conn: asyncpg.Connection, line_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE order_lines SET status = 'SHIPPED', shipped_at = now(), updated_at = now() "
        "WHERE id = ANY($1::bigint[])",
        list(line_ids),
    )


async def mark_delivered(conn: asyncpg.Connection, line_ids: Sequence[int], on: date) -> None:
    await conn.execute(
        "UPDATE order_lines SET delivered_on = $2, updated_at = now() WHERE id = ANY($1::bigint[])",
        list(line_ids),
        on,
    )


# ---------------------------------------------------------------- customers


async def lock_customer_priority(conn: asyncpg.Connection, email: str) -> bool | None:
    """The customer's priority flag, locked; None when there is no such customer."""
    value: bool | None = await conn.fetchval(
        "SELECT priority FROM customers WHERE email = $1 FOR UPDATE", email
    )
    return value


async def set_customer_priority(conn: asyncpg.Connection, email: str, priority: bool) -> None:
    await conn.execute("UPDATE customers SET priority = $2 WHERE email = $1", email, priority)
