"""Shipments: the warehouse's unit of work, and its rules.

A shipment holds lines of one order (or, consolidated, of one customer) that can ship: READY
lines at once, pre-order and backorder lines once allocated in full and released. It goes
``PICKING → PACKED → AWAITING_SHIPMENT → DISPATCHED → DELIVERED``; it may be put ``ON_HOLD``
(with a reason) from any step before dispatch and released back to the step it was held at,
or ``CANCELLED`` before dispatch (its lines go back to waiting for a shipment). Every other
move is refused (``transition_problem``), never applied silently.

Its work list is its kind's (``FulfilmentKind``: READY work never waits behind future-dated
work), ordered by the dispatch deadline: the channel's SLA counted from when the shipment could
first be worked (the order's placement for READY lines, the moment the units were there for the
others), with the channel's daily cut-off in the store's time zone (``dispatch_deadline``).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.lines import shippable


class ShipmentStatus(StrEnum):
    PICKING = "PICKING"
    PACKED = "PACKED"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    DISPATCHED = "DISPATCHED"
    DELIVERED = "DELIVERED"
    ON_HOLD = "ON_HOLD"
    CANCELLED = "CANCELLED"


class HoldReason(StrEnum):
    PAYMENT_FAILED = "PAYMENT_FAILED"  # the capture at dispatch was declined
    STOCK_DISCREPANCY = "STOCK_DISCREPANCY"  # the units are not where the system says
    ADDRESS_PROBLEM = "ADDRESS_PROBLEM"
    CUSTOMER_REQUEST = "CUSTOMER_REQUEST"
    DAMAGED = "DAMAGED"
    OTHER = "OTHER"


class FulfilmentKind(StrEnum):
    """Which work list a shipment is on: the state of its lines (a consolidated or
    ship-together shipment with several: the latest to arrive, BACKORDER after PRE_ORDER)."""

    READY = "READY"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"


OPEN = frozenset(
    {
        ShipmentStatus.PICKING,
        ShipmentStatus.PACKED,
        ShipmentStatus.AWAITING_SHIPMENT,
        ShipmentStatus.ON_HOLD,
    }
)
"""Shipments still in the warehouse: their lines are spoken for, they can change."""

ADVANCE: dict[ShipmentStatus, ShipmentStatus] = {
    ShipmentStatus.PICKING: ShipmentStatus.PACKED,
    ShipmentStatus.PACKED: ShipmentStatus.AWAITING_SHIPMENT,
}
"""The warehouse steps ``advanceShipment`` takes; dispatch and delivery have their own
mutations (they need a carrier and tracking number, a date)."""

_ALLOWED: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.PICKING: frozenset(
        {ShipmentStatus.PACKED, ShipmentStatus.ON_HOLD, ShipmentStatus.CANCELLED}
    ),
    ShipmentStatus.PACKED: frozenset(
        {ShipmentStatus.AWAITING_SHIPMENT, ShipmentStatus.ON_HOLD, ShipmentStatus.CANCELLED}
    ),
    ShipmentStatus.AWAITING_SHIPMENT: frozenset(
        {ShipmentStatus.DISPATCHED, ShipmentStatus.ON_HOLD, ShipmentStatus.CANCELLED}
    ),
    ShipmentStatus.ON_HOLD: frozenset({ShipmentStatus.CANCELLED}),  # + the step it was held at
    ShipmentStatus.DISPATCHED: frozenset({ShipmentStatus.DELIVERED}),
    ShipmentStatus.DELIVERED: frozenset(),
    ShipmentStatus.CANCELLED: frozenset(),
}


def transition_problem(
    current: ShipmentStatus, to: ShipmentStatus, held_from: ShipmentStatus | None = None
) -> str | None:
    """Why ``current → to`` is not allowed (None: it is). From ON_HOLD a shipment goes back
    to the step it was held at (``held_from``), or is cancelled."""
    if current is ShipmentStatus.ON_HOLD and held_from is not None and to is held_from:
        return None
    if to in _ALLOWED[current]:
        return None
    if current is to:
        return f"The shipment is {current.value} already."
    if current is ShipmentStatus.ON_HOLD:
        back = held_from.value if held_from else "its step"
        return f"A shipment on hold can only be released (back to {back}) or cancelled."
    return f"A {current.value} shipment cannot become {to.value}."


def next_step(current: ShipmentStatus) -> ShipmentStatus | None:
    """Where ``advanceShipment`` takes a shipment; None when it has no warehouse step left."""
    return ADVANCE.get(current)


def kind_of(states: Iterable[str]) -> FulfilmentKind:
    found = set(states)
    for kind in (FulfilmentKind.BACKORDER, FulfilmentKind.PRE_ORDER):
        if kind.value in found:
            return kind
    return FulfilmentKind.READY


def dispatch_deadline(
    ready_at: datetime, sla_hours: int, cutoff: time | None, timezone: str
) -> datetime:
    """When a shipment that could be worked from ``ready_at`` must leave: ``sla_hours`` later,
    counted from ``ready_at``, or, when it came after the channel's daily ``cutoff`` (store
    time), from the start of the next day (work that arrives after the cut-off is tomorrow's)."""
    zone = ZoneInfo(timezone)
    local = ready_at.astimezone(zone)
    start = local
    if cutoff is not None and local.timetz().replace(tzinfo=None) >= cutoff:
        next_day = (local + timedelta(days=1)).date()
        start = datetime.combine(next_day, time(0, 0), tzinfo=zone)
    return (start + timedelta(hours=sla_hours)).astimezone(ready_at.tzinfo)


class Urgency(StrEnum):
    ON_TIME = "ON_TIME"
    AT_RISK = "AT_RISK"  # less than the risk window left
    BREACHED = "BREACHED"  # past its deadline, not dispatched


def urgency(deadline: datetime, now: datetime, risk_window: timedelta) -> Urgency:
    if now >= deadline:
        return Urgency.BREACHED
    if deadline - now <= risk_window:
        return Urgency.AT_RISK
    return Urgency.ON_TIME


def advance_problem(current: ShipmentStatus) -> str | None:
    """Why ``advanceShipment`` cannot move a ``current`` shipment (None: it can, to
    ``next_step``)."""
    step = next_step(current)
    if step is not None:
        return transition_problem(current, step)
    if current is ShipmentStatus.AWAITING_SHIPMENT:
        return "The shipment is packed and awaiting the carrier: dispatch it (dispatchShipment)."
    if current is ShipmentStatus.ON_HOLD:
        return "A shipment on hold cannot advance: release it first."
    return f"A {current.value} shipment has no warehouse step left."


def release_problem(current: ShipmentStatus, held_from: ShipmentStatus | None) -> str | None:
    """Why ``releaseShipment`` cannot take a shipment back to the step it was held at."""
    if current is not ShipmentStatus.ON_HOLD or held_from is None:
        return f"A {current.value} shipment is not on hold."
    return transition_problem(current, held_from, held_from)


# ---------------------------------------------------------------- opening shipments


@dataclass(frozen=True)
class OpenLine:
    """An open line (RESERVED, WAITING or ALLOCATED) of an order the opening looks at.

    ``destination`` is whatever says two lines travel to the same place the same way (the
    customer, channel, address and carrier service: ``app.domain.consolidation.Destination``);
    ``consolidates``: its channel ships one customer's waiting lines released together as one.
    """

    line_id: int
    order_id: uuid.UUID
    state: str
    status: str
    released: bool
    paused: bool
    in_shipment: bool
    placed_at: datetime
    ship_together: bool
    consolidates: bool
    destination: Hashable

    @property
    def can_ship(self) -> bool:
        return shippable(self.status, self.released, self.paused)


@dataclass(frozen=True)
class PlannedShipment:
    kind: FulfilmentKind
    line_ids: tuple[int, ...]  # ascending
    order_ids: tuple[uuid.UUID, ...]  # by their first line: the first is the shipment's order
    ready_at: datetime


def plan_shipments(
    lines: Iterable[OpenLine], now: datetime, *, whole_orders: bool = True, consolidate: bool = True
) -> list[PlannedShipment]:
    """The shipments to open for the lines that can ship and are in none.

    One shipment per order and state (READY work never waits behind future-dated work); an
    order that asked to ship together gets one shipment, once every open line of it can ship
    (``whole_orders``; a dispatch by lines waives it). On a channel that consolidates, the
    pre-order and backorder shipments of one customer to one address by one carrier service
    opened together become one shipment across orders (``consolidate``). A READY shipment
    could be worked from its order's placement, any other from ``now``."""
    by_order: dict[uuid.UUID, list[OpenLine]] = {}
    for line in sorted(lines, key=lambda x: x.line_id):
        by_order.setdefault(line.order_id, []).append(line)
    groups: dict[Hashable, list[OpenLine]] = {}
    for order_id, order_lines in by_order.items():
        ready = [x for x in order_lines if x.can_ship and not x.in_shipment]
        if not ready:
            continue
        together = order_lines[0].ship_together
        if together and whole_orders and not all(x.can_ship for x in order_lines):
            continue
        for line in ready:
            key: Hashable = (order_id,) if together else (order_id, line.state)
            groups.setdefault(key, []).append(line)
    merged: dict[Hashable, list[OpenLine]] = {}
    for key, members in groups.items():
        if (
            consolidate
            and members[0].consolidates
            and kind_of(x.state for x in members)
            in (
                FulfilmentKind.PRE_ORDER,
                FulfilmentKind.BACKORDER,
            )
        ):
            key = ("consolidated", members[0].destination)
        merged.setdefault(key, []).extend(members)
    planned = []
    for members in merged.values():
        members.sort(key=lambda x: x.line_id)
        kind = kind_of(x.state for x in members)
        orders = tuple(dict.fromkeys(x.order_id for x in members))
        ready_at = min(x.placed_at for x in members) if kind is FulfilmentKind.READY else now
        planned.append(PlannedShipment(kind, tuple(x.line_id for x in members), orders, ready_at))
    return sorted(planned, key=lambda p: p.line_ids[0])


@dataclass(frozen=True)
class Window:
    """A line's promised delivery window."""

    earliest: date | None
    latest: date | None
    confidence: str


def follow_latest(windows: Mapping[int, Window]) -> dict[int, Window]:
    """The customer's estimate of every line of one shipment follows its latest line: the
    lines (by id) whose promise must move later to the latest dated window among them (their
    delay is re-promised with the usual rules). Lines without a dated promise are left alone."""
    dated = {k: w for k, w in windows.items() if w.latest is not None}
    if len(dated) < 2:
        return {}
    target = max(dated.values(), key=lambda w: (w.latest, w.earliest or w.latest))
    assert target.latest is not None
    return {
        k: target
        for k, w in sorted(dated.items())
        if w.latest is not None and w.latest < target.latest
    }
