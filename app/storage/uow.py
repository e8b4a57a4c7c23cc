"""Unit of work: one transaction per use case, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class RawUnitOfWork:
    """The same contract on a raw asyncpg connection, for hot write paths (placement)."""

    conn: asyncpg.Connection

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._committed = False

    async def __aenter__(self) -> Self:
        self.conn = await self._pool.acquire()
        self._tx = self.conn.transaction()
        await self._tx.start()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self._tx.rollback()
        finally:
            await self._pool.release(self.conn)

    async def commit(self) -> None:
        await self._tx.commit()
        self._committed = True


class UnitOfWork:
    """``async with UnitOfWork(factory) as uow: ...; await uow.commit()``.

    Leaving the block without ``commit()`` rolls everything back, so a use case that
    returns early on bad input, or raises, changes nothing.
    """

    session: AsyncSession

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._committed = False

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self.session.rollback()
