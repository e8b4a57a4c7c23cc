"""Cross-replica change signals over PostgreSQL LISTEN/NOTIFY.

NOTIFY is a wake-up, not a record: it is delivered only to connections listening at commit
time. Readers use it to drop caches early; every cache also has a short TTL, and while the
listener is disconnected the caches that depend on it are switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.storage.database import to_asyncpg_dsn

INVENTORY_CHANNEL = "oms_inventory"

log = logging.getLogger(__name__)


async def notify_inventory_changed(session: AsyncSession, sku: str) -> None:
    """Queue a NOTIFY in the current transaction; it is delivered at commit, never before."""
    await session.execute(
        text("SELECT pg_notify(:channel, :sku)"), {"channel": INVENTORY_CHANNEL, "sku": sku}
    )


class ChangeListener:
    """Keeps one LISTEN connection open, reconnecting with backoff; reports up/down."""

    def __init__(
        self,
        url: str,
        channels: tuple[str, ...],
        on_message: Callable[[str, str], None],
        on_state: Callable[[bool], None],
    ) -> None:
        self._dsn = to_asyncpg_dsn(url)
        self._channels = channels
        self._on_message = on_message
        self._on_state = on_state
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="oms-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _callback(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._on_message(channel, payload)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            lost = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(lambda _c, event=lost: event.set())
                for channel in self._channels:
                    await conn.add_listener(channel, self._callback)
                self._set(True)
                delay = 0.5
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, server restart, …
                log.warning("change listener disconnected: %s", type(exc).__name__)
            finally:
                self._set(False)
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    def _set(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._on_state(connected)
