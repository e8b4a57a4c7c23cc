"""What every use case needs: the engine, the session factory, settings and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.settings import Settings
from app.storage.notify import INVENTORY_CHANNEL, CoalescingNotifier
from app.storage.uow import RawUnitOfWork, UnitOfWork, make_session_factory


def system_now() -> datetime:
    return datetime.now(UTC)


class TtlCache:
    """A tiny in-process cache for slowly changing reference data (never for stock)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, object]] = {}

    def get(self, key: str) -> object | None:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: str, value: object, seconds: float) -> None:
        if seconds > 0:
            self._items[key] = (time.monotonic() + seconds, value)

    def clear(self) -> None:
        self._items.clear()


class Services:
    """Built once per process in the app's lifespan; shared by all requests."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        clock: Callable[[], datetime] = system_now,
        read_pool: asyncpg.Pool | None = None,
        write_pool: asyncpg.Pool | None = None,
    ) -> None:
        self._write_pool = write_pool
        self.engine = engine
        self._read_pool = read_pool
        self.cache = TtlCache()
        self.settings = settings
        self.session_factory = make_session_factory(engine)
        self.clock = clock
        self.store_tz = ZoneInfo(settings.store_timezone)
        # Placement's inventory wake-ups, sent after COMMIT, one per window (started by the
        # app's lifespan; not started, each is sent right after its COMMIT).
        self.inventory_notifier = CoalescingNotifier(
            write_pool, INVENTORY_CHANNEL, settings.notify_coalesce_ms / 1000
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @property
    def read_pool(self) -> asyncpg.Pool:
        """Raw asyncpg pool for hot single-statement reads."""
        if self._read_pool is None:
            raise RuntimeError("this Services has no read pool")
        return self._read_pool

    def raw_uow(self) -> RawUnitOfWork:
        """A transaction on a raw asyncpg connection (placement and other hot writes)."""
        if self._write_pool is None:
            raise RuntimeError("this Services has no write pool")
        return RawUnitOfWork(self._write_pool)

    def read_session(self) -> AsyncSession:
        """A session for reads: closing it detaches the loaded rows without expiring them."""
        return self.session_factory()

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in the store's time zone: launch dates are compared with this."""
        return self.clock().astimezone(self.store_tz).date()
