"""Shipments: the warehouse's unit of work (``app.domain.shipments``), every statement of them.

Opening (``open_candidates``, ``lock_unshipped``, ``insert_shipments``) is set-based: the
open lines of a batch of orders are read in one statement, the lines to ship are locked in
one, and every shipment of the batch is written in one (its number, its lines, the lines'
``shipment_id`` and its ``shipment.created`` events per order).

Lock order (``docs/architecture.md``, ``docs/fulfilment.md``): the order rows (in id order,
FOR NO KEY UPDATE), then the shipment row (FOR UPDATE), then pool rows, then line rows
(opening locks the lines it puts in a shipment FOR NO KEY UPDATE, in id order), then stock
rows. The opening that ends an allocation holds pool rows and locks lines only; the
scheduled job locks lines only, and empty shipments with SKIP LOCKED. Use cases outside
shipments never lock a shipment row: a line that stops being shippable (cancelled,
unallocated, paused) just loses its ``shipment_id`` in the statement that changes it, and
the job cancels shipments left without lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from app.domain.events import EventKind
from app.storage.ledger import INSERT_EVENTS

OPEN_STATUSES = "'PICKING', 'PACKED', 'AWAITING_SHIPMENT', 'ON_HOLD'"

SHIPMENT_COLUMNS = """
s.id, s.number, s.order_id, s.channel_code, s.customer_email, s.kind, s.status, s.held_from,
s.hold_reason, s.hold_note, s.address, s.region, s.carrier_service, s.carrier,
s.tracking_number, s.tracking_url, s.ready_at, s.dispatch_deadline, s.packed_at,
s.dispatched_at, s.delivered_on, s.cancelled_at, s.created_at, s.updated_at
"""

# ---------------------------------------------------------------- opening

# A line may ship (``app.domain.lines.shippable``): READY stock at once; a waiting line once
# every unit is ring-fenced, its SKU released (as dispatch reads it) and it is not paused.
# Said again here only to pick candidate orders cheaply; the domain decides.
_MAY_SHIP = """
(l.status = 'RESERVED' OR (l.status = 'ALLOCATED' AND l.paused_at IS NULL
 AND (p.release_date IS NULL OR p.release_date <= $1::date)))
"""

SEED_SQL = f"""
SELECT DISTINCT l.order_id
FROM order_lines l JOIN products p ON p.id = l.product_id
WHERE l.shipment_id IS NULL AND l.status IN ('RESERVED', 'ALLOCATED') AND {_MAY_SHIP}
  AND ($2::uuid[] IS NULL OR l.product_id = ANY($2::uuid[]))
  AND ($3::uuid[] IS NULL OR l.order_id = ANY($3::uuid[]))
  AND ($4::bigint[] IS NULL OR l.id = ANY($4::bigint[]))
  AND ($5::uuid IS NULL OR l.order_id > $5::uuid)
  AND ($6::text IS NULL OR l.status = $6::text)
ORDER BY l.order_id
LIMIT $7
"""


async def orders_to_open(
    conn: asyncpg.Connection,
    today: date,
    *,
    product_ids: Sequence[uuid.UUID] | None = None,
    order_ids: Sequence[uuid.UUID] | None = None,
    line_ids: Sequence[int] | None = None,
    status: str | None = None,
    after: uuid.UUID | None = None,
    limit: int = 500,
) -> list[uuid.UUID]:
    """Orders (ascending, after ``after``) with a line that may ship and is in no shipment:
    of these SKUs, orders or lines, in this status, when given."""
    rows = await conn.fetch(
        SEED_SQL,
        today,
        None if product_ids is None else list(product_ids),
        None if order_ids is None else list(order_ids),
        None if line_ids is None else list(line_ids),
        after,
        status,
        limit,
    )
    return [r["order_id"] for r in rows]


# The orders given and, on channels that consolidate, the same customers' other open orders
# on that channel with a line that may ship and is in no shipment; every open line of them.
CANDIDATES_SQL = f"""
WITH given AS (
    SELECT o.id, o.channel_code, o.customer_email
    FROM orders o WHERE o.id = ANY($2::uuid[]) AND o.status = 'PLACED'
), partners AS (
    SELECT o.id
    FROM given g
    JOIN channels c ON c.code = g.channel_code AND c.auto_consolidate AND $3::bool
    JOIN orders o ON o.customer_email = g.customer_email AND o.channel_code = g.channel_code
    WHERE o.status = 'PLACED' AND o.id <> g.id AND EXISTS (
        SELECT 1 FROM order_lines l JOIN products p ON p.id = l.product_id
        WHERE l.order_id = o.id AND l.shipment_id IS NULL AND l.state <> 'READY'
          AND {_MAY_SHIP})
), wanted AS (
    SELECT id FROM given UNION SELECT id FROM partners
)
SELECT l.id, l.order_id, l.sku, l.state, l.status, l.paused_at IS NOT NULL AS paused,
       (p.release_date IS NULL OR p.release_date <= $1::date) AS released,
       l.shipment_id, l.promised_earliest, l.promised_latest, l.promise_confidence,
       l.promised_at, l.delay_consent,
       o.number, o.placed_at, o.ship_together, o.channel_code, o.customer_email, o.address,
       o.region, o.postal_code, c.auto_consolidate, c.sla_hours, c.cutoff_time
FROM wanted w
JOIN orders o ON o.id = w.id
JOIN channels c ON c.code = o.channel_code
JOIN order_lines l ON l.order_id = o.id
JOIN products p ON p.id = l.product_id
WHERE l.status IN ('RESERVED', 'WAITING', 'ALLOCATED')
ORDER BY l.id
"""


async def open_candidates(
    conn: asyncpg.Connection, today: date, order_ids: Sequence[uuid.UUID], consolidate: bool
) -> list[asyncpg.Record]:
    """Every open line of these orders (and, ``consolidate``, of the same customers' orders
    a consolidating channel would merge them with), with what grouping needs: the order's
    placement, address, ship-together wish and channel settings, the line's promise."""
    if not order_ids:
        return []
    rows: list[asyncpg.Record] = await conn.fetch(
        CANDIDATES_SQL, today, list(order_ids), consolidate
    )
    return rows


LOCK_UNSHIPPED_SQL = """
SELECT l.id FROM order_lines l
WHERE l.id = ANY($1::bigint[]) AND l.shipment_id IS NULL
  AND l.status IN ('RESERVED', 'ALLOCATED') AND l.paused_at IS NULL
ORDER BY l.id
FOR NO KEY UPDATE OF l
"""


async def lock_unshipped(conn: asyncpg.Connection, line_ids: Sequence[int]) -> set[int]:
    """Lock these lines in id order; the ones still open, unpaused and in no shipment (a
    line another transaction shipped, cancelled or put in a shipment meanwhile drops out)."""
    if not line_ids:
        return set()
    rows = await conn.fetch(LOCK_UNSHIPPED_SQL, sorted(set(line_ids)))
    return {int(r["id"]) for r in rows}


@dataclass(frozen=True)
class NewShipment:
    order_id: uuid.UUID  # its order (a consolidated shipment: the first)
    channel_code: str
    customer_email: str
    kind: str
    address: dict[str, Any]
    region: str | None
    carrier_service: str | None
    ready_at: datetime
    dispatch_deadline: datetime
    lines: tuple[tuple[int, uuid.UUID], ...]  # (line id, its order)


_CREATED = EventKind.SHIPMENT_CREATED.value

INSERT_SQL = f"""
WITH given AS (
    SELECT * FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::timestamptz[],
                         $10::timestamptz[])
         AS g(idx, order_id, channel_code, customer_email, kind, address, region,
              carrier_service, ready_at, deadline)
), numbered AS MATERIALIZED (
    -- the number is the id: one sequence, no gaps to explain between the two
    SELECT g.*, nextval(pg_get_serial_sequence('shipments', 'id')) AS id FROM given g
), named AS (
    SELECT n.*, 'SH-' || to_char($11::timestamptz, 'YYYY') || '-'
                || lpad(n.id::text, greatest(6, length(n.id::text)), '0') AS number
    FROM numbered n
), ins AS (
    INSERT INTO shipments (id, number, order_id, channel_code, customer_email, kind, status,
                           address, region, carrier_service, ready_at, dispatch_deadline)
    SELECT id, number, order_id, channel_code, customer_email, kind, 'PICKING',
           address::jsonb, region, carrier_service, ready_at, deadline
    FROM named
), lines AS (
    SELECT x.idx, x.line_id, x.order_id, n.id AS shipment_id
    FROM unnest($12::int[], $13::bigint[], $14::uuid[]) AS x(idx, line_id, order_id)
    JOIN named n ON n.idx = x.idx
), links AS (
    INSERT INTO shipment_lines (shipment_id, line_id)
    SELECT shipment_id, line_id FROM lines
), upd AS (
    UPDATE order_lines l SET shipment_id = x.shipment_id, updated_at = now()
    FROM lines x WHERE l.id = x.line_id
), per_order AS (
    SELECT x.shipment_id, x.order_id, array_agg(x.line_id ORDER BY x.line_id) AS line_ids,
           min(x.line_id) AS first_line
    FROM lines x GROUP BY x.shipment_id, x.order_id
), ev AS (
    {INSERT_EVENTS}
    SELECT '{_CREATED}', 'SHIPMENT', n.id::text, po.order_id, NULL, $15, NULL::jsonb,
           jsonb_build_object(
               'number', n.number, 'kind', n.kind, 'status', 'PICKING',
               'lineIds', to_jsonb(po.line_ids), 'readyAt', n.ready_at,
               'dispatchDeadline', n.deadline,
               'orders', (SELECT count(*) FROM per_order o2 WHERE o2.shipment_id = n.id))
    FROM per_order po JOIN named n ON n.id = po.shipment_id
    ORDER BY n.idx, po.first_line
)
SELECT idx, id, number FROM named ORDER BY idx
"""


async def insert_shipments(
    conn: asyncpg.Connection, shipments: Sequence[NewShipment], now: datetime, actor: str
) -> list[tuple[int, str]]:
    """Open these shipments (PICKING) with their lines, in one statement; ``(id, number)``
    of each, in the order given. The caller holds the lines (``lock_unshipped``)."""
    if not shipments:
        return []
    line_idx: list[int] = []
    line_ids: list[int] = []
    line_orders: list[uuid.UUID] = []
    for idx, shipment in enumerate(shipments):
        for line_id, order_id in shipment.lines:
            line_idx.append(idx)
            line_ids.append(line_id)
            line_orders.append(order_id)
    rows = await conn.fetch(
        INSERT_SQL,
        list(range(len(shipments))),
        [s.order_id for s in shipments],
        [s.channel_code for s in shipments],
        [s.customer_email for s in shipments],
        [s.kind for s in shipments],
        [orjson.dumps(s.address).decode() for s in shipments],
        [s.region for s in shipments],
        [s.carrier_service for s in shipments],
        [s.ready_at for s in shipments],
        [s.dispatch_deadline for s in shipments],
        now,
        line_idx,
        line_ids,
        line_orders,
        actor,
    )
    return [(int(r["id"]), r["number"]) for r in rows]


_CANCELLED = EventKind.SHIPMENT_CANCELLED.value

CLOSE_EMPTY_SQL = f"""
WITH empty AS (
    SELECT s.id, s.status FROM shipments s
    WHERE s.status IN ({OPEN_STATUSES})
      AND NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.shipment_id = s.id)
    ORDER BY s.id LIMIT $2
    FOR UPDATE OF s SKIP LOCKED
), upd AS (
    UPDATE shipments s SET status = 'CANCELLED', held_from = NULL, cancelled_at = $3,
                           updated_at = now()
    FROM empty e WHERE s.id = e.id
    RETURNING s.id, s.number, s.order_id, e.status AS was
), orders_of AS (
    SELECT u.id, u.order_id FROM upd u
    UNION
    SELECT u.id, l.order_id FROM upd u
    JOIN shipment_lines sl ON sl.shipment_id = u.id JOIN order_lines l ON l.id = sl.line_id
), ev AS (
    {INSERT_EVENTS}
    SELECT '{_CANCELLED}', 'SHIPMENT', u.id::text, o.order_id, NULL, $1,
           jsonb_build_object('status', u.was),
           jsonb_build_object('number', u.number, 'status', 'CANCELLED',
                              'reason', 'no line left to ship', 'lineIds', '[]'::jsonb)
    FROM upd u JOIN orders_of o ON o.id = u.id
)
SELECT count(*) FROM upd
"""


async def close_empty(conn: asyncpg.Connection, actor: str, now: datetime, limit: int) -> int:
    """Cancel open shipments left without lines (their lines were cancelled, unallocated or
    paused), skipping any another transaction holds; how many."""
    return int(await conn.fetchval(CLOSE_EMPTY_SQL, actor, limit, now))


# ---------------------------------------------------------------- one shipment, locked

ORDERS_OF_SQL = """
SELECT order_id FROM shipments WHERE id = $1
UNION
SELECT l.order_id FROM shipment_lines sl JOIN order_lines l ON l.id = sl.line_id
WHERE sl.shipment_id = $1
"""


async def orders_of(conn: asyncpg.Connection, shipment_id: int) -> list[uuid.UUID]:
    """Every order a shipment holds or held lines of (its own first), unlocked."""
    return sorted(r["order_id"] for r in await conn.fetch(ORDERS_OF_SQL, shipment_id))


async def lock_orders(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """The order rows, locked FOR NO KEY UPDATE in id order (before any shipment row)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, number, status, channel_code, currency FROM orders "
        "WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE",
        sorted(set(order_ids)),
    )
    return rows


async def lock_shipments(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """Shipment rows FOR UPDATE, in id order (after their orders' rows)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE s.id = ANY($1::bigint[]) "
        "ORDER BY s.id FOR UPDATE",
        sorted(set(ids)),
    )
    return rows


SHIP_LINES_SQL = """
SELECT l.id, l.order_id, l.product_id, l.sku, l.quantity, l.allocated, l.state, l.status,
       l.pool_kind, l.pool_channel, l.paused_at, l.unit_price_minor, l.shipment_id,
       l.shipped_at, l.delivered_on,
       (p.release_date IS NULL OR p.release_date <= $3::date) AS released
FROM order_lines l JOIN products p ON p.id = l.product_id
WHERE ($1::bigint[] IS NULL OR l.shipment_id = ANY($1::bigint[]))
  AND ($2::bigint[] IS NULL OR l.id = ANY($2::bigint[]))
ORDER BY l.id
"""


async def lines_in(
    conn: asyncpg.Connection, shipment_ids: Sequence[int], today: date
) -> list[asyncpg.Record]:
    """The lines these shipments hold now, with what dispatch needs."""
    rows: list[asyncpg.Record] = await conn.fetch(SHIP_LINES_SQL, list(shipment_ids), None, today)
    return rows


async def lines_by_id(
    conn: asyncpg.Connection, line_ids: Sequence[int], today: date
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(SHIP_LINES_SQL, None, list(line_ids), today)
    return rows


async def set_status(
    conn: asyncpg.Connection,
    shipment_id: int,
    status: str,
    *,
    held_from: str | None = None,
    hold_reason: str | None = None,
    hold_note: str | None = None,
    at: datetime | None = None,
) -> None:
    """Move a shipment to ``status``: ON_HOLD keeps the step it was held at and why; PACKED,
    DISPATCHED and CANCELLED stamp ``at`` on their column."""
    await conn.execute(
        """
        UPDATE shipments SET status = $2::text,
            held_from = CASE WHEN $2::text = 'ON_HOLD' THEN $3::text END,
            hold_reason = CASE WHEN $2::text = 'ON_HOLD' THEN $4::text ELSE hold_reason END,
            hold_note = CASE WHEN $2::text = 'ON_HOLD' THEN $5::text ELSE hold_note END,
            packed_at = CASE WHEN $2::text = 'PACKED' THEN $6::timestamptz ELSE packed_at END,
            dispatched_at = CASE WHEN $2::text = 'DISPATCHED' THEN $6::timestamptz
                                 ELSE dispatched_at END,
            cancelled_at = CASE WHEN $2::text = 'CANCELLED' THEN $6::timestamptz
                                ELSE cancelled_at END,
            updated_at = now()
        WHERE id = $1
        """,
        shipment_id,
        status,
        held_from,
        hold_reason,
        hold_note,
        at,
    )


async def set_dispatched(
    conn: asyncpg.Connection,
    shipment_ids: Sequence[int],
    carrier: str | None,
    tracking_number: str | None,
    tracking_url: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        "UPDATE shipments SET status = 'DISPATCHED', held_from = NULL, carrier = $2, "
        "tracking_number = $3, tracking_url = $4, dispatched_at = $5, "
        "packed_at = COALESCE(packed_at, $5), updated_at = now() WHERE id = ANY($1::bigint[])",
        list(shipment_ids),
        carrier,
        tracking_number,
        tracking_url,
        at,
    )


async def set_delivered(conn: asyncpg.Connection, shipment_ids: Sequence[int], on: date) -> None:
    await conn.execute(
        "UPDATE shipments SET status = 'DELIVERED', delivered_on = $2, updated_at = now() "
        "WHERE id = ANY($1::bigint[])",
        list(shipment_ids),
        on,
    )


async def release_lines(conn: asyncpg.Connection, shipment_id: int) -> list[int]:
    """A cancelled shipment's lines wait for the next opening (its ``shipment_lines`` stay:
    its history); their ids."""
    rows = await conn.fetch(
        "UPDATE order_lines SET shipment_id = NULL, updated_at = now() "
        "WHERE shipment_id = $1 RETURNING id",
        shipment_id,
    )
    return sorted(int(r["id"]) for r in rows)


RING_FENCE_SQL = """
SELECT p.sku, ip.committed AS reserved,
       COALESCE((SELECT SUM(s.on_hand) FROM stock_levels s WHERE s.product_id = p.id), 0)::int
           AS on_hand
FROM products p JOIN inventory_pools ip ON ip.product_id = p.id AND ip.kind = 'RESERVED'
WHERE p.id = ANY($1::uuid[])
  AND ip.committed > COALESCE((SELECT SUM(s.on_hand) FROM stock_levels s
                               WHERE s.product_id = p.id), 0)
ORDER BY p.sku
"""


async def ring_fence_shortfalls(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """SKUs whose units ring-fenced for waiting lines now exceed their stock on hand (what
    the deferred ``ck_reserved_within_on_hand`` trigger would refuse at COMMIT)."""
    rows: list[asyncpg.Record] = await conn.fetch(RING_FENCE_SQL, list(product_ids))
    return rows


# ---------------------------------------------------------------- reads


async def shipments_by_id(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE s.id = ANY($1::bigint[])", list(ids)
    )
    return rows


# A shipment's lines: those it holds now; a cancelled one's, those it held.
LINE_REFS_SQL = """
SELECT sl.shipment_id, l.id AS line_id, l.order_id
FROM shipment_lines sl
JOIN shipments s ON s.id = sl.shipment_id
JOIN order_lines l ON l.id = sl.line_id
WHERE sl.shipment_id = ANY($1::bigint[])
  AND (s.status = 'CANCELLED' OR l.shipment_id = s.id)
ORDER BY sl.shipment_id, l.id
"""


async def line_refs(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """``(shipment_id, line_id, order_id)`` of the lines of these shipments."""
    rows: list[asyncpg.Record] = await conn.fetch(LINE_REFS_SQL, list(ids))
    return rows


BY_ORDER_SQL = f"""
SELECT DISTINCT ON (x.for_order, s.id) x.for_order, {SHIPMENT_COLUMNS}
FROM (
    SELECT l.order_id AS for_order, sl.shipment_id
    FROM order_lines l JOIN shipment_lines sl ON sl.line_id = l.id
    WHERE l.order_id = ANY($1::uuid[])
) x
JOIN shipments s ON s.id = x.shipment_id
ORDER BY x.for_order, s.id
"""


async def shipments_by_order(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """Every shipment that held a line of these orders (``for_order``), oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(BY_ORDER_SQL, list(order_ids))
    return rows


EVENTS_SQL = """
SELECT e.id, e.tx::text AS tx, e.kind, e.subject, e.subject_id, e.order_id, e.line_id,
       e.actor, e.before, e.payload, e.created_at, s.id AS shipment_id
FROM shipments s
CROSS JOIN LATERAL (
    SELECT s.order_id AS order_id
    UNION
    SELECT l.order_id FROM shipment_lines sl JOIN order_lines l ON l.id = sl.line_id
    WHERE sl.shipment_id = s.id
) o
JOIN events e ON e.order_id = o.order_id AND e.subject = 'SHIPMENT' AND e.subject_id = s.id::text
WHERE s.id = ANY($1::bigint[])
ORDER BY s.id, e.id
"""


async def shipment_events(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """The history of these shipments (one event per order of each change), oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(EVENTS_SQL, list(ids))
    return rows


@dataclass(frozen=True)
class ShipmentFilter:
    status: str | None = None
    kind: str | None = None
    order_id: uuid.UUID | None = None
    # dispatch deadlines ``after < deadline <= until`` (an urgency; open shipments only)
    deadline_after: datetime | None = None
    deadline_until: datetime | None = None
    by_deadline: bool = False


def _where(flt: ShipmentFilter, channel_only: str | None) -> tuple[str, list[Any]]:
    where = ["TRUE"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if channel_only is not None:
        where.append(f"s.channel_code = {arg(channel_only)}")
    if flt.status:
        where.append(f"s.status = {arg(flt.status)}")
    if flt.kind:
        where.append(f"s.kind = {arg(flt.kind)}")
    if flt.order_id is not None:
        order = arg(flt.order_id)
        where.append(
            f"(s.order_id = {order} OR EXISTS (SELECT 1 FROM shipment_lines sl "
            f"JOIN order_lines l ON l.id = sl.line_id WHERE sl.shipment_id = s.id "
            f"AND l.order_id = {order}))"
        )
    if flt.by_deadline:
        where.append(f"s.status IN ({OPEN_STATUSES})")
        if flt.deadline_after is not None:
            where.append(f"s.dispatch_deadline > {arg(flt.deadline_after)}")
        if flt.deadline_until is not None:
            where.append(f"s.dispatch_deadline <= {arg(flt.deadline_until)}")
    return " AND ".join(where), args


async def list_shipments(
    conn: asyncpg.Connection,
    flt: ShipmentFilter,
    limit: int,
    before_id: int | None,
    channel_only: str | None,
) -> list[asyncpg.Record]:
    """Shipments newest first (keyset on id)."""
    where, args = _where(flt, channel_only)
    if before_id is not None:
        args.append(before_id)
        where += f" AND s.id < ${len(args)}"
    args.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE {where} "
        f"ORDER BY s.id DESC LIMIT ${len(args)}",
        *args,
    )
    return rows


async def count_shipments(
    conn: asyncpg.Connection, flt: ShipmentFilter, channel_only: str | None
) -> int:
    where, args = _where(flt, channel_only)
    return int(await conn.fetchval(f"SELECT count(*) FROM shipments s WHERE {where}", *args))
