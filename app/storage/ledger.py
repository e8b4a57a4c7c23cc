"""The event ledger: the one writer (and reader) of ``events``.

Every change the service records goes here: order and line events, stock movements, audit rows
of catalog, supply and reference-data changes, and what other systems must hear of (the
transactional outbox: an event is written in the transaction that caused it, and readers
pick it up after COMMIT). A use case appends ``Event`` values with ``append``; set-based
statements that derive their events in SQL (placement's write bundle, FIFO allocation) insert
them through ``INSERT_EVENTS``, so the column list lives here only.

Waking the readers. ``append`` also queues a NOTIFY on ``oms_events`` carrying the newest
event id (delivered at COMMIT) so every replica's live hub reads the new rows at once.
Placement, the frequent writer, does not: its wake-up is the coalesced inventory notification
sent after its COMMIT (``app.storage.notify``). A NOTIFY is only a wake-up; the hubs also read
the stream every few seconds, so a lost one delays, never loses, an event.

Reading the stream in order. ``id`` grows with every insert, but transactions commit in
another order than they draw ids, so "everything after id N" read now could miss a row of a
transaction that drew its id earlier and commits later. Each row also carries ``tx``, its
transaction's id; ``read_stream`` returns only rows of transactions older than every one still
running (``pg_snapshot_xmin``), ordered by ``(tx, id)``. A reader that resumes after the last
``(tx, id)`` it saw therefore never skips a row: anything committed later has a larger ``tx``.
The price is that a long transaction holds the stream back until it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from app.domain.events import Event, EventKind, Subject

EVENT_COLUMNS = "kind, subject, subject_id, order_id, line_id, actor, before, payload"
INSERT_EVENTS = f"INSERT INTO events ({EVENT_COLUMNS})"
"""The head of every INSERT into the ledger: follow it with a SELECT of ``EVENT_COLUMNS``."""

EVENTS_CHANNEL = "oms_events"
# the last id this session drew: an event of the caller's transaction
WAKE_SQL = (
    f"SELECT pg_notify('{EVENTS_CHANNEL}', currval(pg_get_serial_sequence('events', 'id'))::text)"
)

# The NOTIFY carries the newest id of the batch (only a hint: readers read the stream).
APPEND_SQL = f"""
WITH e AS (
    {INSERT_EVENTS}
    SELECT e.kind, e.subject, e.subject_id, e.order_id, e.line_id, e.actor, e.before::jsonb,
           e.payload::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::bigint[], $6::text[],
                $7::text[], $8::text[])
         AS e(kind, subject, subject_id, order_id, line_id, actor, before, payload)
    RETURNING id
)
SELECT pg_notify('{EVENTS_CHANNEL}', max(id)::text) FROM e
"""


def _json(value: Mapping[str, Any] | None) -> str | None:
    return orjson.dumps(value, default=str).decode() if value is not None else None


async def append(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Record ``events`` in the caller's transaction, in the given order, and wake the live
    hubs at COMMIT (one statement)."""
    if not events:
        return
    await conn.execute(
        APPEND_SQL,
        [e.kind.value for e in events],
        [e.subject.value for e in events],
        [e.subject_id for e in events],
        [e.order_id for e in events],
        [e.line_id for e in events],
        [e.actor for e in events],
        [_json(e.before) for e in events],
        [_json(e.payload) for e in events],
    )


async def wake(conn: asyncpg.Connection) -> None:
    """Wake the live hubs at COMMIT: for a transaction that wrote events with
    ``INSERT_EVENTS`` and no ``append``."""
    await conn.execute(WAKE_SQL)


def stock_movement(
    sku: str,
    location: str,
    delta: int,
    on_hand_after: int,
    reason: str,
    note: str | None,
    actor: str,
) -> Event:
    """A change of on-hand stock at one location: the stock ledger is these events (the
    invariant checker adds up their deltas against ``stock_levels``)."""
    return Event(
        EventKind.STOCK_MOVED,
        Subject.SKU,
        sku,
        actor,
        {
            "location": location,
            "delta": delta,
            "onHandAfter": on_hand_after,
            "reason": reason,
            "note": note,
        },
    )


# ---------------------------------------------------------------- reads

EVENT_FIELDS = (
    "id, tx::text AS tx, kind, subject, subject_id, order_id, line_id, actor, before, payload, "
    "created_at"
)


async def events_by_order(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    """The history of these orders (order and line events), oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {EVENT_FIELDS} FROM events WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, id",
        list(order_ids),
    )
    return rows


async def events_by_subject(
    conn: asyncpg.Connection, subject: Subject, subject_ids: Sequence[str]
) -> list[asyncpg.Record]:
    """The history of subjects outside orders (a SKU, a supply record, a customer)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {EVENT_FIELDS} FROM events WHERE order_id IS NULL AND subject = $1 "
        "AND subject_id = ANY($2::text[]) ORDER BY subject_id, id",
        subject.value,
        list(subject_ids),
    )
    return rows


async def events_by_id(conn: asyncpg.Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {EVENT_FIELDS} FROM events WHERE id = ANY($1::bigint[])", list(ids)
    )
    return rows


@dataclass(frozen=True, order=True)
class Position:
    """Where a reader of the stream is: after the row ``(tx, id)`` (ordered as the stream)."""

    tx: int
    id: int


START = Position(0, 0)


async def read_stream(
    conn: asyncpg.Connection, after: Position, limit: int
) -> list[asyncpg.Record]:
    """Events after ``after`` in stream order, only of finished transactions (see the module):
    resuming after the last row returned never skips one."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {EVENT_FIELDS} FROM events "
        "WHERE (tx, id) > ($1::text::xid8, $2) "
        "AND tx < pg_snapshot_xmin(pg_current_snapshot()) "
        "ORDER BY tx, id LIMIT $3",
        str(after.tx),
        after.id,
        limit,
    )
    return rows


async def head(conn: asyncpg.Connection) -> Position:
    """The position after the last event of every finished transaction: a reader starting
    here gets everything committed from now on (and what is in flight now)."""
    row = await conn.fetchrow(
        "SELECT tx::text AS tx, id FROM events "
        "WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx DESC, id DESC LIMIT 1"
    )
    return position_of(row) if row is not None else START


async def position_of_event(conn: asyncpg.Connection, event_id: int) -> Position | None:
    row = await conn.fetchrow("SELECT tx::text AS tx, id FROM events WHERE id = $1", event_id)
    return position_of(row) if row is not None else None


def position_of(row: Mapping[str, Any]) -> Position:
    return Position(int(row["tx"]), int(row["id"]))


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back (the API's view of one ledger row)."""

    id: int
    kind: str
    subject: str
    subject_id: str
    order_id: uuid.UUID | None
    line_id: int | None
    actor: str
    before: Any
    payload: Any
    created_at: datetime


def stored(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=int(row["id"]),
        kind=row["kind"],
        subject=row["subject"],
        subject_id=row["subject_id"],
        order_id=row["order_id"],
        line_id=row["line_id"],
        actor=row["actor"],
        before=_loads(row["before"]),
        payload=_loads(row["payload"]),
        created_at=row["created_at"],
    )


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def json_of(value: Any) -> dict[str, Any]:
    """A jsonb column as a dict (asyncpg hands jsonb over as text); {} for null."""
    found = _loads(value)
    return found if isinstance(found, dict) else {}
