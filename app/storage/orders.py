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

from app.storage.inventory import SNAPSHOT_SQL, SkuRecord, record_from_row

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
SELECT l.id, l.order_id, l.product_id, l.line_no, l.sub_no, l.sku, l.quantity, l.state,
       l.status, l.pool_kind, l.pool_channel, l.unit_price_minor, l.payment_terms,
       l.shipment_group, l.queued_at, l.allocated, l.paused_at, l.promised_earliest,
       l.promised_latest, l.promise_confidence, l.promised_at, l.delay_consent,
       l.consent_due_at, l.shipped_at, l.delivered_on,
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


CLAIM_SQL = """
INSERT INTO idempotency_keys (scope, key, request_hash, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (scope, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, order_id = NULL, response = NULL,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at < now()
RETURNING 1
"""

# The claim and the SKU snapshots in one statement (one round trip). A concurrent request
# with the same key still waits on the key row until the first commits or rolls back; the
# snapshot is then as old as the wait, which only matters to the plan: the conditional pool
# updates at the end check capacity again on the current rows.
# $6, when not null, is the prefix of an API key the caller authenticated with earlier (a
# cached authentication): its row as it is now comes back too, so that it can be checked.
CLAIM_SNAPSHOT_SQL = f"""
WITH claim AS ({CLAIM_SQL}), mine AS (SELECT count(*) AS claimed FROM claim)
SELECT mine.claimed, k.name AS key_name, k.secret_hash AS key_secret_hash,
       k.scopes AS key_scopes, s.*
FROM mine
LEFT JOIN api_keys k ON k.prefix = $6 AND k.revoked_at IS NULL
LEFT JOIN ({SNAPSHOT_SQL.replace(":skus", "$5")}) AS s ON TRUE
"""

EXISTING_KEY_SQL = (
    "SELECT request_hash, order_id, response FROM idempotency_keys WHERE scope = $1 AND key = $2"
)


async def claim_key(
    conn: asyncpg.Connection, scope: str, key: str, request_hash: str, hours: float
) -> asyncpg.Record | None:
    """One round trip in the common case: None when the key is ours (new, or expired and
    taken over), else the row that holds it. A concurrent same-key request waits on the key
    until the first one commits or rolls back: never two orders."""
    if await conn.fetchval(CLAIM_SQL, scope, key, request_hash, hours * 3600):
        return None
    row: asyncpg.Record | None = await conn.fetchrow(EXISTING_KEY_SQL, scope, key)
    return row


@dataclass(frozen=True)
class Claim:
    """The outcome of ``claim_key_and_snapshot``: either the key is ours and ``records`` hold
    the snapshots of the known SKUs, or ``existing`` is the row that holds the key (None when
    it vanished meanwhile, e.g. expired and deleted: try again)."""

    ours: bool
    existing: asyncpg.Record | None
    records: dict[str, SkuRecord]
    # The unrevoked API key row (name, secret_hash, scopes) of ``api_key_prefix``, if any.
    api_key: tuple[str, str, list[str]] | None = None


async def claim_key_and_snapshot(
    conn: asyncpg.Connection,
    scope: str,
    key: str,
    request_hash: str,
    hours: float,
    skus: Sequence[str],
    api_key_prefix: str | None = None,
) -> Claim:
    """``claim_key`` and ``fetch_records`` (and the caller's API key row) in one round trip
    when the key is ours."""
    rows = await conn.fetch(
        CLAIM_SNAPSHOT_SQL, scope, key, request_hash, hours * 3600, list(skus), api_key_prefix
    )
    first = rows[0]
    api_key = None
    if first["key_name"] is not None:
        api_key = (first["key_name"], first["key_secret_hash"], list(first["key_scopes"]))
    if first["claimed"]:
        records = {row["sku"]: record_from_row(row) for row in rows if row["sku"] is not None}
        return Claim(True, None, records, api_key)
    return Claim(False, await conn.fetchrow(EXISTING_KEY_SQL, scope, key), {}, api_key)


# One conditional pool update that fails the transaction when the pool has less than asked
# (division by zero on an empty RETURNING), so that the updates and COMMIT can travel in one
# simple-query message: a lost race aborts before COMMIT is reached. Integers only.
_RESERVE_OR_FAIL = """
WITH r AS (
    UPDATE inventory_pools SET committed = committed + {quantity:d}, updated_at = now()
    WHERE id = {pool_id:d} AND (capacity IS NULL OR committed + {quantity:d} <= capacity)
    RETURNING 1
)
SELECT 1 / (SELECT count(*)::int FROM r)
"""


# Generic plans for the placement's prepared statements: PostgreSQL would otherwise plan the
# array-parameter statements (the claim with its snapshot, the write bundle) afresh for every
# execution, which cost about a third of the database's CPU per order. Every one of them is a
# lookup by key or an insert, so the generic plan is the custom one. Travels with BEGIN.
_BEGIN = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"


class PlacementTransaction:
    """One placement attempt on a pooled connection: BEGIN, the work, and then the contended
    pool updates and COMMIT in a single message (``reserve_and_commit``), so a hot pool row is
    locked for one round trip of the server's own, never while our event loop is busy with
    other requests. Rolled back when left without committing, like ``RawUnitOfWork``."""

    conn: asyncpg.Connection

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._open = False

    async def __aenter__(self) -> PlacementTransaction:
        self.conn = await self._pool.acquire()
        try:
            await self.conn.execute(_BEGIN)
        except BaseException:
            await self._pool.release(self.conn)
            raise
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._open:
                self._open = False
                await self.conn.execute("ROLLBACK")
        finally:
            await self._pool.release(self.conn)

    async def commit(self) -> None:
        await self.conn.execute("COMMIT")
        self._open = False

    async def reserve_and_commit(self, updates: Sequence[tuple[int, int]]) -> bool:
        """Conditional updates ``(pool_id, quantity)`` in the given (lock) order, then COMMIT.
        False, with nothing committed, when a pool had less than asked (the caller re-plans);
        the transaction is then left failed and rolled back on exit."""
        statements = [
            _RESERVE_OR_FAIL.format(pool_id=int(pool_id), quantity=int(quantity))
            for pool_id, quantity in updates
        ]
        try:
            await self.conn.execute(";".join([*statements, "COMMIT"]))
        except asyncpg.DivisionByZeroError:
            return False
        self._open = False
        return True


@dataclass(frozen=True)
class NewPayment:
    line_no: int
    sub_no: int
    kind: str
    amount_minor: int
    reference: str
    expires_at: datetime | None
    note: str | None


BUNDLE_SQL = f"""
WITH cust AS (
    INSERT INTO customers (email, name) VALUES ($2, $3)
    ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name
    RETURNING priority
), o AS (
    INSERT INTO orders (number, channel_code, customer_email, customer_name, region,
                        postal_code, address, ship_together, tags, currency, total_minor,
                        token_hash, placed_by, idempotency_key, placed_at)
    SELECT 'PO-' || to_char($14::timestamptz, 'YYYY') || '-'
               || lpad(n::text, greatest(6, length(n::text)), '0'),
           $1, $2, $3, $4, $5, $6::jsonb, $7,
           ARRAY(SELECT DISTINCT t FROM unnest(
                     $8::text[] || CASE WHEN cust.priority AND $39 THEN ARRAY['PRIORITY']
                                        ELSE '{{}}' END
                 ) AS t ORDER BY t),
           $9, $10, $11, $12, $13, $14
    FROM cust, nextval('order_number_seq') AS n
    RETURNING {ORDER_COLUMNS.replace("o.", "")}
), l AS (
    INSERT INTO order_lines (order_id, line_no, sub_no, product_id, sku, quantity, state,
                             status, pool_kind, pool_channel, unit_price_minor,
                             payment_terms, shipment_group, queue_seq, queued_at)
    SELECT o.id, x.line_no, x.sub_no, x.product_id, x.sku, x.quantity, x.state, x.status,
           x.pool_kind, x.pool_channel, x.price, x.terms, x.grp,
           CASE WHEN x.queued THEN nextval('queue_seq') END,
           CASE WHEN x.queued THEN $14::timestamptz END
    FROM o, unnest($15::int[], $16::int[], $17::uuid[], $18::text[], $19::int[], $20::text[],
                   $21::text[], $22::text[], $23::text[], $24::bigint[], $25::text[],
                   $26::int[], $27::bool[], $28::int[])
         AS x(line_no, sub_no, product_id, sku, quantity, state, status, pool_kind,
              pool_channel, price, terms, grp, queued, ord)
    ORDER BY x.ord
    RETURNING id, line_no, sub_no, sku, quantity, state, status, pool_kind
), pay AS (
    INSERT INTO payment_entries (order_id, line_id, kind, amount_minor, currency, gateway,
                                 reference, expires_at, note)
    SELECT o.id, l.id, p.kind, p.amount, $9, $29, p.reference, p.expires_at, p.note
    FROM o, unnest($30::int[], $31::int[], $32::text[], $33::bigint[], $34::text[],
                   $35::timestamptz[], $36::text[])
         AS p(line_no, sub_no, kind, amount, reference, expires_at, note)
    JOIN l ON l.line_no = p.line_no AND l.sub_no = p.sub_no
), ev AS (
    INSERT INTO order_events (order_id, line_id, action, actor, after)
    SELECT o.id, NULL, 'order.placed', $12,
           jsonb_build_object('number', o.number, 'channel', o.channel_code, 'tags', o.tags,
                              'totalMinor', o.total_minor)
    FROM o
    UNION ALL
    SELECT o.id, l.id,
           CASE WHEN l.status = 'RESERVED' THEN 'line.reserved' ELSE 'line.queued' END, $12,
           jsonb_build_object('sku', l.sku, 'quantity', l.quantity, 'state', l.state,
                              'pool', l.pool_kind)
    FROM o, l
), idem AS (
    UPDATE idempotency_keys SET order_id = (SELECT id FROM o)
    WHERE scope = $37 AND key = $38
)
SELECT o.*, ARRAY(SELECT id FROM l ORDER BY line_no, sub_no) AS line_ids
FROM o
"""


async def insert_bundle(
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
    placed_at: datetime,
    idempotency_key: str,
    scope: str,
    lines: Sequence[NewLine],
    payments: Sequence[NewPayment],
    gateway: str,
    trust_customer: bool,
) -> asyncpg.Record:
    """Customer, order, lines, payment entries, events and the key's order: one statement,
    one round trip. The row is the order's (``ORDER_COLUMNS``) plus ``line_ids``: the new
    lines' ids by line and sub-line number. No NOTIFY: the caller hands the SKUs to the
    ``CoalescingNotifier`` after COMMIT."""
    row: asyncpg.Record | None = await conn.fetchrow(
        BUNDLE_SQL,
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
        gateway,
        [p.line_no for p in payments],
        [p.sub_no for p in payments],
        [p.kind for p in payments],
        [p.amount_minor for p in payments],
        [p.reference for p in payments],
        [p.expires_at for p in payments],
        [p.note for p in payments],
        scope,
        idempotency_key,
        trust_customer,
    )
    assert row is not None
    return row


async def promises_by_line(
    conn: asyncpg.Connection, line_ids: Sequence[int]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, line_id, earliest, latest, confidence, supply_id, reason, cause, "
        "delayed_days, created_at FROM line_promises WHERE line_id = ANY($1::bigint[]) "
        "ORDER BY line_id, id",
        list(line_ids),
    )
    return rows


async def order_of_line(conn: asyncpg.Connection, line_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT l.id, l.order_id FROM order_lines l WHERE l.id = $1", line_id
    )
    return row


def placed_line_rows(order: asyncpg.Record, lines: Sequence[NewLine]) -> tuple[dict[str, Any], ...]:
    """The lines ``insert_bundle`` just wrote for ``order`` (its row, with ``line_ids``), as
    ``LINE_SQL`` would read them back now, for lines that wait in no queue (their queue
    position is computed when read). Keep in step with ``LINE_SQL``: a test compares them."""
    ordered = sorted(lines, key=lambda x: (x.line_no, x.sub_no))
    return tuple(
        {
            "id": line_id,
            "order_id": order["id"],
            "product_id": x.product_id,
            "line_no": x.line_no,
            "sub_no": x.sub_no,
            "sku": x.sku,
            "quantity": x.quantity,
            "state": x.state,
            "status": x.status,
            "pool_kind": x.pool_kind,
            "pool_channel": x.pool_channel,
            "unit_price_minor": x.unit_price_minor,
            "payment_terms": x.payment_terms,
            "shipment_group": x.shipment_group,
            "queued_at": None,
            "allocated": 0,
            "paused_at": None,
            "promised_earliest": None,
            "promised_latest": None,
            "promise_confidence": None,
            "promised_at": None,
            "delay_consent": None,
            "consent_due_at": None,
            "shipped_at": None,
            "delivered_on": None,
            "region": order["region"],
            "queue_position": None,
            "units_ahead": None,
        }
        for line_id, x in zip(order["line_ids"], ordered, strict=True)
    )
