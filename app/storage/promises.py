"""Delivery promises: the queue and supply a SKU's promises are computed from, the promise
writes with their history, first promises, and delivered lines for promise accuracy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from app.domain.estimates import PromiseCause, SupplySource
from app.domain.events import EventKind
from app.storage import ledger
from app.storage.inventory import LATENESS_HISTORY_SQL, supply_sources
from app.storage.ledger import INSERT_EVENTS

# ``units_ahead`` is over the whole queue; only then are the lines to promise picked
# (``only_new``: the lines ahead of a new line count even when they are promised already).
QUEUE_SQL = """
SELECT * FROM (
SELECT l.id, l.order_id, o.number, l.product_id, l.sku, l.quantity, l.allocated, l.status,
       l.state, l.paused_at IS NOT NULL AS paused, l.promised_earliest, l.promised_latest,
       l.promise_confidence, l.promised_at, l.delay_consent, o.region, p.release_date,
       o.address->>'carrierService' AS carrier_service, l.queue_seq,
       CASE WHEN p.allocation_policy = 'PRIORITY_FIRST' AND 'PRIORITY' = ANY(o.tags)
            THEN 0 ELSE 1 END AS queue_rank,
       COALESCE(SUM(CASE WHEN l.status = 'WAITING' AND l.paused_at IS NULL
                         THEN l.quantity - l.allocated ELSE 0 END) OVER (
           PARTITION BY l.product_id
           ORDER BY CASE WHEN p.allocation_policy = 'PRIORITY_FIRST'
                          AND 'PRIORITY' = ANY(o.tags) THEN 0 ELSE 1 END, l.queue_seq
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::bigint AS units_ahead
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
WHERE l.product_id = ANY($1::uuid[]) AND l.status IN ('WAITING', 'ALLOCATED')
  AND l.state <> 'READY'
  -- a line in a shipment keeps its promise: it follows the shipment, not the queue
  AND l.shipment_id IS NULL
) q
WHERE $2::bool OR q.promised_at IS NULL
ORDER BY q.product_id, q.queue_rank, q.queue_seq
"""


async def queue(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID], every_line: bool
) -> list[asyncpg.Record]:
    """The SKUs' open waiting lines in queue order with the units ahead of each; all of them,
    or (``every_line`` false) only those never promised."""
    rows: list[asyncpg.Record] = await conn.fetch(QUEUE_SQL, list(product_ids), every_line)
    return rows


SUPPLY_SQL = f"""
SELECT su.product_id,
       json_agg(json_build_array(su.id, su.kind, GREATEST(0, su.quantity - su.received_quantity),
                                 su.expected_on, su.units_per_day, su.slips, sp.receipts,
                                 sp.on_time_receipts, {LATENESS_HISTORY_SQL})
                ORDER BY su.expected_on, su.id) AS supply
FROM supply su LEFT JOIN suppliers sp ON sp.code = su.supplier_code
WHERE su.product_id = ANY($1::uuid[]) AND su.status = 'OPEN'
GROUP BY su.product_id
"""


async def open_supply(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[SupplySource, ...]]:
    return {
        r["product_id"]: supply_sources(r["supply"])
        for r in await conn.fetch(SUPPLY_SQL, list(product_ids))
    }


FIRST_PROMISES_SQL = """
SELECT DISTINCT ON (line_id) line_id, latest FROM line_promises
WHERE line_id = ANY($1::bigint[]) AND latest IS NOT NULL ORDER BY line_id, id
"""


async def first_promised_latest(
    conn: asyncpg.Connection, line_ids: Sequence[int]
) -> dict[int, date | None]:
    """The latest date of each line's first promise that had a date (the threshold of delay
    consent is measured from it)."""
    return {r["line_id"]: r["latest"] for r in await conn.fetch(FIRST_PROMISES_SQL, list(line_ids))}


WRITE_SQL = f"""
WITH x AS (
    SELECT * FROM unnest($1::bigint[], $2::date[], $3::date[], $4::text[], $5::bigint[],
                         $6::text[], $7::int[], $8::text[], $9::text[], $11::uuid[],
                         $12::text[], $13::text[], $14::date[], $15::date[])
         AS x(line_id, earliest, latest, confidence, supply_id, reason, delayed_days, consent,
              cause, order_id, number, sku, was_earliest, was_latest)
), ev AS (
    -- every change of a promise after the first is an event (a later one: a delay), which
    -- live subscriptions and the notifications read (the transactional outbox)
    {INSERT_EVENTS}
    SELECT CASE WHEN x.delayed_days > 0 THEN '{EventKind.LINE_DELIVERY_DELAYED.value}'
                ELSE '{EventKind.LINE_PROMISE_CHANGED.value}' END,
           'LINE', x.line_id::text, x.order_id, x.line_id, $16,
           jsonb_build_object('earliest', x.was_earliest, 'latest', x.was_latest),
           jsonb_build_object('earliest', x.earliest, 'latest', x.latest,
                              'confidence', x.confidence, 'delayedDays', x.delayed_days,
                              'cause', x.cause, 'reason', x.reason,
                              'consentRequested', x.consent IS NOT DISTINCT FROM 'REQUESTED',
                              'note', $17::text, 'orderNumber', x.number, 'sku', x.sku)
    FROM x WHERE x.cause <> 'PLACED'
), upd AS (
    UPDATE order_lines l
    SET promised_earliest = x.earliest, promised_latest = x.latest,
        promise_confidence = x.confidence, promised_at = $10,
        delay_consent = COALESCE(x.consent, l.delay_consent),
        -- the customer's time to answer starts when the delay message is sent (the relay)
        consent_due_at = CASE WHEN x.consent = 'REQUESTED' THEN NULL ELSE l.consent_due_at END,
        updated_at = now()
    FROM x WHERE l.id = x.line_id
)
INSERT INTO line_promises (line_id, earliest, latest, confidence, supply_id, reason, cause,
                           delayed_days)
SELECT line_id, earliest, latest, confidence, supply_id, reason, cause, delayed_days FROM x
"""


@dataclass(frozen=True)
class NewPromise:
    """A line's new current promise and what the customer was promised before it."""

    line_id: int
    earliest: date | None
    latest: date | None
    confidence: str
    supply_id: int | None
    reason: str | None
    delayed_days: int
    consent: str | None  # REQUESTED asks the customer (due at ``consent_due_at``)
    cause: str
    order_id: uuid.UUID
    order_number: str
    sku: str
    was_earliest: date | None
    was_latest: date | None


async def write_promises(
    conn: asyncpg.Connection,
    promises: Sequence[NewPromise],
    promised_at: datetime,
    actor: str,
    note: str | None = None,
) -> None:
    """New current promises of lines with their history rows and, for every change after a
    line's first promise, its event (``line.delivery_delayed`` when later; ``note``: why, in
    the words of whoever changed the supply, for the customer), in one statement."""
    fields = (
        ("line_id", "earliest", "latest", "confidence", "supply_id", "reason"),
        ("delayed_days", "consent", "cause"),
        ("order_id", "order_number", "sku", "was_earliest", "was_latest"),
    )
    first, second, third = ([[getattr(p, f) for p in promises] for f in group] for group in fields)
    await conn.execute(WRITE_SQL, *first, *second, promised_at, *third, actor, note)
    if any(p.cause != PromiseCause.PLACED for p in promises):
        await ledger.wake(conn)


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


UNPROMISED_SQL = """
SELECT DISTINCT l.product_id, p.allocation_policy = 'PRIORITY_FIRST' AS priority_first
FROM order_lines l JOIN products p ON p.id = l.product_id
WHERE l.promised_at IS NULL AND l.status IN ('WAITING', 'ALLOCATED') AND l.state <> 'READY'
LIMIT 500
"""


async def skus_with_unpromised_lines(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """SKUs with waiting lines never promised (``product_id``, ``priority_first``)."""
    rows: list[asyncpg.Record] = await conn.fetch(UNPROMISED_SQL)
    return rows


async def requested_skus(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """SKUs waiting to be re-promised whole (read without a lock: the caller locks their
    pools, then ``take_promise_requests``, the order placement takes them in)."""
    return [
        r["product_id"]
        for r in await conn.fetch(
            "SELECT product_id FROM promise_requests ORDER BY product_id LIMIT 500"
        )
    ]


async def take_promise_requests(conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]) -> None:
    """Done with these SKUs' requests (in the caller's transaction, after their pools are
    locked: a placement adds a request while it holds the pool, so none is lost)."""
    await conn.execute(
        "DELETE FROM promise_requests WHERE product_id = ANY($1::uuid[])", list(product_ids)
    )


ACCURACY_SQL = """
SELECT (o.placed_at AT TIME ZONE $2)::date AS placed_on, fp.earliest, fp.latest, l.delivered_on
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
JOIN LATERAL (SELECT lp.earliest, lp.latest FROM line_promises lp
              WHERE lp.line_id = l.id AND lp.latest IS NOT NULL
              ORDER BY lp.id LIMIT 1) fp ON true
WHERE l.delivered_on IS NOT NULL
  AND ($1::text IS NULL OR p.sku = $1)
"""


async def delivered_against_first_promise(
    conn: asyncpg.Connection, sku: str | None, timezone: str
) -> list[tuple[date, Any, Any, date]]:
    """``(placed_on, first earliest, first latest, delivered_on)`` of delivered lines, against
    the first promise that had a date (one without is neither kept nor broken)."""
    rows = await conn.fetch(ACCURACY_SQL, sku, timezone)
    return [(r["placed_on"], r["earliest"], r["latest"], r["delivered_on"]) for r in rows]
