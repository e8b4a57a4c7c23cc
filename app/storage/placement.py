"""Order placement's statements: the idempotency key claim with the SKU snapshots, and the
write bundle (customer, order, lines, payments, events and the key's order) in one statement.

The contended pool updates come last, with COMMIT, in ``PlacementUnitOfWork``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from app.domain.events import EventKind
from app.domain.lines import OPEN_STATUSES
from app.storage.inventory import SNAPSHOT_SQL, SkuRecord, record_from_row
from app.storage.ledger import INSERT_EVENTS
from app.storage.orders import ORDER_COLUMNS


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
    # the first promise of a waiting line: recorded with the placement (what the customer was
    # shown), so a later change is measured against it
    promise: FirstPromise | None = None


@dataclass(frozen=True)
class FirstPromise:
    earliest: date | None
    latest: date | None
    confidence: str
    reason: str | None
    supply_id: int | None


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


# Lines that still hold units (not cancelled, not shipped), as SQL literals.
OPEN_LINE_STATUSES = ", ".join(f"'{status.value}'" for status in sorted(OPEN_STATUSES))

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
# $7 is the order's channel: its unit limits come back (null: the settings' defaults). $8,
# when not null, is the customer's e-mail for a caller the limits bind: each SKU's row then
# carries the units of that customer's open lines (not cancelled, not shipped) on the channel.
CLAIM_SNAPSHOT_SQL = f"""
WITH claim AS ({CLAIM_SQL}), mine AS (SELECT count(*) AS claimed FROM claim)
SELECT mine.claimed, k.name AS key_name, k.secret_hash AS key_secret_hash,
       k.scopes AS key_scopes, ch.max_units_per_line AS channel_max_units_per_line,
       ch.max_units_per_customer_sku AS channel_max_units_per_customer_sku,
       cu.units AS customer_open_units, s.*
FROM mine
LEFT JOIN api_keys k ON k.prefix = $6 AND k.revoked_at IS NULL
LEFT JOIN channels ch ON ch.code = $7
LEFT JOIN ({SNAPSHOT_SQL.replace("$1::text[]", "$5::text[]")}) AS s ON TRUE
LEFT JOIN LATERAL (
    SELECT COALESCE(sum(l.quantity), 0)::bigint AS units
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE $8::text IS NOT NULL AND o.customer_email = $8 AND o.channel_code = $7
      AND l.product_id = s.id AND l.status IN ({OPEN_LINE_STATUSES})
) AS cu ON TRUE
"""

EXISTING_KEY_SQL = (
    "SELECT request_hash, order_id, response FROM idempotency_keys WHERE scope = $1 AND key = $2"
)


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
    # The channel's unit limits as stored (None: the default), None when no such channel.
    channel_limits: tuple[int | None, int | None] | None = None
    # Units of the customer's open lines on the channel per SKU (when a customer was given).
    open_units: dict[str, int] = field(default_factory=dict)


async def claim_key_and_snapshot(
    conn: asyncpg.Connection,
    scope: str,
    key: str,
    request_hash: str,
    hours: float,
    skus: Sequence[str],
    api_key_prefix: str | None = None,
    channel: str | None = None,
    customer_email: str | None = None,
) -> Claim:
    """``claim_key`` and ``fetch_records`` (and the caller's API key row, the ``channel``'s
    unit limits and, given ``customer_email``, that customer's open units of each SKU on the
    channel) in one round trip when the key is ours."""
    rows = await conn.fetch(
        CLAIM_SNAPSHOT_SQL,
        scope,
        key,
        request_hash,
        hours * 3600,
        list(skus),
        api_key_prefix,
        channel,
        customer_email,
    )
    first = rows[0]
    api_key = None
    if first["key_name"] is not None:
        api_key = (first["key_name"], first["key_secret_hash"], list(first["key_scopes"]))
    if first["claimed"]:
        records = {row["sku"]: record_from_row(row) for row in rows if row["sku"] is not None}
        return Claim(
            True,
            None,
            records,
            api_key,
            (
                first["channel_max_units_per_line"],
                first["channel_max_units_per_customer_sku"],
            ),
            {
                row["sku"]: int(row["customer_open_units"])
                for row in rows
                if row["sku"] is not None and row["customer_open_units"]
            },
        )
    return Claim(False, await conn.fetchrow(EXISTING_KEY_SQL, scope, key), {}, api_key)


# The customer's open units of the order's SKUs on its channel, against the channel's limit,
# checked again in the placement's last message (``PlacementUnitOfWork.reserve_and_commit``):
# fails the transaction (division by zero, as a lost pool race) when another order of the same
# customer committed meanwhile and together they pass the limit. The write bundle's customer
# upsert locks the customer row until COMMIT, so two orders of one customer reach this one
# after the other and the later one sees the earlier one's lines. UUIDs and integers only.
_CUSTOMER_LIMIT_GUARD = """
SELECT 1 / (SELECT (count(*) = 0)::int FROM (
    SELECT 1
    FROM orders me
    JOIN channels ch ON ch.code = me.channel_code
    JOIN orders o ON o.customer_email = me.customer_email AND o.channel_code = me.channel_code
    JOIN order_lines l ON l.order_id = o.id
    WHERE me.id = '{order_id}'::uuid AND l.product_id = ANY('{{{product_ids}}}'::uuid[])
      AND l.status IN ({statuses})
    GROUP BY l.product_id, ch.max_units_per_customer_sku
    HAVING sum(l.quantity) > COALESCE(ch.max_units_per_customer_sku, {default:d})
) AS over)
"""


def customer_limit_guard(
    order_id: uuid.UUID, product_ids: Sequence[uuid.UUID], default_limit: int
) -> str:
    """The statement that re-checks a placed order's customer limit before COMMIT (see
    ``_CUSTOMER_LIMIT_GUARD``)."""
    return _CUSTOMER_LIMIT_GUARD.format(
        order_id=uuid.UUID(str(order_id)),
        product_ids=",".join(str(uuid.UUID(str(p))) for p in product_ids),
        statuses=OPEN_LINE_STATUSES,
        default=int(default_limit),
    )


@dataclass(frozen=True)
class NewPayment:
    line_no: int
    sub_no: int
    kind: str
    amount_minor: int
    reference: str
    expires_at: datetime | None
    note: str | None


# The customer row: created with the order's contact; an existing one takes the name only
# from a caller trusted with customer claims ($39; a storefront's checkout name is the order's,
# never the shared customer record's). The upsert locks the row either way, which serialises
# the orders of one customer (the customer limit's guard relies on it).
BUNDLE_SQL = f"""
WITH cust AS (
    INSERT INTO customers (email, name) VALUES ($2, $3)
    ON CONFLICT (email) DO UPDATE
        SET name = CASE WHEN $39 THEN EXCLUDED.name ELSE customers.name END
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
                             payment_terms, shipment_group, queue_seq, queued_at,
                             promised_earliest, promised_latest, promise_confidence,
                             promised_at)
    SELECT o.id, x.line_no, x.sub_no, x.product_id, x.sku, x.quantity, x.state, x.status,
           x.pool_kind, x.pool_channel, x.price, x.terms, x.grp,
           CASE WHEN x.queued THEN nextval('queue_seq') END,
           CASE WHEN x.queued THEN $14::timestamptz END,
           x.p_earliest, x.p_latest, x.p_confidence,
           CASE WHEN x.p_confidence IS NOT NULL THEN $14::timestamptz END
    FROM o, unnest($15::int[], $16::int[], $17::uuid[], $18::text[], $19::int[], $20::text[],
                   $21::text[], $22::text[], $23::text[], $24::bigint[], $25::text[],
                   $26::int[], $27::bool[], $28::int[], $40::date[], $41::date[], $42::text[])
         AS x(line_no, sub_no, product_id, sku, quantity, state, status, pool_kind,
              pool_channel, price, terms, grp, queued, ord, p_earliest, p_latest, p_confidence)
    ORDER BY x.ord
    RETURNING id, line_no, sub_no, sku, quantity, state, status, pool_kind, promised_earliest,
              promised_latest, promise_confidence
), lp AS (
    INSERT INTO line_promises (line_id, earliest, latest, confidence, supply_id, reason, cause,
                               delayed_days)
    SELECT l.id, l.promised_earliest, l.promised_latest, l.promise_confidence, x.supply_id,
           x.reason, 'PLACED', 0
    FROM l JOIN unnest($15::int[], $16::int[], $43::text[], $44::bigint[])
                AS x(line_no, sub_no, reason, supply_id)
           ON x.line_no = l.line_no AND x.sub_no = l.sub_no
    WHERE l.promise_confidence IS NOT NULL
), pr AS (
    -- a PRIORITY order on a PRIORITY_FIRST SKU goes ahead of lines promised already: the
    -- PROMISE_NEW_LINES job re-promises those SKUs whole
    INSERT INTO promise_requests (product_id)
    SELECT DISTINCT f.product_id FROM unnest($45::uuid[]) AS f(product_id), o
    WHERE 'PRIORITY' = ANY(o.tags)
    ON CONFLICT DO NOTHING
), pay AS (
    INSERT INTO payment_entries (order_id, line_id, kind, amount_minor, currency, gateway,
                                 reference, expires_at, note)
    SELECT o.id, l.id, p.kind, p.amount, $9, $29, p.reference, p.expires_at, p.note
    FROM o, unnest($30::int[], $31::int[], $32::text[], $33::bigint[], $34::text[],
                   $35::timestamptz[], $36::text[])
         AS p(line_no, sub_no, kind, amount, reference, expires_at, note)
    JOIN l ON l.line_no = p.line_no AND l.sub_no = p.sub_no
), ev AS (
    {INSERT_EVENTS}
    SELECT '{EventKind.ORDER_PLACED.value}', 'ORDER', o.id::text, o.id, NULL, $12, NULL::jsonb,
           jsonb_build_object('number', o.number, 'channel', o.channel_code, 'tags', o.tags,
                              'totalMinor', o.total_minor)
    FROM o
    UNION ALL
    SELECT CASE WHEN l.status = 'RESERVED' THEN '{EventKind.LINE_RESERVED.value}'
                ELSE '{EventKind.LINE_QUEUED.value}' END,
           'LINE', l.id::text, o.id, l.id, $12, NULL,
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
    priority_first_products: Sequence[uuid.UUID] = (),
) -> asyncpg.Record:
    """Customer, order, lines (with the first promise of each waiting line and its history
    row), payment entries, events and the key's order: one statement, one round trip. The
    row is the order's (``ORDER_COLUMNS``) plus ``line_ids``: the new lines' ids by line and
    sub-line number. No NOTIFY: the caller hands the SKUs to the
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
        [x.promise.earliest if x.promise else None for x in lines],
        [x.promise.latest if x.promise else None for x in lines],
        [x.promise.confidence if x.promise else None for x in lines],
        [x.promise.reason if x.promise else None for x in lines],
        [x.promise.supply_id if x.promise else None for x in lines],
        list(priority_first_products),
    )
    assert row is not None
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
            "shipment_id": None,  # shipments are opened after placement (OPEN_SHIPMENTS)
            "region": order["region"],
            "queue_position": None,
            "units_ahead": None,
        }
        for line_id, x in zip(order["line_ids"], ordered, strict=True)
    )
