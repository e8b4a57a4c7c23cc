"""Availability states, pools and the PDP answer for one SKU.

A SKU is sold as READY stock, as a PRE-ORDER (not released yet: a cap that never draws on
on-hand stock) or as a BACKORDER (released, out of stock, waiting for supply). This module
decides which, for how many units, and how a larger request would be split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum


class AvailabilityState(StrEnum):
    IN_STOCK = "IN_STOCK"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"
    SOLD_OUT = "SOLD_OUT"


class PoolKind(StrEnum):
    READY = "READY"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"
    RESERVED = "RESERVED"
    CHANNEL = "CHANNEL"


class PaymentTerms(StrEnum):
    FULL = "FULL"  # capture everything at order
    DEPOSIT = "DEPOSIT"  # deposit now, balance at dispatch
    AUTHORIZE = "AUTHORIZE"  # authorize now, capture at dispatch


MAX_UNITS = 100_000_000
"""Upper bound for any unit count: stock, deltas, caps, safety stock, holds, order quantities.

Far above any real SKU, far below PostgreSQL's ``int`` range, so sums of counters stay in it.
"""

BUTTON_LABELS: dict[AvailabilityState, str] = {
    AvailabilityState.IN_STOCK: "Add to cart",
    AvailabilityState.PRE_ORDER: "Pre-order",
    AvailabilityState.BACKORDER: "Backorder",
    AvailabilityState.SOLD_OUT: "Sold out",
}


@dataclass(frozen=True)
class Counter:
    """A capped counter: ``capacity`` None means unlimited."""

    capacity: int | None
    committed: int = 0

    @property
    def available(self) -> int | None:
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.committed)

    def can_take(self, quantity: int) -> int:
        """How many of ``quantity`` units fit (all of them when unlimited)."""
        available = self.available
        return quantity if available is None else min(quantity, available)


@dataclass(frozen=True)
class ChannelHold:
    """READY stock held for one channel: ``hold`` units set aside, ``committed`` sold from it."""

    channel: str
    hold: int
    committed: int = 0

    @property
    def set_aside(self) -> int:
        return max(self.hold, self.committed)

    @property
    def remaining(self) -> int:
        return max(0, self.hold - self.committed)


@dataclass(frozen=True)
class PreorderPolicy:
    enabled: bool = False
    cap: int | None = None
    committed: int = 0
    message_template: str | None = None
    payment: PaymentTerms = PaymentTerms.FULL


@dataclass(frozen=True)
class BackorderPolicy:
    allowed: bool = False
    cap: int | None = None
    committed: int = 0
    message_template: str | None = None
    payment: PaymentTerms = PaymentTerms.FULL


@dataclass(frozen=True)
class SkuSnapshot:
    """Everything the rules need to know about one SKU at one moment."""

    sku: str
    release_date: date | None
    on_hand: int
    safety_stock: int = 0
    ready_committed: int = 0
    reserved: int = 0
    incoming: int = 0
    channel_holds: tuple[ChannelHold, ...] = ()
    preorder: PreorderPolicy = field(default_factory=PreorderPolicy)
    backorder: BackorderPolicy = field(default_factory=BackorderPolicy)
    launch_pending: bool = False
    """The release date has come but the release job has not yet served the waiting
    pre-orders: until it has, nothing is sold as READY ahead of them."""

    def is_released(self, today: date) -> bool:
        """Released on its release date (store time zone). A pre-order without a date waits."""
        if self.release_date is None:
            return not self.preorder.enabled
        return self.release_date <= today and not self.launch_pending

    @property
    def sellable(self) -> int:
        """Units that may be sold as READY at all: on hand less safety stock and ring-fenced."""
        return max(0, self.on_hand - self.safety_stock - self.reserved)

    def effective_holds(self) -> tuple[ChannelHold, ...]:
        """Holds clamped, in order, to the sellable stock left after the holds before them."""
        room = self.sellable
        clamped: list[ChannelHold] = []
        for hold in self.channel_holds:
            size = min(hold.hold, max(0, room))
            room -= size
            clamped.append(ChannelHold(hold.channel, size, hold.committed))
        return tuple(clamped)

    @property
    def shared_capacity(self) -> int:
        """READY stock not held for any channel."""
        return max(0, self.sellable - sum(h.set_aside for h in self.effective_holds()))

    def ready_for(self, channel: str | None) -> int:
        """READY units this channel can still sell: the shared part plus its own hold.

        Never more than the sellable stock not yet committed anywhere, even when stock has
        shrunk below what was already sold.
        """
        holds = self.effective_holds()
        shared = max(0, self.shared_capacity - self.ready_committed)
        own = sum(h.remaining for h in holds if h.channel == channel)
        committed = self.ready_committed + sum(h.committed for h in holds)
        return min(shared + own, max(0, self.sellable - committed))


@dataclass(frozen=True)
class SplitPart:
    state: AvailabilityState
    quantity: int


@dataclass(frozen=True)
class Resolution:
    """The answer for ``requested`` units: headline state and how they would be split."""

    state: AvailabilityState
    requested: int
    available_quantity: int | None  # None: unlimited (an uncapped pre-order or backorder)
    split: tuple[SplitPart, ...]
    cap_remaining: int | None
    released: bool
    fulfillable: bool

    @property
    def button_label(self) -> str:
        return BUTTON_LABELS[self.state]


def resolve(
    snapshot: SkuSnapshot, quantity: int, today: date, channel: str | None = None
) -> Resolution:
    """Decide the state for ``quantity`` units of a SKU on ``today`` for ``channel``.

    - not released, pre-order enabled: PRE_ORDER under the cap; beyond it BACKORDER when
      allowed, else SOLD_OUT. Stock on hand before release is not sold as READY.
    - released: READY units first; the rest BACKORDER when allowed and under its cap.
    - the headline state covers the whole request; when it cannot be covered the state is
      SOLD_OUT and ``split`` still says what is possible.
    """
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    released = snapshot.is_released(today)
    if not released and not snapshot.preorder.enabled:
        return Resolution(AvailabilityState.SOLD_OUT, quantity, 0, (), 0, released, False)
    preorder = Counter(snapshot.preorder.cap, snapshot.preorder.committed)
    backorder = Counter(snapshot.backorder.cap, snapshot.backorder.committed)
    parts: list[SplitPart] = []
    remaining = quantity

    first_state, first_take = (
        (AvailabilityState.IN_STOCK, min(remaining, snapshot.ready_for(channel)))
        if released
        else (AvailabilityState.PRE_ORDER, preorder.can_take(remaining))
    )
    if first_take:
        parts.append(SplitPart(first_state, first_take))
        remaining -= first_take
    if remaining and snapshot.backorder.allowed:
        take = backorder.can_take(remaining)
        if take:
            parts.append(SplitPart(AvailabilityState.BACKORDER, take))
            remaining -= take

    if remaining:
        state = AvailabilityState.SOLD_OUT
    elif any(p.state is AvailabilityState.BACKORDER for p in parts):
        state = AvailabilityState.BACKORDER
    else:
        state = first_state
    cap_remaining: int | None = {
        AvailabilityState.PRE_ORDER: preorder.available,
        AvailabilityState.BACKORDER: backorder.available,
        AvailabilityState.IN_STOCK: None,
        AvailabilityState.SOLD_OUT: 0,
    }[state]
    available = _max_possible(snapshot, channel, released)
    return Resolution(
        state, quantity, available, tuple(parts), cap_remaining, released, remaining == 0
    )


def _max_possible(snapshot: SkuSnapshot, channel: str | None, released: bool) -> int | None:
    """All units one could buy now, in every state; None when a cap is unlimited."""
    counters: list[int | None] = []
    if released:
        counters.append(snapshot.ready_for(channel))
    elif snapshot.preorder.enabled:
        counters.append(Counter(snapshot.preorder.cap, snapshot.preorder.committed).available)
    if snapshot.backorder.allowed:
        counters.append(Counter(snapshot.backorder.cap, snapshot.backorder.committed).available)
    if any(c is None for c in counters):
        return None
    return sum(c for c in counters if c is not None)


@dataclass(frozen=True)
class PoolView:
    kind: PoolKind
    capacity: int | None
    committed: int
    available: int | None
    channel: str | None = None
    incoming: int | None = None


def pool_views(snapshot: SkuSnapshot, today: date) -> list[PoolView]:
    """The five kinds of pool as ops see them. Counters come from ledger-consistent rows."""
    released = snapshot.is_released(today)
    shared = snapshot.shared_capacity
    ready_capacity = shared if released else 0
    views = [
        PoolView(
            PoolKind.READY,
            ready_capacity,
            snapshot.ready_committed,
            max(0, ready_capacity - snapshot.ready_committed),
        ),
        PoolView(
            PoolKind.PRE_ORDER,
            snapshot.preorder.cap if snapshot.preorder.enabled else 0,
            snapshot.preorder.committed,
            Counter(
                snapshot.preorder.cap if snapshot.preorder.enabled else 0,
                snapshot.preorder.committed,
            ).available,
        ),
        PoolView(
            PoolKind.BACKORDER,
            snapshot.backorder.cap if snapshot.backorder.allowed else 0,
            snapshot.backorder.committed,
            Counter(
                snapshot.backorder.cap if snapshot.backorder.allowed else 0,
                snapshot.backorder.committed,
            ).available,
            incoming=snapshot.incoming,
        ),
        PoolView(PoolKind.RESERVED, None, snapshot.reserved, None),
    ]
    for hold in snapshot.effective_holds():
        views.append(
            PoolView(
                PoolKind.CHANNEL,
                hold.hold if released else 0,
                hold.committed,
                hold.remaining if released else 0,
                channel=hold.channel,
            )
        )
    return views


def render_message(template: str, release_date: date | None, today: date) -> str:
    """``"Ships from {date}"`` → ``"Ships from 1 July"`` (the year is added when not this one)."""
    if release_date is None:
        return template.replace("from {date}", "soon").replace("{date}", "soon")
    return template.replace("{date}", format_day(release_date, today))


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_day(day: date, today: date | None = None) -> str:
    text = f"{day.day} {MONTHS[day.month - 1]}"
    if today is not None and day.year != today.year:
        text += f" {day.year}"
    return text


DEFAULT_MESSAGES: dict[AvailabilityState, str] = {
    AvailabilityState.IN_STOCK: "In stock",
    AvailabilityState.PRE_ORDER: "Pre-order: ships from {date}",
    AvailabilityState.BACKORDER: "Backorder: ships when back in stock",
    AvailabilityState.SOLD_OUT: "Sold out",
}


@dataclass(frozen=True)
class DateWindow:
    earliest: date
    latest: date


def ready_delivery_window(
    today: date, handling_days: int, transit_min_days: int, transit_max_days: int
) -> DateWindow:
    """READY stock: handling, then transit for the region."""
    start = today + timedelta(days=handling_days)
    return DateWindow(
        start + timedelta(days=transit_min_days), start + timedelta(days=transit_max_days)
    )


def release_delivery_window(
    release_date: date, today: date, handling_days: int, transit_min: int, transit_max: int
) -> DateWindow:
    """PRE_ORDER: from the release date (or today when it has passed), then as READY."""
    return ready_delivery_window(max(release_date, today), handling_days, transit_min, transit_max)
