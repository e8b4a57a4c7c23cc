"""What every use case needs: the engine, the session factory, settings and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.settings import Settings
from app.storage.uow import UnitOfWork, make_session_factory


def system_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Built once per process in the app's lifespan; shared by all requests."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        clock: Callable[[], datetime] = system_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.session_factory = make_session_factory(engine)
        self.clock = clock
        self.store_tz = ZoneInfo(settings.store_timezone)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def read_session(self) -> AsyncSession:
        """A session for reads: closing it detaches the loaded rows without expiring them."""
        return self.session_factory()

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today in the store's time zone: launch dates are compared with this."""
        return self.clock().astimezone(self.store_tz).date()
