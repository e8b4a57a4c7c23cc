"""Order persistence on raw asyncpg: inserts in one statement each, reservation updates,
queue positions, and the order read model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

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


@dataclass(frozen=True)
class NewLine:
    line_no: int
    sub_no: int
    product_id: uuid.UUID
    sku: str
    quantity: int
    state: str
    status: str
    pool_kind: str
    pool_channel: str | None
    unit_price_minor: int
    payment_terms: str
    shipment_group: int
    queued: bool


async def claim_idempotency_key(
    conn: asyncpg.Connection, scope: str, key: str, request_hash: str, hours: float
) -> asyncpg.Record | None:
    """Claim ``key`` in this transaction; None when it is ours, else the existing row.

    A concurrent request with the same key blocks on the primary key until the first commits
    (then sees its row) or rolls back (then claims the key itself): never two orders.
    """
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at < now()",
        scope,
        key,
    )
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        scope,
        key,
        request_hash,
        hours * 3600,
    )
    if inserted:
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT request_hash, order_id, response FROM idempotency_keys "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    return row


async def complete_idempotency_key(
    conn: asyncpg.Connection,
    scope: str,
    key: str,
    order_id: uuid.UUID | None,
    response: Any = None,
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET order_id = $3, response = $4::jsonb "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
        order_id,
        orjson.dumps(response).decode() if response is not None else None,
    )


async def channel_row(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT code, kind, priority, sla_hours FROM channels WHERE code = $1", code
    )
    return row


async def upsert_customer(conn: asyncpg.Connection, email: str, name: str) -> bool:
    """Record the customer; returns whether they are a priority customer."""
    priority: bool = await conn.fetchval(
        "INSERT INTO customers (email, name) VALUES ($1, $2) "
        "ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING priority",
        email,
        name,
    )
    return priority


async def insert_order(
    conn: asyncpg.Connection,
    *,
    channel: str,
    email: str,
    name: str,
    region: str | None,
    postal_code: str | None,
    address: dict[str, Any],
    ship_together: bool,
    tags: Sequence[str],
    currency: str,
    total_minor: int,
    token_hash: str,
    placed_by: str,
    idempotency_key: str,
    placed_at: datetime,
) -> tuple[uuid.UUID, str]:
    row = await conn.fetchrow(
        """
        INSERT INTO orders (number, channel_code, customer_email, customer_name, region,
                            postal_code, address, ship_together, tags, currency, total_minor,
                            token_hash, placed_by, idempotency_key, placed_at)
        VALUES ('PO-' || to_char($14::timestamptz, 'YYYY') || '-'
                    || (SELECT lpad(n::text, greatest(6, length(n::text)), '0')
                        FROM nextval('order_number_seq') AS n),
                $1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING id, number
        """,
        channel,
        email,
        name,
        region,
        postal_code,
        orjson.dumps(address).decode(),
        ship_together,
        list(tags),
        currency,
        total_minor,
        token_hash,
        placed_by,
        idempotency_key,
        placed_at,
    )
    assert row is not None
    return row["id"], row["number"]


async def insert_lines(
    conn: asyncpg.Connection, order_id: uuid.UUID, lines: Sequence[NewLine], at: datetime
) -> list[int]:
    """All lines in one statement; waiting lines take their place in the SKU's queue now."""
    rows = await conn.fetch(
        """
        INSERT INTO order_lines (order_id, line_no, sub_no, product_id, sku, quantity, state,
                                 status, pool_kind, pool_channel, unit_price_minor,
                                 payment_terms, shipment_group, queue_seq, queued_at)
        SELECT $1, l.line_no, l.sub_no, l.product_id, l.sku, l.quantity, l.state, l.status,
               l.pool_kind, l.pool_channel, l.price, l.terms, l.grp,
               CASE WHEN l.queued THEN nextval('queue_seq') END,
               CASE WHEN l.queued THEN $16::timestamptz END
        FROM unnest($2::int[], $3::int[], $4::uuid[], $5::text[], $6::int[], $7::text[],
                    $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[],
                    $13::int[], $14::bool[], $15::int[])
             AS l(line_no, sub_no, product_id, sku, quantity, state, status, pool_kind,
                  pool_channel, price, terms, grp, queued, ord)
        ORDER BY l.ord
        RETURNING id
        """,
        order_id,
        [x.line_no for x in lines],
        [x.sub_no for x in lines],
        [x.product_id for x in lines],
        [x.sku for x in lines],
        [x.quantity for x in lines],
        [x.state for x in lines],
        [x.status for x in lines],
        [x.pool_kind for x in lines],
        [x.pool_channel for x in lines],
        [x.unit_price_minor for x in lines],
        [x.payment_terms for x in lines],
        [x.shipment_group for x in lines],
        [x.queued for x in lines],
        list(range(len(lines))),
        at,
    )
    return [r["id"] for r in rows]


async def insert_payment_entries(
    conn: asyncpg.Connection,
    order_id: uuid.UUID,
    entries: Sequence[tuple[int | None, str, int, str, str, str, datetime | None, str | None]],
) -> None:
    """Entries: (line_id, kind, amount_minor, currency, gateway, reference, expires_at, note)."""
    if not entries:
        return
    await conn.executemany(
        "INSERT INTO payment_entries (order_id, line_id, kind, amount_minor, currency, "
        "gateway, reference, expires_at, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [(order_id, *e) for e in entries],
    )


async def insert_events(
    conn: asyncpg.Connection,
    order_id: uuid.UUID,
    events: Sequence[tuple[int | None, str, str, Any, Any]],
) -> None:
    """Events: (line_id, action, actor, before, after)."""
    if not events:
        return
    await conn.execute(
        """
        INSERT INTO order_events (order_id, line_id, action, actor, before, after)
        SELECT $1, e.line_id, e.action, e.actor, e.before::jsonb, e.after::jsonb
        FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
             AS e(line_id, action, actor, before, after)
        """,
        order_id,
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
        [orjson.dumps(e[3]).decode() if e[3] is not None else None for e in events],
        [orjson.dumps(e[4]).decode() if e[4] is not None else None for e in events],
    )


async def reserve(conn: asyncpg.Connection, pool_id: int, quantity: int) -> bool:
    """Atomic conditional reservation: never past the pool's capacity."""
    return await conn.fetchval(RESERVE_SQL, pool_id, quantity) is not None


async def release(conn: asyncpg.Connection, pool_id: int, quantity: int) -> bool:
    return await conn.fetchval(RELEASE_SQL, pool_id, quantity) is not None


ORDER_COLUMNS = """
o.id, o.number, o.channel_code, o.customer_email, o.customer_name, o.region, o.postal_code,
o.address, o.ship_together, o.status, o.tags, o.currency, o.total_minor, o.placed_by,
o.placed_at, o.updated_at, o.token_hash
"""

LINE_SQL = """
SELECT l.id, l.order_id, l.line_no, l.sub_no, l.sku, l.quantity, l.state, l.status,
       l.pool_kind, l.pool_channel, l.unit_price_minor, l.payment_terms, l.shipment_group,
       l.queued_at,
       CASE WHEN l.status = 'WAITING' THEN (
           SELECT count(*) + 1 FROM order_lines w
           WHERE w.product_id = l.product_id AND w.status = 'WAITING' AND w.queue_seq < l.queue_seq
       ) END AS queue_position,
       CASE WHEN l.status = 'WAITING' THEN (
           SELECT COALESCE(sum(w.quantity), 0) FROM order_lines w
           WHERE w.product_id = l.product_id AND w.status = 'WAITING' AND w.queue_seq < l.queue_seq
       ) END AS units_ahead
FROM order_lines l
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


async def payments_by_order(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, order_id, line_id, kind, amount_minor, currency, gateway, reference, "
        "expires_at, note, created_at FROM payment_entries WHERE order_id = ANY($1::uuid[]) "
        "ORDER BY order_id, id",
        list(order_ids),
    )
    return rows


async def events_by_order(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, order_id, line_id, action, actor, before, after, created_at "
        "FROM order_events WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, id",
        list(order_ids),
    )
    return rows
