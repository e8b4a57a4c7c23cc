"""The warehouse's work list (``fulfilmentQueue``) and its counts (``fulfilmentCounts``).

One list per kind (``app.domain.shipments.FulfilmentKind``): READY work never waits behind
future-dated work, and a pre-order launch that opens a thousand PRE_ORDER shipments leaves
the READY list as it was. Each list holds the open shipments (PICKING, PACKED,
AWAITING_SHIPMENT, and ON_HOLD ones, shown with their status) by dispatch deadline, then id;
the page is a keyset on that pair. A shipment's urgency (on time, at risk, breached) is the
domain's ``urgency`` at the moment of the request, with ``OMS_SHIPMENT_RISK_HOURS`` as the
risk window; a filter by urgency is a range of deadlines (``app.domain.work_list``).

Reads only: single statements on the read pool, no transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.shipments import FulfilmentKind, Urgency
from app.domain.work_list import DeadlineRange, deadline_range, deadline_ranges
from app.services.container import Services
from app.storage import fulfilment_queue as store


@dataclass(frozen=True)
class WorkSelection:
    """One work list as asked at one moment: its kind, the deadline ranges of the urgencies
    asked for (all: one unbounded range) and the one channel a channel key sees."""

    kind: FulfilmentKind
    ranges: tuple[DeadlineRange, ...]
    channel: str | None
    now: datetime


def risk_window(services: Services) -> timedelta:
    return timedelta(hours=services.settings.shipment_risk_hours)


def select(
    services: Services,
    kind: FulfilmentKind,
    urgencies: Iterable[Urgency] | None,
    channel: str | None,
) -> WorkSelection:
    now = services.now()
    ranges = deadline_ranges(urgencies, now, risk_window(services))
    return WorkSelection(kind, tuple(ranges), channel, now)


async def page(
    services: Services, selection: WorkSelection, after: tuple[datetime, int] | None, limit: int
) -> list[Any]:
    """Up to ``limit`` shipments of the list after the keyset ``after`` (deadline, id)."""
    async with services.read() as conn:
        return await store.work_list(
            conn, selection.kind.value, selection.ranges, selection.channel, after, limit
        )


async def count(services: Services, selection: WorkSelection) -> int:
    async with services.read() as conn:
        return await store.count_work(
            conn, selection.kind.value, selection.ranges, selection.channel
        )


@dataclass(frozen=True)
class KindCounts:
    """The open work of one kind: every shipment is on time, at risk or breached (held ones
    included: a held shipment keeps its deadline); ``on_hold`` of them are held."""

    kind: FulfilmentKind
    open: int
    on_time: int
    at_risk: int
    breached: int
    on_hold: int


async def counts(services: Services, channel: str | None) -> list[KindCounts]:
    """Every kind (none open: zeros), READY first, in one statement."""
    now, window = services.now(), risk_window(services)
    async with services.read() as conn:
        rows = await store.counts(
            conn,
            on_time=deadline_range(Urgency.ON_TIME, now, window),
            at_risk=deadline_range(Urgency.AT_RISK, now, window),
            breached=deadline_range(Urgency.BREACHED, now, window),
            channel=channel,
        )
    found = {row["kind"]: row for row in rows}
    result = []
    for kind in FulfilmentKind:
        row = found.get(kind.value)
        if row is None:
            result.append(KindCounts(kind, 0, 0, 0, 0, 0))
            continue
        result.append(
            KindCounts(
                kind,
                int(row["open"]),
                int(row["on_time"]),
                int(row["at_risk"]),
                int(row["breached"]),
                int(row["on_hold"]),
            )
        )
    return result
