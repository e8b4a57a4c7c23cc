"""Delivery promises: the queue and supply a SKU's promises are computed from, the promise
writes with their history, first promises, and delivered lines for promise accuracy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from app.domain.estimates import SupplySource
from app.storage.inventory import supply_sources

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


SUPPLY_SQL = """
SELECT su.product_id,
       json_agg(json_build_array(su.id, su.kind, GREATEST(0, su.quantity - su.received_quantity),
                                 su.expected_on, su.units_per_day, su.slips, sp.receipts,
                                 sp.on_time_receipts) ORDER BY su.expected_on, su.id) AS supply
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
WHERE line_id = ANY($1::bigint[]) ORDER BY line_id, id
"""


async def first_promised_latest(
    conn: asyncpg.Connection, line_ids: Sequence[int]
) -> dict[int, date | None]:
    """The latest date of each line's first promise."""
    return {r["line_id"]: r["latest"] for r in await conn.fetch(FIRST_PROMISES_SQL, list(line_ids))}


WRITE_SQL = """
WITH x AS (
    SELECT * FROM unnest($1::bigint[], $2::date[], $3::date[], $4::text[], $5::bigint[],
                         $6::text[], $7::int[], $8::text[], $9::text[])
         AS x(line_id, earliest, latest, confidence, supply_id, reason, delayed_days, consent,
              cause)
), upd AS (
    UPDATE order_lines l
    SET promised_earliest = x.earliest, promised_latest = x.latest,
        promise_confidence = x.confidence, promised_at = $10,
        delay_consent = COALESCE(x.consent, l.delay_consent),
        consent_due_at = CASE WHEN x.consent = 'REQUESTED' THEN $11 ELSE l.consent_due_at END,
        updated_at = now()
    FROM x WHERE l.id = x.line_id
)
INSERT INTO line_promises (line_id, earliest, latest, confidence, supply_id, reason, cause,
                           delayed_days)
SELECT line_id, earliest, latest, confidence, supply_id, reason, cause, delayed_days FROM x
"""


async def write_promises(
    conn: asyncpg.Connection,
    promises: Sequence[
        tuple[int, date | None, date | None, str, int | None, str | None, int, str | None, str]
    ],
    promised_at: datetime,
    consent_due_at: datetime,
) -> None:
    """New current promises of lines with their history rows, in one statement. Each is
    ``(line_id, earliest, latest, confidence, supply_id, reason, delayed_days, consent,
    cause)``; ``consent`` REQUESTED asks the customer (due at ``consent_due_at``)."""
    await conn.execute(
        WRITE_SQL,
        *([p[i] for p in promises] for i in range(9)),
        promised_at,
        consent_due_at,
    )


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


ACCURACY_SQL = """
SELECT (o.placed_at AT TIME ZONE $2)::date AS placed_on, fp.earliest, fp.latest, l.delivered_on
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
JOIN LATERAL (SELECT lp.earliest, lp.latest FROM line_promises lp WHERE lp.line_id = l.id
              ORDER BY lp.id LIMIT 1) fp ON true
WHERE l.delivered_on IS NOT NULL AND fp.latest IS NOT NULL
  AND ($1::text IS NULL OR p.sku = $1)
"""


async def delivered_against_first_promise(
    conn: asyncpg.Connection, sku: str | None, timezone: str
) -> list[tuple[date, Any, Any, date]]:
    """``(placed_on, first earliest, first latest, delivered_on)`` of delivered lines."""
    rows = await conn.fetch(ACCURACY_SQL, sku, timezone)
    return [(r["placed_on"], r["earliest"], r["latest"], r["delivered_on"]) for r in rows]
