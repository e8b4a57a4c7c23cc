"""The payment ledger: append-only entries (authorize, capture, refund, void, re-authorize)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.domain.payments import LedgerEntry, PaymentKind


@dataclass(frozen=True)
class NewEntry:
    line_id: int | None
    kind: PaymentKind
    amount_minor: int
    currency: str
    gateway: str
    reference: str
    expires_at: datetime | None
    note: str | None


async def insert_entries(
    conn: asyncpg.Connection, order_id: uuid.UUID, entries: Sequence[NewEntry]
) -> None:
    if not entries:
        return
    await conn.executemany(
        "INSERT INTO payment_entries (order_id, line_id, kind, amount_minor, currency, "
        "gateway, reference, expires_at, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                order_id,
                e.line_id,
                e.kind.value,
                e.amount_minor,
                e.currency,
                e.gateway,
                e.reference,
                e.expires_at,
                e.note,
            )
            for e in entries
        ],
    )


def ledger_entry(row: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        id=int(row["id"]),
        kind=PaymentKind(row["kind"]),
        amount_minor=int(row["amount_minor"]),
        reference=row["reference"],
        expires_at=row["expires_at"],
    )


async def entries_by_line(
    conn: asyncpg.Connection, line_ids: Sequence[int]
) -> dict[int, list[LedgerEntry]]:
    """Each line's entries, oldest first (every line asked for is in the answer)."""
    rows = await conn.fetch(
        "SELECT id, line_id, kind, amount_minor, reference, expires_at FROM payment_entries "
        "WHERE line_id = ANY($1::bigint[]) ORDER BY line_id, id",
        list(line_ids),
    )
    grouped: dict[int, list[LedgerEntry]] = {line_id: [] for line_id in line_ids}
    for row in rows:
        grouped[row["line_id"]].append(ledger_entry(row))
    return grouped


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


# Waiting lines with an authorization that expires by $1, locked (skipping any another
# replica holds); which authorization is live is the domain's rule (``live_authorization``).
RENEWAL_CANDIDATES_SQL = """
SELECT l.id AS line_id, l.order_id, o.currency
FROM order_lines l
JOIN orders o ON o.id = l.order_id
WHERE l.status = 'WAITING' AND EXISTS (
    SELECT 1 FROM payment_entries pe
    WHERE pe.line_id = l.id AND pe.kind IN ('AUTHORIZE', 'REAUTHORIZE') AND pe.expires_at <= $1)
ORDER BY l.id
FOR UPDATE OF l SKIP LOCKED
"""


async def renewal_candidates(conn: asyncpg.Connection, before: datetime) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(RENEWAL_CANDIDATES_SQL, before)
    return rows
