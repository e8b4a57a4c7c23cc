"""What every use case needs: the pools, settings, the clock, the payment gateway, the mailer
and the reference-data cache. Built once per process (the app's lifespan, the CLI); the one place
where a real payment provider is plugged in."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from app.services.gateway import LedgerGateway, PaymentGateway
from app.services.notifications.mailer import Mailer, mailer_for
from app.settings import Settings
from app.storage.notify import INVENTORY_CHANNEL, CoalescingNotifier
from app.storage.uow import PlacementUnitOfWork, UnitOfWork, read_connection, write_connection


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
    """Shared by all requests of a process.

    Two asyncpg pools: ``read_pool`` for single-statement reads outside a transaction (PDP
    snapshots, reference data, API keys, order reads) and ``write_pool`` for the use cases'
    transactions (``uow()``, ``placement_uow()``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        read_pool: asyncpg.Pool | None,
        write_pool: asyncpg.Pool | None,
        clock: Callable[[], datetime] = system_now,
        gateway: PaymentGateway | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.settings = settings
        self._read_pool = read_pool
        self._write_pool = write_pool
        self.clock = clock
        self.gateway: PaymentGateway = gateway or LedgerGateway()
        # How messages to customers leave: SMTP, or .eml files without a server.
        self.mailer: Mailer = mailer or mailer_for(settings)
        self.cache = TtlCache()
        self.store_tz = ZoneInfo(settings.store_timezone)
        # Placement's inventory wake-ups, sent after COMMIT, one per window (started by the
        # app's lifespan; not started, each is sent right after its COMMIT).
        self.inventory_notifier = CoalescingNotifier(
            write_pool, INVENTORY_CHANNEL, settings.notify_coalesce_ms / 1000
        )

    def with_gateway(self, gateway: PaymentGateway) -> Services:
        """The same services (pools, caches, clock) paying through another gateway."""
        other = copy.copy(self)
        other.gateway = gateway
        return other

    @property
    def read_pool(self) -> asyncpg.Pool:
        if self._read_pool is None:
            raise RuntimeError("this Services has no read pool")
        return self._read_pool

    @property
    def write_pool(self) -> asyncpg.Pool:
        if self._write_pool is None:
            raise RuntimeError("this Services has no write pool")
        return self._write_pool

    def uow(self) -> UnitOfWork:
        """One transaction of a use case, rolled back unless committed."""
        return UnitOfWork(self.write_pool)

    def placement_uow(self, lock_timeout_ms: int | None = None) -> PlacementUnitOfWork:
        """One placement attempt (its last pool updates travel with COMMIT)."""
        return PlacementUnitOfWork(self.write_pool, lock_timeout_ms)

    def write(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A write connection for one self-contained statement (no transaction around it)."""
        return write_connection(self.write_pool)

    def read(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection for reads outside a transaction: ``async with services.read() as c``."""
        return read_connection(self.read_pool)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in the store's time zone: launch dates are compared with this."""
        return self.clock().astimezone(self.store_tz).date()
