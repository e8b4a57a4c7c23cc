"""Notifications: the relay's cursor over the event ledger, the messages it derives, their
claims, attempts and outcomes, the consent clock they start, customers' preferences,
single-use links, the signing key, and what a message says about an order.

Concurrency. Deriving: one relay at a time holds the cursor row (``FOR UPDATE SKIP LOCKED``:
another replica skips the round); the unique ``(group_key, recipient, template)`` makes a
message exist once however often it is derived. Sending: a relay claims due rows with
``FOR UPDATE SKIP LOCKED`` and a lease, in a transaction of its own, and records the outcome
in another; a lease that runs out (the relay died mid-send) makes the row UNCONFIRMED, never
PENDING: it may have been sent, so only ops send it again (with the same Message-ID).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from app.domain.notifications import NotificationStatus
from app.storage.ledger import Position

# ---------------------------------------------------------------- the cursor


async def take_cursor(conn: asyncpg.Connection, name: str) -> Position | None:
    """The cursor, locked for this transaction; None when another relay holds it."""
    row = await conn.fetchrow(
        "SELECT tx, event_id FROM relay_cursors WHERE name = $1 FOR UPDATE SKIP LOCKED", name
    )
    return Position(int(row["tx"]), int(row["event_id"])) if row is not None else None


async def move_cursor(conn: asyncpg.Connection, name: str, position: Position) -> None:
    await conn.execute(
        "UPDATE relay_cursors SET tx = $2, event_id = $3, updated_at = now() WHERE name = $1",
        name,
        position.tx,
        position.id,
    )


async def cursor(conn: asyncpg.Connection, name: str) -> Position | None:
    row = await conn.fetchrow("SELECT tx, event_id FROM relay_cursors WHERE name = $1", name)
    return Position(int(row["tx"]), int(row["event_id"])) if row is not None else None


# ---------------------------------------------------------------- deriving


async def recipients(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID], line_ids: Sequence[int]
) -> tuple[dict[uuid.UUID, str], dict[int, str]]:
    """The customer e-mail of each order and the state of each line."""
    orders = await conn.fetch(
        "SELECT id, customer_email FROM orders WHERE id = ANY($1::uuid[])", list(order_ids)
    )
    lines = await conn.fetch(
        "SELECT id, state FROM order_lines WHERE id = ANY($1::bigint[])", list(line_ids)
    )
    return (
        {r["id"]: r["customer_email"] for r in orders},
        {r["id"]: r["state"] for r in lines},
    )


@dataclass(frozen=True)
class NewNotification:
    group_key: str
    event_id: int
    kind: str
    template: str
    recipient: str
    transactional: bool
    order_id: uuid.UUID | None
    line_ids: tuple[int, ...]
    alert_id: int | None
    payload: dict[str, Any] | None
    starts_consent: bool


INSERT_SQL = """
INSERT INTO notifications (group_key, event_id, kind, template, recipient, transactional,
                           order_id, line_ids, alert_id, payload, starts_consent, message_id,
                           next_attempt_at)
SELECT n.group_key, n.event_id, n.kind, n.template, n.recipient, n.transactional, n.order_id,
       n.line_ids::bigint[], n.alert_id, n.payload::jsonb, n.starts_consent, n.message_id, $13
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bool[],
            $7::uuid[], $8::text[], $9::bigint[], $10::text[], $11::bool[], $12::text[])
     AS n(group_key, event_id, kind, template, recipient, transactional, order_id, line_ids,
          alert_id, payload, starts_consent, message_id)
-- a group split over two reads of the ledger: its lines join the message if not sent yet
ON CONFLICT (group_key, recipient, template) DO UPDATE
SET line_ids = ARRAY(SELECT DISTINCT x FROM unnest(notifications.line_ids || EXCLUDED.line_ids)
                     AS x ORDER BY x),
    updated_at = now()
WHERE notifications.status = 'PENDING'
"""


async def insert_notifications(
    conn: asyncpg.Connection, rows: Sequence[NewNotification], domain: str, now: datetime
) -> None:
    """Record messages to send (each once: a message derived again is not added twice). Each
    gets its Message-ID now, before any attempt."""
    if not rows:
        return
    await conn.execute(
        INSERT_SQL,
        [r.group_key for r in rows],
        [r.event_id for r in rows],
        [r.kind for r in rows],
        [r.template for r in rows],
        [r.recipient for r in rows],
        [r.transactional for r in rows],
        [r.order_id for r in rows],
        ["{" + ",".join(str(i) for i in r.line_ids) + "}" for r in rows],
        [r.alert_id for r in rows],
        [orjson.dumps(r.payload, default=str).decode() if r.payload else None for r in rows],
        [r.starts_consent for r in rows],
        [f"<{secrets.token_hex(12)}.oms@{domain}>" for _ in rows],
        now,
    )


# ---------------------------------------------------------------- sending

NOTIFICATION_FIELDS = (
    "id, group_key, event_id, kind, template, recipient, transactional, order_id, line_ids, "
    "alert_id, payload, starts_consent, status, attempts, next_attempt_at, lease_until, "
    "message_id, subject, last_error, sent_at, created_at, updated_at"
)

CLAIM_SQL = f"""
UPDATE notifications n
SET status = 'SENDING', attempts = n.attempts + 1, lease_until = $2, updated_at = now()
WHERE n.id IN (SELECT id FROM notifications
               WHERE status = 'PENDING' AND next_attempt_at <= $1
               ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING {NOTIFICATION_FIELDS}
"""


async def claim_due(
    conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[asyncpg.Record]:
    """Due messages, now SENDING under a lease (skipping any another relay claims)."""
    rows: list[asyncpg.Record] = await conn.fetch(CLAIM_SQL, now, lease_until, limit)
    return rows


async def mark_sent(
    conn: asyncpg.Connection, notification_id: int, sent_at: datetime, subject: str
) -> bool:
    """SENT, if this relay still holds it (False: its lease ran out and ops took it over)."""
    done = await conn.fetchval(
        "UPDATE notifications SET status = 'SENT', sent_at = $2, subject = $3, "
        "lease_until = NULL, last_error = NULL, updated_at = now() "
        "WHERE id = $1 AND status = 'SENDING' RETURNING id",
        notification_id,
        sent_at,
        subject,
    )
    return done is not None


async def mark_failed(
    conn: asyncpg.Connection,
    notification_id: int,
    status: NotificationStatus,
    next_attempt_at: datetime,
    error: str,
) -> bool:
    """PENDING again (a retry at ``next_attempt_at``), DEAD or SUPPRESSED, with the error."""
    done = await conn.fetchval(
        "UPDATE notifications SET status = $2, next_attempt_at = $3, last_error = $4, "
        "lease_until = NULL, updated_at = now() "
        "WHERE id = $1 AND status = 'SENDING' RETURNING id",
        notification_id,
        status.value,
        next_attempt_at,
        error[:2000],
    )
    return done is not None


async def expire_leases(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Messages whose relay died mid-send: UNCONFIRMED (maybe sent), for ops to decide."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "UPDATE notifications SET status = 'UNCONFIRMED', lease_until = NULL, "
        "last_error = 'the relay stopped while sending: it may have been sent', "
        "updated_at = now() "
        "WHERE id IN (SELECT id FROM notifications WHERE status = 'SENDING' "
        "AND lease_until < $1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, order_id, template, line_ids",
        now,
    )
    return rows


async def start_consent_clock(
    conn: asyncpg.Connection, line_ids: Sequence[int], due_at: datetime
) -> list[int]:
    """The customer was told of the delay: their time to answer starts now (lines still
    waiting for an answer whose clock has not started)."""
    rows = await conn.fetch(
        "UPDATE order_lines SET consent_due_at = $2, updated_at = now() "
        "WHERE id = ANY($1::bigint[]) AND delay_consent = 'REQUESTED' "
        "AND consent_due_at IS NULL RETURNING id",
        list(line_ids),
        due_at,
    )
    return [r["id"] for r in rows]


async def resend(
    conn: asyncpg.Connection,
    ids: Sequence[int] | None,
    statuses: Sequence[str],
    template: str | None,
    order_id: uuid.UUID | None,
    now: datetime,
    limit: int,
) -> list[asyncpg.Record]:
    """Send again (ops): these messages (``ids``) or those matching the filter, in one of
    ``statuses``; each keeps its Message-ID. At most ``limit``."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        UPDATE notifications SET status = 'PENDING', next_attempt_at = $5, lease_until = NULL,
                                 updated_at = now()
        WHERE id IN (SELECT id FROM notifications
                     WHERE ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))
                       AND status = ANY($2::text[])
                       AND ($3::text IS NULL OR template = $3)
                       AND ($4::uuid IS NULL OR order_id = $4)
                     ORDER BY id LIMIT $6 FOR UPDATE SKIP LOCKED)
        RETURNING {NOTIFICATION_FIELDS}
        """,
        list(ids) if ids is not None else None,
        list(statuses),
        template,
        order_id,
        now,
        limit,
    )
    return rows


# ---------------------------------------------------------------- reading (ops)


async def by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {NOTIFICATION_FIELDS} FROM notifications WHERE id = ANY($1::bigint[])",
        list(ids),
    )
    return rows


async def by_orders(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {NOTIFICATION_FIELDS} FROM notifications WHERE order_id = ANY($1::uuid[]) "
        "ORDER BY order_id, id",
        list(order_ids),
    )
    return rows


_FILTER = """
WHERE ($1::text[] IS NULL OR status = ANY($1::text[]))
  AND ($2::text IS NULL OR template = $2)
  AND ($3::text IS NULL OR recipient = $3)
"""


async def page(
    conn: asyncpg.Connection,
    statuses: Sequence[str] | None,
    template: str | None,
    recipient: str | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, ``limit`` rows before ``before_id``."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {NOTIFICATION_FIELDS} FROM notifications {_FILTER} "
        "AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        list(statuses) if statuses else None,
        template,
        recipient,
        before_id,
        limit,
    )
    return rows


async def count(
    conn: asyncpg.Connection,
    statuses: Sequence[str] | None,
    template: str | None,
    recipient: str | None,
) -> int:
    value = await conn.fetchval(
        f"SELECT count(*) FROM notifications {_FILTER}",
        list(statuses) if statuses else None,
        template,
        recipient,
    )
    return int(value)


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM notifications "
        "WHERE status IN ('PENDING', 'DEAD', 'UNCONFIRMED') GROUP BY status"
    )
    return {r["status"]: int(r["n"]) for r in rows}


UNTOLD_DELAYS_SQL = """
SELECT DISTINCT ON (l.id) l.id AS line_id, l.order_id, n.id AS notification_id, n.status
FROM order_lines l
JOIN notifications n ON n.starts_consent AND l.id = ANY(n.line_ids)
WHERE l.delay_consent = 'REQUESTED' AND l.consent_due_at IS NULL
  AND l.status IN ('WAITING', 'ALLOCATED') AND n.status IN ('DEAD', 'UNCONFIRMED')
ORDER BY l.id, n.id DESC
LIMIT $1
"""


async def untold_delays(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Lines asked to accept a delay whose message could not be delivered: their clock has
    not started, and ops must reach the customer another way (or retry the message)."""
    rows: list[asyncpg.Record] = await conn.fetch(UNTOLD_DELAYS_SQL, limit)
    return rows


# ---------------------------------------------------------------- preferences and links


async def reminders_allowed(conn: asyncpg.Connection, emails: Sequence[str]) -> dict[str, bool]:
    rows = await conn.fetch(
        "SELECT email, reminders FROM email_preferences WHERE email = ANY($1::text[])",
        [e.lower() for e in emails],
    )
    found = {r["email"]: bool(r["reminders"]) for r in rows}
    return {e: found.get(e.lower(), True) for e in emails}


async def set_reminders(conn: asyncpg.Connection, email: str, allowed: bool) -> bool:
    """Record the choice; True when it changed."""
    row = await conn.fetchrow(
        "INSERT INTO email_preferences (email, reminders) VALUES ($1, $2) "
        "ON CONFLICT (email) DO UPDATE SET reminders = EXCLUDED.reminders, updated_at = now() "
        "WHERE email_preferences.reminders IS DISTINCT FROM EXCLUDED.reminders "
        "RETURNING email",
        email.lower(),
        allowed,
    )
    return row is not None


async def use_token(conn: asyncpg.Connection, jti: str, purpose: str) -> bool:
    """Mark a single-use link used; False when it was used before."""
    row = await conn.fetchrow(
        "INSERT INTO used_tokens (jti, purpose) VALUES ($1, $2) ON CONFLICT DO NOTHING "
        "RETURNING jti",
        jti,
        purpose,
    )
    return row is not None


async def signing_key(conn: asyncpg.Connection, name: str = "link-signing") -> str:
    """The database's own signing key, made by whichever replica asks first."""
    await conn.execute(
        "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        name,
        secrets.token_urlsafe(48),
    )
    value: str = await conn.fetchval("SELECT value FROM app_secrets WHERE name = $1", name)
    return value


# ---------------------------------------------------------------- what a message says

MESSAGE_LINES_SQL = """
SELECT l.id, l.order_id, l.sku, p.name, p.release_date, l.quantity, l.state, l.status,
       l.unit_price_minor, l.payment_terms, l.promised_earliest, l.promised_latest,
       l.allocated, l.paused_at IS NOT NULL AS paused, l.delay_consent, l.consent_due_at,
       CASE WHEN l.status = 'WAITING' AND l.paused_at IS NULL THEN (
           SELECT count(*) + 1 FROM order_lines a JOIN orders ao ON ao.id = a.order_id
           WHERE a.product_id = l.product_id AND a.status = 'WAITING' AND a.paused_at IS NULL
             AND (CASE WHEN p.allocation_policy = 'PRIORITY_FIRST'
                            AND 'PRIORITY' = ANY(ao.tags) THEN 0 ELSE 1 END, a.queue_seq)
               < (CASE WHEN p.allocation_policy = 'PRIORITY_FIRST'
                            AND 'PRIORITY' = ANY(o.tags) THEN 0 ELSE 1 END, l.queue_seq)
       ) END AS place_in_line
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN products p ON p.id = l.product_id
WHERE l.order_id = $1
ORDER BY l.line_no, l.sub_no
"""


async def message_order(conn: asyncpg.Connection, order_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, number, channel_code, customer_email, customer_name, currency, total_minor, "
        "placed_at, address FROM orders WHERE id = $1",
        order_id,
    )
    return row


async def message_lines(conn: asyncpg.Connection, order_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every line of the order as a message shows it, with its place in its SKU's queue."""
    rows: list[asyncpg.Record] = await conn.fetch(MESSAGE_LINES_SQL, order_id)
    return rows


# ---------------------------------------------------------------- reminders

REMINDER_LINES_SQL = """
SELECT l.id, l.order_id, o.customer_email, (o.placed_at AT TIME ZONE $3)::date AS placed_on,
       COALESCE(l.promised_earliest, l.promised_latest) AS expected,
       COALESCE(array_agg(r.offset_days) FILTER (WHERE r.offset_days IS NOT NULL), '{}')
           AS sent
FROM order_lines l
JOIN orders o ON o.id = l.order_id
LEFT JOIN delivery_reminders r ON r.line_id = l.id
WHERE l.status IN ('WAITING', 'ALLOCATED') AND l.state <> 'READY' AND l.paused_at IS NULL
  AND COALESCE(l.promised_earliest, l.promised_latest) > $1::date
  AND COALESCE(l.promised_earliest, l.promised_latest) <= $1::date + $2::int
GROUP BY l.id, o.customer_email, o.placed_at
ORDER BY l.id
"""


async def reminder_candidates(
    conn: asyncpg.Connection, today: date, horizon_days: int, timezone: str
) -> list[asyncpg.Record]:
    """Waiting lines expected within ``horizon_days`` with the reminder offsets they had."""
    rows: list[asyncpg.Record] = await conn.fetch(REMINDER_LINES_SQL, today, horizon_days, timezone)
    return rows


async def settle_reminders(conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]]) -> set[int]:
    """Record reminder offsets as done; the lines whose offsets were new (another run did
    not settle them first)."""
    if not pairs:
        return set()
    rows = await conn.fetch(
        "INSERT INTO delivery_reminders (line_id, offset_days) "
        "SELECT * FROM unnest($1::bigint[], $2::int[]) ON CONFLICT DO NOTHING "
        "RETURNING line_id",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return {r["line_id"] for r in rows}
