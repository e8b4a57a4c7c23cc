"""Unit of work: one transaction per use case on a pooled asyncpg connection, rolled back
unless committed.

``async with services.uow() as uow: ...; await uow.commit()``. Leaving the block without
``commit()`` (an early return on bad input, an exception) rolls everything back, so a use case
that refuses its input changes nothing. ``PlacementUnitOfWork`` is the same contract for order
placement, whose last pool updates travel in one message with COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import asyncpg

from app.metrics import POOL_WAIT

WRITE_POOL_WAIT = POOL_WAIT.labels("write")
READ_POOL_WAIT = POOL_WAIT.labels("read")


@asynccontextmanager
async def read_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for reads outside a transaction (its wait measured)."""
    started = time.perf_counter()
    conn: asyncpg.Connection = await pool.acquire()
    READ_POOL_WAIT.observe(time.perf_counter() - started)
    try:
        yield conn
    finally:
        await pool.release(conn)


@asynccontextmanager
async def write_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled write connection outside a transaction, for one statement that is atomic on
    its own (it commits as it ends: one round trip instead of BEGIN, it, COMMIT)."""
    started = time.perf_counter()
    conn: asyncpg.Connection = await pool.acquire()
    WRITE_POOL_WAIT.observe(time.perf_counter() - started)
    try:
        yield conn
    finally:
        await pool.release(conn)


class UnitOfWork:
    conn: asyncpg.Connection
    BEGIN = "BEGIN"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._open = False

    async def __aenter__(self) -> Self:
        started = time.perf_counter()
        self.conn = await self._pool.acquire()
        WRITE_POOL_WAIT.observe(time.perf_counter() - started)
        try:
            await self.conn.execute(self.BEGIN)
        except BaseException:
            await self._pool.release(self.conn)
            raise
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._open:
                self._open = False
                await self.conn.execute("ROLLBACK")
        finally:
            await self._pool.release(self.conn)

    async def commit(self) -> None:
        await self.conn.execute("COMMIT")
        self._open = False


# One conditional pool update that fails the transaction when the pool has less than asked
# (division by zero on an empty RETURNING), so that the updates and COMMIT can travel in one
# simple-query message: a lost race aborts before COMMIT is reached. Integers only.
_RESERVE_OR_FAIL = """
WITH r AS (
    UPDATE inventory_pools SET committed = committed + {quantity:d}, updated_at = now()
    WHERE id = {pool_id:d} AND (capacity IS NULL OR committed + {quantity:d} <= capacity)
    RETURNING 1
)
SELECT 1 / (SELECT count(*)::int FROM r)
"""


class PlacementUnitOfWork(UnitOfWork):
    """One placement attempt: BEGIN with generic plans, the work, and then the contended pool
    updates and COMMIT in a single message (``reserve_and_commit``), so a hot pool row is
    locked for one round trip of the server's own, never while our event loop is busy with
    other requests.

    Generic plans: PostgreSQL would otherwise plan the placement's array-parameter statements
    (the claim with its snapshot, the write bundle) afresh for every execution, which cost
    about a third of the database's CPU per order. Every one of them is a lookup by key or an
    insert, so the generic plan is the custom one."""

    BEGIN = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"

    def __init__(self, pool: asyncpg.Pool, lock_timeout_ms: int | None = None) -> None:
        super().__init__(pool)
        if lock_timeout_ms is not None:  # an integer of ours: never caller text
            self.BEGIN = f"{self.BEGIN}; SET LOCAL lock_timeout = {int(lock_timeout_ms):d}"

    async def reserve_and_commit(
        self, updates: Sequence[tuple[int, int]], guards: Sequence[str] = ()
    ) -> bool:
        """Conditional updates ``(pool_id, quantity)`` in the given (lock) order, then COMMIT.
        False, with nothing committed, when a pool had less than asked (the caller re-plans);
        the transaction is then left failed and rolled back on exit. ``guards``: statements
        of our own (no caller text) that fail by division by zero in the same way, run first
        (before any pool row is locked)."""
        statements = [
            *guards,
            *(
                _RESERVE_OR_FAIL.format(pool_id=int(pool_id), quantity=int(quantity))
                for pool_id, quantity in updates
            ),
        ]
        try:
            await self.conn.execute(";".join([*statements, "COMMIT"]))
        except asyncpg.DivisionByZeroError:
            return False
        self._open = False
        return True
