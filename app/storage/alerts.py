"""Availability alerts ("notify me"): sign-ups, their confirmation, the queue of a SKU.

Concurrency. A sign-up takes a transaction-level advisory lock on its e-mail address, so two
requests of one address are counted one after the other (the cap per address holds) and the
unique open ``(product_id, email)`` index makes a repeat the alert already there. The release
job reads a SKU's confirmed queue in sign-up order ``FOR UPDATE SKIP LOCKED`` (it also runs
under its job's advisory lock); confirming touches only PENDING rows, so the two never wait
for each other.

Times are the caller's (the services' clock), so holds and sign-up order follow the clock
tests move.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

# two-key advisory locks: their own key space, apart from the jobs' one-key locks
EMAIL_LOCK_SPACE = 0x4F4D5301

ALERT_FIELDS = (
    "a.id, a.product_id, p.sku, p.name, a.email, a.channel, a.status, a.opened_state, "
    "a.created_at, a.confirmed_at, a.notified_at, a.held_until"
)


async def lock_email(conn: asyncpg.Connection, email: str) -> None:
    """Serialise the sign-ups of one address until the end of the transaction."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))", EMAIL_LOCK_SPACE, email
    )


async def open_alert(
    conn: asyncpg.Connection, product_id: uuid.UUID, email: str
) -> asyncpg.Record | None:
    """The address's PENDING or CONFIRMED alert of a SKU, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {ALERT_FIELDS} FROM availability_alerts a JOIN products p ON p.id = a.product_id "
        "WHERE a.product_id = $1 AND a.email = $2 AND a.status IN ('PENDING', 'CONFIRMED')",
        product_id,
        email,
    )
    return row


async def count_open(conn: asyncpg.Connection, email: str) -> int:
    """How many PENDING or CONFIRMED alerts the address has (every SKU)."""
    value = await conn.fetchval(
        "SELECT count(*) FROM availability_alerts "
        "WHERE email = $1 AND status IN ('PENDING', 'CONFIRMED')",
        email,
    )
    return int(value)


CREATE_SQL = f"""
WITH new AS (
    INSERT INTO availability_alerts (product_id, email, channel, status, created_at)
    VALUES ($1, $2, $3, 'PENDING', $4)
    ON CONFLICT (product_id, email) WHERE status IN ('PENDING', 'CONFIRMED') DO NOTHING
    RETURNING *
)
SELECT {ALERT_FIELDS} FROM new a JOIN products p ON p.id = a.product_id
"""


async def create_alert(
    conn: asyncpg.Connection,
    product_id: uuid.UUID,
    email: str,
    channel: str | None,
    now: datetime,
) -> tuple[asyncpg.Record, bool]:
    """A PENDING alert signed up ``now``, and True; or the address's open alert of the SKU
    already there, and False (a repeat is never a second alert)."""
    row = await conn.fetchrow(CREATE_SQL, product_id, email, channel, now)
    if row is not None:
        return row, True
    existing = await open_alert(conn, product_id, email)
    if existing is None:  # it closed between the two statements: never under lock_email
        raise RuntimeError("the open alert vanished")
    return existing, False


async def renew_request(
    conn: asyncpg.Connection, alert_id: int, now: datetime
) -> asyncpg.Record | None:
    """A PENDING alert asked for again after its confirmation link expired: signed up anew
    ``now`` (it never was in the queue). None when it is no longer PENDING."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        WITH renewed AS (
            UPDATE availability_alerts SET created_at = $2
            WHERE id = $1 AND status = 'PENDING' RETURNING *
        )
        SELECT {ALERT_FIELDS} FROM renewed a JOIN products p ON p.id = a.product_id
        """,
        alert_id,
        now,
    )
    return row


async def alert_for_update(conn: asyncpg.Connection, alert_id: int) -> asyncpg.Record | None:
    """One alert, locked for this transaction."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {ALERT_FIELDS} FROM availability_alerts a JOIN products p ON p.id = a.product_id "
        "WHERE a.id = $1 FOR UPDATE OF a",
        alert_id,
    )
    return row


async def alerts_by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {ALERT_FIELDS} FROM availability_alerts a JOIN products p ON p.id = a.product_id "
        "WHERE a.id = ANY($1::bigint[]) ORDER BY a.id",
        list(ids),
    )
    return rows


async def confirm(conn: asyncpg.Connection, alert_id: int, now: datetime) -> asyncpg.Record | None:
    """PENDING → CONFIRMED; None when the alert is not PENDING."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        WITH confirmed AS (
            UPDATE availability_alerts SET status = 'CONFIRMED', confirmed_at = $2
            WHERE id = $1 AND status = 'PENDING' RETURNING *
        )
        SELECT {ALERT_FIELDS} FROM confirmed a JOIN products p ON p.id = a.product_id
        """,
        alert_id,
        now,
    )
    return row


WAITING_SKUS_SQL = """
SELECT a.product_id, p.sku, p.name, array_agg(DISTINCT COALESCE(a.channel, '')) AS channels
FROM availability_alerts a
JOIN products p ON p.id = a.product_id
WHERE a.status = 'CONFIRMED' AND ($1::uuid IS NULL OR a.product_id > $1)
GROUP BY a.product_id, p.sku, p.name
ORDER BY a.product_id
LIMIT $2
"""


async def skus_waiting(
    conn: asyncpg.Connection, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    """SKUs with CONFIRMED alerts (product_id, sku, name, the alerts' channels with ``''``
    for none), by product id after ``after``: a run takes a page, the next run the next one."""
    rows: list[asyncpg.Record] = await conn.fetch(WAITING_SKUS_SQL, after, limit)
    return rows


async def confirmed_queue(
    conn: asyncpg.Connection, product_id: uuid.UUID, limit: int
) -> list[asyncpg.Record]:
    """The SKU's CONFIRMED alerts in sign-up order, locked (rows another run holds are
    skipped)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT a.id, a.email, a.channel, a.created_at FROM availability_alerts a "
        "WHERE a.product_id = $1 AND a.status = 'CONFIRMED' "
        "ORDER BY a.created_at, a.id LIMIT $2 FOR UPDATE SKIP LOCKED",
        product_id,
        limit,
    )
    return rows


async def count_in_hold(conn: asyncpg.Connection, product_id: uuid.UUID, now: datetime) -> int:
    """Alerts of the SKU sent recently whose hold has not run out (those customers still have
    their first chance at the units that opened)."""
    value = await conn.fetchval(
        "SELECT count(*) FROM availability_alerts "
        "WHERE product_id = $1 AND status = 'NOTIFIED' AND held_until > $2",
        product_id,
        now,
    )
    return int(value)


async def mark_notified(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    now: datetime,
    held_until: datetime,
    opened_state: str,
) -> list[int]:
    """CONFIRMED → NOTIFIED with what opened and the hold; the ids changed."""
    if not ids:
        return []
    rows = await conn.fetch(
        "UPDATE availability_alerts SET status = 'NOTIFIED', notified_at = $2, "
        "held_until = $3, opened_state = $4 "
        "WHERE id = ANY($1::bigint[]) AND status = 'CONFIRMED' RETURNING id",
        list(ids),
        now,
        held_until,
        opened_state,
    )
    return [int(r["id"]) for r in rows]
