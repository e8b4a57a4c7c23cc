"""Reads of the promise-accuracy simulation (``app.services.simulation``): what the simulated
warehouse and customers act on each day, and what the report is computed from. Read-only: every
change the simulation makes goes through the use cases."""

from __future__ import annotations

import asyncpg

from app.domain.events import EventKind
from app.storage.database import to_asyncpg_dsn


async def last_event_id(conn: asyncpg.Connection) -> int:
    """The newest event's id (0 without events): ties ledger rows to the simulated clock."""
    return int(await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM events"))


WORKABLE_SHIPMENTS_SQL = """
SELECT s.id, s.status, s.customer_email, s.region,
       ARRAY(SELECT DISTINCT l.order_id FROM order_lines l WHERE l.shipment_id = s.id)
           AS order_ids
FROM shipments s
WHERE s.status IN ('PICKING', 'PACKED', 'AWAITING_SHIPMENT')
ORDER BY s.id
"""


async def workable_shipments(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Shipments on the warehouse's work list (not dispatched, not held), by id."""
    rows: list[asyncpg.Record] = await conn.fetch(WORKABLE_SHIPMENTS_SQL)
    return rows


async def waiting_orders(conn: asyncpg.Connection, paused: bool) -> list[asyncpg.Record]:
    """Orders with a waiting line (``paused``: a paused one), by number."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT DISTINCT o.id AS order_id, o.number FROM orders o "
        "JOIN order_lines l ON l.order_id = o.id "
        "WHERE l.status = 'WAITING' AND (l.paused_at IS NOT NULL) = $1 ORDER BY o.number",
        paused,
    )
    return rows


async def consent_requests(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Lines asked to accept a delay whose message went out (``consent_due_at`` is set)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id AS line_id FROM order_lines WHERE delay_consent = 'REQUESTED' "
        "AND consent_due_at IS NOT NULL AND status = 'WAITING' ORDER BY id"
    )
    return rows


# The delay messages are counted in one pass over the ledger (events has no index on line_id:
# a count per line read the whole ledger once for every delivered line, 12 s of a year's run).
DELIVERED_SQL = f"""
WITH told AS (
    SELECT e.line_id, COUNT(*)::int AS told_delays
    FROM events e JOIN notifications n ON n.event_id = e.id AND n.status = 'SENT'
    WHERE e.kind = '{EventKind.LINE_DELIVERY_DELAYED.value}'
    GROUP BY e.line_id
)
SELECT l.id AS line_id, l.sku, (o.placed_at AT TIME ZONE $1)::date AS placed_on,
       fp.earliest AS first_earliest, fp.latest AS first_latest, l.promised_latest AS last_latest,
       l.delivered_on, su.supplier_code, su.kind AS supply_kind,
       COALESCE(t.told_delays, 0) AS told_delays
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN LATERAL (SELECT lp.earliest, lp.latest, lp.supply_id FROM line_promises lp
              WHERE lp.line_id = l.id AND lp.latest IS NOT NULL
              ORDER BY lp.id LIMIT 1) fp ON true
LEFT JOIN supply su ON su.id = fp.supply_id
LEFT JOIN told t ON t.line_id = l.id
WHERE l.delivered_on IS NOT NULL
ORDER BY l.id
"""


async def delivered_lines(conn: asyncpg.Connection, timezone: str) -> list[asyncpg.Record]:
    """Delivered lines with their first dated promise, the supply it counted on and the
    delay messages they were sent."""
    rows: list[asyncpg.Record] = await conn.fetch(DELIVERED_SQL, timezone)
    return rows


DELAYS_SQL = f"""
SELECT e.id AS event_id, e.line_id, e.payload->>'cause' AS cause, e.payload->>'note' AS note,
       n.sent_at
FROM events e
LEFT JOIN notifications n ON n.event_id = e.id AND n.status = 'SENT'
WHERE e.kind = '{EventKind.LINE_DELIVERY_DELAYED.value}'
ORDER BY e.id
"""


async def delays(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every promise that moved later, with when its e-mail was sent (NULL: not sent)."""
    rows: list[asyncpg.Record] = await conn.fetch(DELAYS_SQL)
    return rows


QUEUE_EVENTS_SQL = """
SELECT e.id AS event_id, e.tx::text AS tx, e.kind, e.line_id, l.sku, l.quantity,
       l.queue_seq, COALESCE((e.payload->>'units')::int, 0) AS units,
       COALESCE((e.before->>'allocated')::int, 0) AS allocated_before
FROM events e JOIN order_lines l ON l.id = e.line_id
WHERE l.queue_seq IS NOT NULL AND e.kind = ANY($1::text[])
ORDER BY e.id
"""

QUEUE_KINDS = {
    EventKind.LINE_QUEUED.value: "QUEUED",
    EventKind.LINE_ALLOCATED.value: "ALLOCATED",
    EventKind.LINE_UNALLOCATED.value: "UNALLOCATED",
    EventKind.LINE_PAUSED.value: "PAUSED",
    EventKind.LINE_RESUMED.value: "RESUMED",
    EventKind.LINE_CANCELLED.value: "CANCELLED",
    EventKind.LINE_SHIPPED.value: "SHIPPED",
}


async def queue_events(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The queue events of waiting lines in ledger order (``kind`` as ``QUEUE_KINDS``)."""
    rows: list[asyncpg.Record] = await conn.fetch(QUEUE_EVENTS_SQL, list(QUEUE_KINDS))
    return rows


async def promise_changes(conn: asyncpg.Connection) -> dict[str, int]:
    """History rows of promises by cause (PLACED: first promises)."""
    rows = await conn.fetch("SELECT cause, COUNT(*) AS n FROM line_promises GROUP BY cause")
    return {r["cause"]: int(r["n"]) for r in rows}


async def line_statuses(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM order_lines GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


async def create_scratch_database(admin_url: str, name: str) -> None:
    """A fresh, throw-away database ``name`` (dropped first if it exists) whose commits do not
    wait for the disk: a simulation checks promises, not durability."""
    conn = await asyncpg.connect(to_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()
