"""Cross-replica change signals over PostgreSQL LISTEN/NOTIFY.

NOTIFY is a wake-up, not a record: it is delivered only to connections listening at commit
time. Readers use it to drop caches early; every cache also has a short TTL, and while the
listener is disconnected the caches that depend on it are switched off.

Placement, the one frequent writer, does not NOTIFY in its transaction: PostgreSQL serialises
notifying commits on one global lock, and every notification wakes every replica's listener.
It hands its SKUs to the process's ``CoalescingNotifier`` after COMMIT instead, which sends one
notification per window for all of them. The rare writers (cancellation, receipts, admin
writes) still NOTIFY in their transactions (``notify_inventory_changed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import asyncpg

from app.storage.database import to_asyncpg_dsn

INVENTORY_CHANNEL = "oms_inventory"
# PostgreSQL refuses payloads of 8000 bytes or more; a longer list of SKUs is sent as this.
EVERYTHING = "*"
MAX_PAYLOAD_BYTES = 7999
PAYLOAD_SEPARATOR = ","
STOP_SECONDS = 5.0  # how long shutdown waits for a send under way

log = logging.getLogger(__name__)


async def notify_inventory_changed(
    conn: asyncpg.Connection, product_ids: Sequence[uuid.UUID]
) -> None:
    """Queue a NOTIFY per SKU in the current transaction; delivered at commit, never before."""
    await conn.execute(
        "SELECT pg_notify($1, sku) FROM products WHERE id = ANY($2::uuid[])",
        INVENTORY_CHANNEL,
        list(product_ids),
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


class CoalescingNotifier:
    """One NOTIFY per window for everything committed in it, sent after COMMIT, outside any
    request, over a pooled connection (one per process: ``Services.inventory_notifier``).

    ``add`` is called after a placement committed; within ``window`` seconds (0: as soon as
    the event loop gets to it) one ``pg_notify(channel, payload)`` goes out, the payload
    being the SKUs joined by ``,`` in sorted order, or ``*`` when that would not fit. A failed
    send is logged and retried in the next window (backing off while it keeps failing); it
    never reaches a request. ``stop`` sends what is pending. Not started (no app around it:
    the CLI's demo data, some tests), ``committed`` sends at once instead.

    The weaker signal: a replica learns of a placement up to a window after its COMMIT, and
    one that dies between COMMIT and its flush never sends it; readers' caches are bounded by
    their TTL for exactly this (``OMS_PDP_CACHE_SECONDS``).
    """

    def __init__(self, pool: asyncpg.Pool | None, channel: str, window_seconds: float) -> None:
        self._pool = pool
        self._channel = channel
        self._window = max(0.0, window_seconds)
        self._pending: set[str] = set()
        self._pending_bytes = 0
        self._everything = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # notifications sent (tests, diagnostics)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="oms-inventory-notifier")

    async def stop(self) -> None:
        """Send what is pending and stop the background sender (a send under way finishes)."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, STOP_SECONDS)
        await self._flush()  # left over after a failure, or never started

    def add(self, skus: Iterable[str]) -> None:
        """Committed changes to ``skus``: notified within the window. Never blocks, never
        raises."""
        if not self._everything:
            pending = self._pending
            for sku in skus:
                if sku not in pending:
                    pending.add(sku)
                    self._pending_bytes += len(sku.encode()) + 1
            if self._pending_bytes > MAX_PAYLOAD_BYTES + 1:
                self._everything = True
                pending.clear()
                self._pending_bytes = 0
        self._wake.set()

    async def committed(self, skus: Iterable[str]) -> None:
        """After a COMMIT: in the background when started, else sent now (errors logged)."""
        self.add(skus)
        if not self.running:
            await self._flush()

    def _take(self) -> str | None:
        if self._everything:
            payload = EVERYTHING
        elif self._pending:
            payload = PAYLOAD_SEPARATOR.join(sorted(self._pending))
        else:
            return None
        self._pending = set()
        self._pending_bytes = 0
        self._everything = False
        return payload

    def _restore(self, payload: str) -> None:
        if payload == EVERYTHING:
            self._everything = True
            self._pending.clear()
            self._pending_bytes = 0
        else:
            self.add(payload.split(PAYLOAD_SEPARATOR))

    async def _flush(self) -> bool:
        """Send what is pending as one NOTIFY. False after a failure (the SKUs stay pending);
        a cancellation during the send also puts them back before it propagates."""
        payload = self._take()
        if payload is None:
            return True
        try:
            if self._pool is None:
                raise RuntimeError("no pool to notify on")
            await self._pool.execute("SELECT pg_notify($1, $2)", self._channel, payload)
        except BaseException as exc:
            self._restore(payload)
            if not isinstance(exc, Exception):
                raise
            log.warning("inventory notify failed, will retry: %s", type(exc).__name__)
            return False
        self.sent += 1
        return True

    async def _run(self) -> None:
        wake, stopping = self._wake, self._stopping
        backoff = 0.0
        while not stopping.is_set():
            await wake.wait()
            delay = max(self._window, backoff)
            if delay and not stopping.is_set():
                # the window (or the back-off), cut short by stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
            wake.clear()  # what is added from here on wakes the next round
            if await self._flush():
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, self._window, 0.05), 2.0)
                wake.set()
