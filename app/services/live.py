"""Live: one hub per replica follows the event ledger and the inventory changes and feeds every
subscription of the replica.

Events travel through PostgreSQL. The ledger is the record; NOTIFY (``oms_events`` from the
ledger's writers, ``oms_inventory`` from stock changes and placements) is only a wake-up. On
every wake-up, when the listener connection comes back and every ``poll_seconds`` anyway, the
hub reads the ledger after the last position it delivered (``ledger.read_stream``: rows of
finished transactions only, in ``(tx, id)`` order, so nothing committed later is skipped and
nothing is read twice) and hands each event to the subscribers that may see it. One read feeds
every subscriber: a thousand subscribers cost one query per batch of events, not a thousand.

Availability is watched per SKU: an inventory wake-up (or the periodic refresh) marks the SKU
stale; at most once per ``coalesce_seconds`` the hub reads the snapshots of every stale SKU in
one statement and hands the newest to each subscriber of the SKU, which keeps only the latest
(a launch-day drop of a thousand orders is a few frames, not a thousand).

Each subscriber has a bounded queue. One that does not keep up is dropped (``overflowed``),
never slowing the others; the API layer closes its socket with a clear code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.metrics import (
    LIVE_DELIVERED,
    LIVE_DROPPED,
    LIVE_LAG,
    LIVE_LISTENER_UP,
    LIVE_SUBSCRIPTIONS,
)
from app.services.container import Services
from app.storage import ledger
from app.storage import orders as order_store
from app.storage.inventory import SkuRecord, fetch_records
from app.storage.ledger import Position, position_of

__all__ = [
    "EventContext",
    "EventSubscriber",
    "LiveHub",
    "Position",
    "SkuSubscriber",
    "position_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

EVERYTHING = "*"
BATCH = 500
CONTEXT_CACHE = 50_000  # orders and lines whose channel, token and SKU the hub remembers


@dataclass(frozen=True)
class EventContext:
    """What authorization and filters need to know about an event beyond its row: the
    order's channel and token hash, and the SKUs and states of the line (or of all the
    order's lines, for an order event). None of it ever changes."""

    channel: str | None = None
    token_hash: str | None = None
    skus: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()


@dataclass(eq=False)  # one per subscription, told apart by identity
class EventSubscriber:
    """One ``orderEvents`` or ``deliveryEstimateChanged`` subscription: ``accepts`` decides,
    per event and with the one policy, whether its caller may and wants to see it."""

    kind: str
    accepts: Callable[[Any, EventContext], bool]
    queue: asyncio.Queue[tuple[Any, EventContext]]
    after: Position = ledger.START
    overflowed: bool = False

    def offer(self, row: Any, ctx: EventContext) -> None:
        if self.overflowed or ledger.position_of(row) <= self.after:
            return
        if not self.accepts(row, ctx):
            return
        try:
            self.queue.put_nowait((row, ctx))
        except asyncio.QueueFull:
            self.overflowed = True
            LIVE_DROPPED.labels(self.kind).inc()
            return
        self.after = ledger.position_of(row)


@dataclass(eq=False)
class SkuSubscriber:
    """One ``availabilityChanged`` subscription: the newest snapshot of its SKU, nothing
    older (``latest`` is a one-slot mailbox)."""

    sku: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    latest: SkuRecord | None = None

    def offer(self, record: SkuRecord | None) -> None:
        self.latest = record
        self.changed.set()


class LiveHub:
    def __init__(
        self,
        services: Services,
        *,
        poll_seconds: float = 2.0,
        coalesce_seconds: float = 0.1,
        queue_size: int = 1000,
    ) -> None:
        self.services = services
        self.poll_seconds = poll_seconds
        self.coalesce_seconds = coalesce_seconds
        self.queue_size = queue_size
        self.position = ledger.START
        self._events: set[EventSubscriber] = set()
        self._skus: dict[str, set[SkuSubscriber]] = {}
        self._stale: set[str] = set()
        self._delivered: dict[str, Any] = {}  # kind -> its counter (three kinds)
        # per SKU: the snapshot last handed out and what was made of it, per key
        self._answers: dict[str, tuple[SkuRecord | None, dict[Hashable, asyncio.Future[Any]]]] = {}
        self._contexts: OrderedDict[tuple[str, Any], EventContext] = OrderedDict()
        self._wake = asyncio.Event()
        self._sku_wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self.services.read() as conn:
            self.position = await ledger.head(conn)
        self._stopping = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._follow_events(), name="oms-live-events"),
            asyncio.create_task(self._follow_skus(), name="oms-live-skus"),
        ]
        self._started.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._sku_wake.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ------------------------------------------------------------ wake-ups (listener callbacks)

    def notified(self, channel: str, payload: str) -> None:
        """Any NOTIFY: new events may be committed; the SKUs named (or all) may have changed."""
        self._wake.set()
        if channel == "oms_inventory":
            skus = self._skus.keys() if payload == EVERYTHING else payload.split(",")
            self.mark_stale(skus)

    def listener_state(self, connected: bool) -> None:
        """The listener reconnected: what happened while it was away is read now."""
        LIVE_LISTENER_UP.set(1 if connected else 0)
        if connected:
            self._wake.set()
            self.mark_stale(self._skus.keys())

    def mark_stale(self, skus: Iterable[str]) -> None:
        watched = [sku for sku in skus if sku in self._skus]
        if watched:
            self._stale.update(watched)
            self._sku_wake.set()

    # ------------------------------------------------------------ event subscriptions

    def event_subscriber(
        self, kind: str, accepts: Callable[[Any, EventContext], bool], after: Position | None
    ) -> EventSubscriber:
        """Registered now, so nothing committed from here on is missed; events at or before
        ``after`` (a replay's end) are not handed over twice."""
        subscriber = EventSubscriber(
            kind, accepts, asyncio.Queue(self.queue_size), after or self.position
        )
        self._events.add(subscriber)
        LIVE_SUBSCRIPTIONS.labels(kind).inc()
        return subscriber

    def drop_event_subscriber(self, subscriber: EventSubscriber) -> None:
        if subscriber in self._events:
            self._events.discard(subscriber)
            LIVE_SUBSCRIPTIONS.labels(subscriber.kind).dec()

    async def contexts(self, rows: Sequence[Any]) -> list[EventContext]:
        """The context of each event, read for the orders and lines not remembered yet (one
        statement for a batch)."""
        orders = {r["order_id"] for r in rows if r["order_id"] is not None}
        lines = {r["line_id"] for r in rows if r["line_id"] is not None}
        missing_orders = [o for o in orders if ("order", o) not in self._contexts]
        missing_lines = [line for line in lines if ("line", line) not in self._contexts]
        if missing_orders or missing_lines:
            async with self.services.read() as conn:
                found = await order_store.event_context(conn, missing_orders, missing_lines)
            for row in found:
                key = (
                    ("order", row["order_id"])
                    if row["line_id"] is None
                    else ("line", row["line_id"])
                )
                self._remember(
                    key,
                    EventContext(
                        row["channel"],
                        row["token_hash"],
                        frozenset(row["skus"]),
                        frozenset(row["states"]),
                    ),
                )
        result = []
        for r in rows:
            order = self._contexts.get(("order", r["order_id"])) if r["order_id"] else None
            line = self._contexts.get(("line", r["line_id"])) if r["line_id"] else None
            if line is not None:
                result.append(line)
            elif order is not None:
                result.append(order)
            else:
                sku = _sku_of(r)
                result.append(EventContext(skus=frozenset({sku}) if sku else frozenset()))
        return result

    def _remember(self, key: tuple[str, Any], ctx: EventContext) -> None:
        self._contexts[key] = ctx
        if len(self._contexts) > CONTEXT_CACHE:
            self._contexts.popitem(last=False)

    async def head(self) -> Position:
        """Where the stream stands now (everything committed so far is at or before it)."""
        async with self.services.read() as conn:
            return await ledger.head(conn)

    async def position_of(self, event_id: int) -> Position | None:
        """Where the stream stands after event ``event_id`` (None: no such event)."""
        async with self.services.read() as conn:
            return await ledger.position_of_event(conn, event_id)

    async def replay(
        self, after: Position, until: Position
    ) -> AsyncIterator[tuple[Any, EventContext]]:
        """The ledger from ``after`` up to ``until`` (a reconnecting client's missed events)."""
        position = after
        while position < until:
            async with self.services.read() as conn:
                rows = [
                    r
                    for r in await ledger.read_stream(conn, position, BATCH)
                    if ledger.position_of(r) <= until
                ]
            if not rows:
                return
            for row, ctx in zip(rows, await self.contexts(rows), strict=True):
                yield row, ctx
            position = ledger.position_of(rows[-1])

    async def _follow_events(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            try:
                await self._read_new_events()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub could not read the event ledger; retrying")
                await asyncio.sleep(min(self.poll_seconds, 1.0))

    async def _read_new_events(self) -> None:
        while True:
            async with self.services.read() as conn:
                rows = await ledger.read_stream(conn, self.position, BATCH)
            if not rows:
                return
            if self._events:
                now = time.time()
                for row, ctx in zip(rows, await self.contexts(rows), strict=True):
                    for subscriber in list(self._events):
                        before = subscriber.queue.qsize()
                        subscriber.offer(row, ctx)
                        if subscriber.queue.qsize() > before:
                            LIVE_LAG.observe(max(0.0, now - row["created_at"].timestamp()))
            self.position = ledger.position_of(rows[-1])
            if len(rows) < BATCH:
                return

    # ------------------------------------------------------------ availability subscriptions

    def sku_subscriber(self, sku: str) -> SkuSubscriber:
        """Watch one SKU: the subscriber gets its snapshot at the next round (subscribers
        arriving together share one read) and each time it changes."""
        subscriber = SkuSubscriber(sku)
        self._skus.setdefault(sku, set()).add(subscriber)
        LIVE_SUBSCRIPTIONS.labels("availability").inc()
        self.mark_stale([sku])
        return subscriber

    def drop_sku_subscriber(self, subscriber: SkuSubscriber) -> None:
        watchers = self._skus.get(subscriber.sku)
        if watchers is not None and subscriber in watchers:
            watchers.discard(subscriber)
            LIVE_SUBSCRIPTIONS.labels("availability").dec()
            if not watchers:
                del self._skus[subscriber.sku]
                self._answers.pop(subscriber.sku, None)

    async def shared(
        self,
        sku: str,
        record: SkuRecord | None,
        key: Hashable,
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        """What ``compute`` makes of this snapshot of ``sku`` for ``key`` (the subscription's
        arguments), computed once for all the SKU's subscribers with the same arguments."""
        entry = self._answers.get(sku)
        if entry is None or entry[0] is not record:
            entry = (record, {})
            self._answers[sku] = entry
        future = entry[1].get(key)
        if future is None:
            future = asyncio.ensure_future(compute())
            entry[1][key] = future
        elif future.done():
            done: T = future.result()  # the usual case: another subscriber computed it
            return done
        result: T = await asyncio.shield(future)
        return result

    async def _load(self, skus: Sequence[str]) -> dict[str, SkuRecord]:
        async with self.services.read() as conn:
            return await fetch_records(conn, skus)

    async def _follow_skus(self) -> None:
        refresh_at = time.monotonic() + self.poll_seconds
        while not self._stopping.is_set():
            timeout = max(0.0, refresh_at - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sku_wake.wait(), timeout)
            self._sku_wake.clear()
            if time.monotonic() >= refresh_at:
                # nothing depends on a NOTIFY arriving: every watched SKU, every so often
                self._stale.update(self._skus.keys())
                refresh_at = time.monotonic() + self.poll_seconds
            stale, self._stale = sorted(self._stale), set()
            if not stale:
                continue
            try:
                records = await self._load(stale)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub could not read SKU snapshots; retrying")
                self._stale.update(stale)
                await asyncio.sleep(min(self.poll_seconds, 1.0))
                continue
            for sku in stale:
                for subscriber in list(self._skus.get(sku, ())):
                    subscriber.offer(records.get(sku))
            # coalescing: changes arriving now wait for the next round
            await asyncio.sleep(self.coalesce_seconds)

    def delivered(self, kind: str) -> None:
        counter = self._delivered.get(kind)
        if counter is None:
            counter = self._delivered[kind] = LIVE_DELIVERED.labels(kind)
        counter.inc()


def _sku_of(row: Any) -> str | None:
    """The SKU a SKU-subject event is about."""
    return str(row["subject_id"]) if row["subject"] == "SKU" else None
