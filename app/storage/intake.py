"""Channel intake: channel configuration, SKU maps, raw payloads and what became of them.

Concurrency. A payload is stored (its own short transaction, committed before anything reads
it) with ``INSERT ... ON CONFLICT (channel_code, external_id) DO UPDATE``: concurrent
deliveries of one order meet on one row, each learning whether it was first. Processing is
not serialised per row: every attempt places with the same idempotency key (the message's
``replay_no`` in it), and placement answers duplicates with the one order. An outcome never
overwrites ACCEPTED (``record_outcome``'s condition), so a late failure of a duplicate cannot
hide the order. The retry job claims due rows by moving their ``next_attempt_at`` forward
(a lease, ``FOR UPDATE SKIP LOCKED``), so two replicas never attempt one row at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from app.storage import ledger

OPEN = ("RECEIVED", "RETRYING")
FAILED = ("INVALID", "DEAD")

MESSAGE_COLUMNS = """
    m.id, m.channel_code, m.adapter, m.external_id, m.account, m.batch_id, m.payload_sha256,
    m.received_at, m.deliveries, m.status, m.attempts, m.replay_no, m.next_attempt_at,
    m.error_code, m.error_message, m.errors, m.order_id, m.currency, m.value_minor, m.units,
    m.sla_deadline, m.impact_score, m.processed_at, m.latency_ms, m.discarded_reason,
    m.discarded_by, m.purged_at, (m.payload IS NOT NULL) AS has_payload,
    (SELECT o.number FROM orders o WHERE o.id = m.order_id) AS order_number
"""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ChannelIntake:
    code: str
    kind: str
    sla_hours: int
    adapter: str
    rules: dict[str, Any]


async def channel_intake(conn: asyncpg.Connection, channel: str) -> ChannelIntake | None:
    row = await conn.fetchrow(
        """
        SELECT c.code, c.kind, c.sla_hours, i.adapter, i.rules
        FROM intake_channels i JOIN channels c ON c.code = i.channel_code
        WHERE i.channel_code = $1
        """,
        channel,
    )
    if row is None:
        return None
    return ChannelIntake(
        row["code"], row["kind"], row["sla_hours"], row["adapter"], orjson.loads(row["rules"])
    )


async def channel_configs(conn: asyncpg.Connection) -> list[Any]:
    return list(
        await conn.fetch(
            """
            SELECT i.channel_code, i.adapter, i.rules, i.updated_at,
                   coalesce((SELECT jsonb_object_agg(a.account, a.rules)
                             FROM intake_account_rules a
                             WHERE a.channel_code = i.channel_code), '{}') AS accounts,
                   (SELECT count(*) FROM channel_sku_map s
                    WHERE s.channel_code = i.channel_code) AS mapped_skus
            FROM intake_channels i ORDER BY i.channel_code
            """
        )
    )


async def channel_exists(conn: asyncpg.Connection, channel: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM channels WHERE code = $1", channel))


async def upsert_channel(
    conn: asyncpg.Connection, channel: str, adapter: str, rules: dict[str, Any]
) -> Any:
    """The channel's configuration, and what it replaced (None: new)."""
    before = await conn.fetchrow(
        "SELECT adapter, rules FROM intake_channels WHERE channel_code = $1 FOR UPDATE", channel
    )
    await conn.execute(
        """
        INSERT INTO intake_channels (channel_code, adapter, rules) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (channel_code) DO UPDATE
        SET adapter = excluded.adapter, rules = excluded.rules, updated_at = now()
        """,
        channel,
        adapter,
        orjson.dumps(rules).decode(),
    )
    return before


async def upsert_account_rules(
    conn: asyncpg.Connection, channel: str, account: str, rules: dict[str, Any] | None
) -> bool:
    """Set (or, with None, remove) an account's rules. False: the channel has no intake."""
    if not await conn.fetchval(
        "SELECT 1 FROM intake_channels WHERE channel_code = $1 FOR KEY SHARE", channel
    ):
        return False
    if rules is None:
        await conn.execute(
            "DELETE FROM intake_account_rules WHERE channel_code = $1 AND account = $2",
            channel,
            account,
        )
        return True
    await conn.execute(
        """
        INSERT INTO intake_account_rules (channel_code, account, rules) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (channel_code, account) DO UPDATE
        SET rules = excluded.rules, updated_at = now()
        """,
        channel,
        account,
        orjson.dumps(rules).decode(),
    )
    return True


async def unknown_skus(conn: asyncpg.Connection, skus: Sequence[str]) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT s.sku FROM unnest($1::text[]) AS s(sku)
        WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = s.sku)
        """,
        list(skus),
    )
    return [r["sku"] for r in rows]


async def map_skus(
    conn: asyncpg.Connection, channel: str, pairs: Sequence[tuple[str, str | None]]
) -> None:
    """Map each ``(external, ours)``; ``ours`` None removes the mapping."""
    keep = [(e, s) for e, s in pairs if s is not None]
    drop = [e for e, s in pairs if s is None]
    if drop:
        await conn.execute(
            "DELETE FROM channel_sku_map WHERE channel_code = $1 AND external_sku = ANY($2)",
            channel,
            drop,
        )
    if keep:
        await conn.execute(
            """
            INSERT INTO channel_sku_map (channel_code, external_sku, sku)
            SELECT $1, e, s FROM unnest($2::text[], $3::text[]) AS m(e, s)
            ON CONFLICT (channel_code, external_sku) DO UPDATE
            SET sku = excluded.sku, updated_at = now()
            """,
            channel,
            [e for e, _ in keep],
            [s for _, s in keep],
        )


# ---------------------------------------------------------------- raw payloads


@dataclass(frozen=True)
class Stored:
    """A payload as stored: ``created`` when this delivery was the first of its order."""

    id: int
    created: bool
    same_payload: bool
    status: str
    replay_no: int
    attempts: int
    order_id: uuid.UUID | None
    order_number: str | None
    errors: list[Any] | None


async def insert_batch(
    conn: asyncpg.Connection, channel: str, content_type: str, payload: bytes, now: datetime
) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO intake_batches (channel_code, content_type, payload, received_at) "
            "VALUES ($1, $2, $3, $4) RETURNING id",
            channel,
            content_type,
            payload,
            now,
        )
    )


async def count_batch_rows(conn: asyncpg.Connection, batch_id: int, rows: int) -> None:
    await conn.execute("UPDATE intake_batches SET rows = $2 WHERE id = $1", batch_id, rows)


async def store(
    conn: asyncpg.Connection,
    *,
    channel: str,
    adapter: str,
    external_id: str | None,
    account: str | None,
    batch_id: int | None,
    payload: bytes,
    sha256: str,
    now: datetime,
    lease_until: datetime,
) -> Stored:
    """Store a payload as received, or count another delivery of one stored before. A payload
    without a readable external id is stored on its own row (it cannot be a duplicate)."""
    row = await conn.fetchrow(
        """
        INSERT INTO intake_messages (channel_code, adapter, external_id, account, batch_id,
                                     payload, payload_sha256, received_at, next_attempt_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (channel_code, external_id) DO UPDATE
        SET deliveries = intake_messages.deliveries + 1
        RETURNING id, (xmax = 0) AS created, payload_sha256, status, replay_no, attempts,
                  order_id, errors,
                  (SELECT o.number FROM orders o WHERE o.id = intake_messages.order_id)
                      AS order_number
        """,
        channel,
        adapter,
        external_id,
        account,
        batch_id,
        payload,
        sha256,
        now,
        lease_until,
    )
    return Stored(
        id=row["id"],
        created=row["created"],
        same_payload=row["payload_sha256"] == sha256,
        status=row["status"],
        replay_no=row["replay_no"],
        attempts=row["attempts"],
        order_id=row["order_id"],
        order_number=row["order_number"],
        errors=orjson.loads(row["errors"]) if row["errors"] is not None else None,
    )


async def payload_of(conn: asyncpg.Connection, message_id: int) -> Any:
    return await conn.fetchrow(
        "SELECT id, channel_code, adapter, payload, received_at, replay_no, status, attempts, "
        "order_id FROM intake_messages WHERE id = $1",
        message_id,
    )


@dataclass(frozen=True)
class Outcome:
    status: str
    now: datetime
    order_id: uuid.UUID | None = None
    errors: list[dict[str, Any]] | None = None
    error_code: str | None = None
    error_message: str | None = None
    next_attempt_at: datetime | None = None
    currency: str | None = None
    value_minor: int | None = None
    units: int | None = None
    sla_deadline: datetime | None = None
    impact_score: float = 0.0
    external_id: str | None = None
    account: str | None = None


async def record_outcome(
    conn: asyncpg.Connection,
    message_id: int,
    outcome: Outcome,
    event: tuple[str, str, dict[str, Any]],
) -> Any:
    """Record one attempt's outcome and its event (``(kind, actor, payload)``; the attempts
    count is added to the payload) in one statement, atomic on its own, and wake the live
    hubs; None, with nothing written, when the row was ACCEPTED meanwhile (a duplicate
    delivery placed it: that answer stands) or DISCARDED by ops."""
    kind, actor, payload = event
    return await conn.fetchrow(
        f"""
        WITH m AS (
            UPDATE intake_messages m SET
                status = $2, attempts = attempts + 1, order_id = coalesce($3, order_id),
                errors = $4::jsonb, error_code = $5, error_message = $6, next_attempt_at = $7,
                currency = coalesce($8, currency), value_minor = coalesce($9, value_minor),
                units = coalesce($10, units), sla_deadline = coalesce($11, sla_deadline),
                impact_score = $12, processed_at = $13,
                latency_ms = CASE WHEN $2 IN ('ACCEPTED', 'INVALID', 'DEAD')
                                       AND processed_at IS NULL
                                  THEN extract(epoch FROM $13 - received_at) * 1000
                                  ELSE latency_ms END,
                account = coalesce(account, $14)
            WHERE id = $1 AND (status NOT IN ('ACCEPTED', 'DISCARDED') OR $2 = 'ACCEPTED')
            RETURNING {MESSAGE_COLUMNS}
        ),
        e AS (
            {ledger.INSERT_EVENTS}
            SELECT $15, 'INTAKE', m.id::text, m.order_id, NULL::bigint, $16, NULL::jsonb,
                   $17::jsonb || jsonb_build_object('attempts', m.attempts)
            FROM m
            RETURNING id
        ),
        wake AS (SELECT pg_notify('{ledger.EVENTS_CHANNEL}', max(id)::text) AS n FROM e)
        SELECT m.*, (SELECT count(*) FROM wake) AS woken FROM m
        """,
        message_id,
        outcome.status,
        outcome.order_id,
        orjson.dumps(outcome.errors).decode() if outcome.errors is not None else None,
        outcome.error_code,
        outcome.error_message,
        outcome.next_attempt_at,
        outcome.currency,
        outcome.value_minor,
        outcome.units,
        outcome.sla_deadline,
        outcome.impact_score,
        outcome.now,
        outcome.account,
        kind,
        actor,
        orjson.dumps(payload, default=str).decode(),
    )


async def claim_due(
    conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int
) -> list[int]:
    """Open payloads whose next attempt is due (RECEIVED ones too: their first attempt died
    with its process), leased to the caller until ``lease_until``."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM intake_messages
            WHERE status IN ('RECEIVED', 'RETRYING') AND next_attempt_at <= $1
            ORDER BY next_attempt_at, id
            LIMIT $3
            FOR UPDATE SKIP LOCKED
        )
        UPDATE intake_messages m SET next_attempt_at = $2
        FROM due WHERE m.id = due.id
        RETURNING m.id
        """,
        now,
        lease_until,
        limit,
    )
    return sorted(r["id"] for r in rows)


# ---------------------------------------------------------------- ops


async def by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> list[Any]:
    return list(
        await conn.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM intake_messages m WHERE m.id = ANY($1::bigint[])",
            list(ids),
        )
    )


def _filter(
    channel: str | None,
    statuses: Sequence[str] | None,
    error_code: str | None,
    since: datetime | None,
    until: datetime | None,
    start: int,
) -> tuple[str, list[Any]]:
    clauses = [f"m.status = ANY(${start}::text[])"]
    args: list[Any] = [list(statuses or FAILED)]
    for column, op, value in (
        ("m.channel_code", "=", channel),
        ("m.error_code", "=", error_code),
        ("m.received_at", ">=", since),
        ("m.received_at", "<", until),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} {op} ${start + len(args) - 1}")
    return " AND ".join(clauses), args


async def failures(
    conn: asyncpg.Connection,
    channel: str | None,
    statuses: Sequence[str] | None,
    by_impact: bool,
    after: tuple[float, int] | None,
    limit: int,
) -> list[Any]:
    """Failed payloads, most impact first (or newest first), keyset-paged after ``after``
    (``(impact_score, id)``, or ``(0, id)`` by time)."""
    where, args = _filter(channel, statuses, None, None, None, 2)
    n = len(args) + 2
    if by_impact:
        order = "m.impact_score DESC, m.id DESC"
        page = f"AND (m.impact_score, m.id) < (${n}::float8, ${n + 1}::bigint)" if after else ""
    else:
        order = "m.id DESC"
        page = f"AND m.id < ${n + 1}::bigint" if after else ""
    extra = [after[0], after[1]] if after else []
    return list(
        await conn.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM intake_messages m WHERE {where} {page} "
            f"ORDER BY {order} LIMIT $1",
            limit,
            *args,
            *extra,
        )
    )


async def count_failures(
    conn: asyncpg.Connection, channel: str | None, statuses: Sequence[str] | None
) -> int:
    where, args = _filter(channel, statuses, None, None, None, 1)
    return int(await conn.fetchval(f"SELECT count(*) FROM intake_messages m WHERE {where}", *args))


async def reopen(
    conn: asyncpg.Connection,
    ids: Sequence[int] | None,
    channel: str | None,
    statuses: Sequence[str],
    error_code: str | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    limit: int,
) -> list[Any]:
    """Put failed payloads back in line for an attempt now (``ids``, or those matching the
    filter, at most ``limit``): a fresh count of attempts; one refused by placement gets a new
    ``replay_no`` (its refusal is stored under the old idempotency key). Payloads already
    emptied by the retention period cannot be tried again and are left out."""
    where, args = _filter(channel, statuses, error_code, since, until, 4)
    if ids is not None:
        args.append(list(ids))
        where += f" AND m.id = ANY(${3 + len(args)}::bigint[])"
    return list(
        await conn.fetch(
            f"""
            WITH picked AS (
                SELECT m.id FROM intake_messages m
                WHERE {where} AND m.payload IS NOT NULL
                ORDER BY m.impact_score DESC, m.id
                LIMIT $3
                FOR UPDATE
            )
            UPDATE intake_messages m SET
                status = 'RETRYING', attempts = 0, next_attempt_at = $1,
                replay_no = replay_no + CASE WHEN error_code = $2 THEN 1 ELSE 0 END
            FROM picked WHERE m.id = picked.id
            RETURNING {MESSAGE_COLUMNS}
            """,
            now,
            "PLACEMENT",
            limit,
            *args,
        )
    )


async def discard(
    conn: asyncpg.Connection, message_id: int, reason: str, actor: str, now: datetime
) -> Any:
    return await conn.fetchrow(
        f"""
        UPDATE intake_messages m SET status = 'DISCARDED', discarded_reason = $2,
               discarded_by = $3, next_attempt_at = NULL, processed_at = coalesce(processed_at, $4)
        WHERE id = $1 AND status <> 'ACCEPTED'
        RETURNING {MESSAGE_COLUMNS}
        """,
        message_id,
        reason,
        actor,
        now,
    )


async def health(conn: asyncpg.Connection, since: datetime) -> list[Any]:
    """Per channel with intake: payloads received since ``since`` and what became of them,
    and the 50th/99th percentile of the time from arrival to the answer."""
    return list(
        await conn.fetch(
            """
            SELECT i.channel_code,
                   count(m.id) AS received,
                   count(m.id) FILTER (WHERE m.status = 'ACCEPTED') AS accepted,
                   count(m.id) FILTER (WHERE m.status = 'INVALID') AS rejected,
                   count(m.id) FILTER (WHERE m.status IN ('RECEIVED', 'RETRYING')) AS retrying,
                   count(m.id) FILTER (WHERE m.status = 'DEAD') AS dead,
                   count(m.id) FILTER (WHERE m.status = 'DISCARDED') AS discarded,
                   coalesce(sum(m.deliveries - 1), 0) AS duplicates,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY m.latency_ms) AS p50_ms,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY m.latency_ms) AS p99_ms
            FROM intake_channels i
            LEFT JOIN intake_messages m
                   ON m.channel_code = i.channel_code AND m.received_at >= $1
            GROUP BY i.channel_code ORDER BY i.channel_code
            """,
            since,
        )
    )


async def purge(conn: asyncpg.Connection, before: datetime, now: datetime) -> tuple[int, int]:
    """Empty the raw payloads received before ``before`` (messages no longer open, and
    batches): ``(messages, batches)`` emptied."""
    messages = await conn.fetchval(
        """
        WITH p AS (
            UPDATE intake_messages SET payload = NULL, purged_at = $2
            WHERE received_at < $1 AND payload IS NOT NULL
              AND status NOT IN ('RECEIVED', 'RETRYING')
            RETURNING 1
        ) SELECT count(*) FROM p
        """,
        before,
        now,
    )
    batches = await conn.fetchval(
        """
        WITH p AS (
            UPDATE intake_batches SET payload = NULL, purged_at = $2
            WHERE received_at < $1 AND payload IS NOT NULL
            RETURNING 1
        ) SELECT count(*) FROM p
        """,
        before,
        now,
    )
    return int(messages), int(batches)


async def order_number(conn: asyncpg.Connection, order_id: uuid.UUID) -> str | None:
    number: str | None = await conn.fetchval("SELECT number FROM orders WHERE id = $1", order_id)
    return number


@dataclass(frozen=True)
class Lookup:
    """What an attempt needs besides the payload, read in one statement: the account's rules,
    the channel's SKU map for the payload's codes, and our prices of the SKUs they name."""

    account_rules: dict[str, Any] | None
    mapping: dict[str, str]  # the channel's code -> ours, for mapped codes
    prices: dict[str, tuple[int, str]]  # our sku -> (price_minor, currency)


async def lookup(
    conn: asyncpg.Connection, channel: str, account: str | None, codes: Sequence[str]
) -> Lookup:
    rows = await conn.fetch(
        """
        WITH m AS (
            SELECT c.code, coalesce(s.sku, c.code) AS sku, s.sku IS NOT NULL AS mapped
            FROM unnest($2::text[]) AS c(code)
            LEFT JOIN channel_sku_map s ON s.channel_code = $1 AND s.external_sku = c.code
        )
        SELECT (SELECT a.rules FROM intake_account_rules a
                WHERE a.channel_code = $1 AND a.account = $3) AS account_rules,
               m.code, m.sku, m.mapped, p.price_minor, p.currency
        FROM m LEFT JOIN products p ON p.sku = m.sku
        """,
        channel,
        list(codes),
        account,
    )
    raw = rows[0]["account_rules"] if rows else None
    return Lookup(
        orjson.loads(raw) if raw is not None else None,
        {r["code"]: r["sku"] for r in rows if r["mapped"]},
        {r["sku"]: (int(r["price_minor"]), r["currency"]) for r in rows if r["currency"]},
    )
