"""Order lines: their states and statuses, the moves allowed between statuses, and what may
be shipped, paused, resumed or cancelled. Pure rules, no I/O.

A line is one commitment in one state (READY, PRE_ORDER or BACKORDER; a line split over
states has sub-lines). Its status says where it is:

- ``RESERVED``: READY stock taken at placement; ships now.
- ``WAITING``: a pre-order or backorder in its SKU's queue (partly ring-fenced, maybe).
- ``ALLOCATED``: every unit ring-fenced from received stock; ships once released.
- ``SHIPPED`` and ``CANCELLED``: closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class LineState(StrEnum):
    READY = "READY"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"


class LineStatus(StrEnum):
    RESERVED = "RESERVED"
    WAITING = "WAITING"
    ALLOCATED = "ALLOCATED"
    CANCELLED = "CANCELLED"
    SHIPPED = "SHIPPED"


class OrderStatus(StrEnum):
    """An order is PLACED until every line is cancelled (CANCELLED) or closed with at least
    one shipped (COMPLETED)."""

    PLACED = "PLACED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class DelayConsent(StrEnum):
    """A customer's answer to a delay beyond the store's threshold."""

    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    CANCELLED = "CANCELLED"
    DEFAULT_ACCEPTED = "DEFAULT_ACCEPTED"
    DEFAULT_CANCELLED = "DEFAULT_CANCELLED"


TRANSITIONS: dict[LineStatus, frozenset[LineStatus]] = {
    LineStatus.RESERVED: frozenset({LineStatus.SHIPPED, LineStatus.CANCELLED}),
    LineStatus.WAITING: frozenset({LineStatus.ALLOCATED, LineStatus.CANCELLED}),
    # back to WAITING when its ring-fenced units are taken back (a pause, a cancelled receipt)
    LineStatus.ALLOCATED: frozenset({LineStatus.WAITING, LineStatus.SHIPPED, LineStatus.CANCELLED}),
    LineStatus.SHIPPED: frozenset(),
    LineStatus.CANCELLED: frozenset(),
}

OPEN_STATUSES = frozenset({LineStatus.RESERVED, LineStatus.WAITING, LineStatus.ALLOCATED})
"""Statuses that still hold units in the pool the line was drawn from."""

QUEUED_STATUSES = frozenset({LineStatus.WAITING, LineStatus.ALLOCATED})
"""Statuses of a pre-order or backorder line that has not shipped: it has a promise."""


def can_transition(current: str, to: LineStatus) -> bool:
    return to in TRANSITIONS[LineStatus(current)]


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def cancellable(status: str) -> bool:
    return can_transition(status, LineStatus.CANCELLED)


def shippable(status: str, released: bool, paused: bool) -> bool:
    """READY lines ship at once; a waiting line ships when all its units are ring-fenced, its
    SKU is released and it is not paused."""
    if status == LineStatus.RESERVED:
        return True
    return status == LineStatus.ALLOCATED and released and not paused


def awaits_supply(state: str, status: str) -> bool:
    """A pre-order or backorder line that has not shipped: it is promised a window."""
    return state != LineState.READY and status in QUEUED_STATUSES


def pausable(state: str, status: str, paused: bool) -> bool:
    return awaits_supply(state, status) and not paused


def resumable(state: str, status: str, paused: bool) -> bool:
    return awaits_supply(state, status) and paused


class ShipsWhen(StrEnum):
    """When a shipment group of an order leaves."""

    NOW = "NOW"
    AT_RELEASE = "AT_RELEASE"
    WHEN_BACK_IN_STOCK = "WHEN_BACK_IN_STOCK"
    TOGETHER_WHEN_COMPLETE = "TOGETHER_WHEN_COMPLETE"


_SHIPS_WHEN = {
    LineState.READY: ShipsWhen.NOW,
    LineState.PRE_ORDER: ShipsWhen.AT_RELEASE,
    LineState.BACKORDER: ShipsWhen.WHEN_BACK_IN_STOCK,
}

STATE_ORDER = (LineState.READY, LineState.PRE_ORDER, LineState.BACKORDER)


def ships_when(states: Iterable[str]) -> ShipsWhen:
    """One state: when that state ships; several (``shipTogether``): when all are there."""
    distinct = {LineState(s) for s in states}
    if len(distinct) == 1:
        return _SHIPS_WHEN[next(iter(distinct))]
    return ShipsWhen.TOGETHER_WHEN_COMPLETE


def shipment_groups(states: Iterable[LineState], ship_together: bool) -> dict[LineState, int]:
    """Group numbers of an order's states: ready goods ship now (group 1), pre-orders and
    backorders later, each in a group of its own, numbered in that order from 1; everything
    in group 1 when the customer asked to ship together."""
    present = set(states)
    used = [s for s in STATE_ORDER if s in present]
    if ship_together:
        return dict.fromkeys(used, 1)
    return {state: n + 1 for n, state in enumerate(used)}
