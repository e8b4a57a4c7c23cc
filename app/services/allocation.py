"""The step every queue or stock change ends with: serve the queue, then re-open what is left.

``settle`` runs inside the caller's transaction, with the SKUs' pool rows already locked
(``app.storage.allocation.lock_pools``): FIFO allocation of free stock to eligible waiting
lines, READY and channel capacities recomputed from what is left, the SKUs' promises
recomputed, and a NOTIFY so caches on every replica drop the SKU at commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import promises
from app.services.container import Services
from app.storage.allocation import allocate, lock_pools
from app.storage.inventory import recompute_ready_raw
from app.storage.notify import INVENTORY_CHANNEL


@dataclass(frozen=True)
class Settled:
    allocated: dict[uuid.UUID, int]
    repromised: int
    delayed: int


async def settle(
    conn: asyncpg.Connection,
    services: Services,
    product_ids: Sequence[uuid.UUID],
    cause: str,
    actor: str,
    receipt_ids: Sequence[int | None] | None = None,
) -> Settled:
    ids = list(product_ids)
    allocated = await allocate(conn, ids, services.today(), cause, actor, receipt_ids)
    for product_id in sorted(set(ids)):
        await recompute_ready_raw(conn, product_id)
    result = await promises.recompute(conn, services, ids, cause, actor)
    await conn.execute(
        "SELECT pg_notify($1, sku) FROM products WHERE id = ANY($2::uuid[])",
        INVENTORY_CHANNEL,
        ids,
    )
    return Settled(allocated, result.lines, result.delayed)


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    conn: asyncpg.Connection = raw.driver_connection
    return conn


async def lock_pools_in_session(session: AsyncSession, product_id: uuid.UUID) -> None:
    """Take the SKU's pool rows before touching stock rows: dispatch locks pools, then stock
    levels, so every writer of both must take them in that order."""
    await lock_pools(await _driver(session), [product_id])


async def settle_in_session(
    session: AsyncSession, services: Services, product_id: uuid.UUID, cause: str, actor: str
) -> Settled:
    """``settle`` for a use case written on a SQLAlchemy session (same transaction): stock
    that grew goes to the waiting lines before it re-opens for sale."""
    conn = await _driver(session)
    await lock_pools(conn, [product_id])
    return await settle(conn, services, [product_id], cause, actor)
