"""Order placement rules: which pools a line draws from, and how much it pays when.

Pure functions over ``SkuSnapshot``: the service turns a plan into conditional updates, and
re-plans from a fresh snapshot when one of them loses a race.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from app.domain.availability import ChannelHold, Counter, PoolKind, SkuSnapshot
from app.domain.lines import LineState


class PlanErrorCode(StrEnum):
    SOLD_OUT = "SOLD_OUT"
    BACKORDER_NOT_ACCEPTED = "BACKORDER_NOT_ACCEPTED"
    PREORDER_NOT_ACCEPTED = "PREORDER_NOT_ACCEPTED"


@dataclass(frozen=True)
class LineRequest:
    index: int
    sku: str
    quantity: int
    accept_backorder: bool = True
    accept_preorder: bool = True


@dataclass(frozen=True)
class Allocation:
    """Part of a line served by one pool."""

    state: LineState
    pool: PoolKind
    quantity: int
    channel: str | None = None


@dataclass(frozen=True)
class LinePlan:
    request: LineRequest
    allocations: tuple[Allocation, ...]


@dataclass(frozen=True)
class PlanError:
    request: LineRequest
    code: PlanErrorCode
    message: str
    possible: tuple[Allocation, ...]


def plan_line(
    snapshot: SkuSnapshot, request: LineRequest, today: date, channel: str | None
) -> LinePlan | PlanError:
    """Split one line over the pools, READY first (own channel hold, then shared stock)."""
    possible: list[Allocation] = []
    remaining = request.quantity
    released = snapshot.is_released(today)
    if released:
        holds = snapshot.effective_holds()
        own = sum(h.remaining for h in holds if h.channel == channel)
        total_ready = snapshot.ready_for(channel)
        from_hold = min(remaining, own, total_ready)
        if from_hold:
            possible.append(Allocation(LineState.READY, PoolKind.CHANNEL, from_hold, channel))
            remaining -= from_hold
        from_shared = min(remaining, total_ready - from_hold)
        if from_shared:
            possible.append(Allocation(LineState.READY, PoolKind.READY, from_shared))
            remaining -= from_shared
    elif snapshot.preorder.enabled:
        take = Counter(snapshot.preorder.cap, snapshot.preorder.committed).can_take(remaining)
        if take:
            possible.append(Allocation(LineState.PRE_ORDER, PoolKind.PRE_ORDER, take))
            remaining -= take
    if remaining and snapshot.backorder.allowed:
        back = snapshot.backorder
        take = Counter(back.cap, back.committed).can_take(remaining)
        if take:
            possible.append(Allocation(LineState.BACKORDER, PoolKind.BACKORDER, take))
            remaining -= take

    if remaining:
        return PlanError(
            request,
            PlanErrorCode.SOLD_OUT,
            f"Only {request.quantity - remaining} of {request.quantity} x {request.sku} can be "
            f"ordered now{_describe(possible)}.",
            tuple(possible),
        )
    states = {a.state for a in possible}
    if LineState.BACKORDER in states and not request.accept_backorder:
        return PlanError(
            request,
            PlanErrorCode.BACKORDER_NOT_ACCEPTED,
            f"{_count(possible, LineState.BACKORDER)} x {request.sku} would be backordered; "
            "set acceptBackorder to order them.",
            tuple(possible),
        )
    if LineState.PRE_ORDER in states and not request.accept_preorder:
        return PlanError(
            request,
            PlanErrorCode.PREORDER_NOT_ACCEPTED,
            f"{request.sku} is a pre-order; set acceptPreorder to order it.",
            tuple(possible),
        )
    return LinePlan(request, tuple(possible))


def _count(allocations: list[Allocation], state: LineState) -> int:
    return sum(a.quantity for a in allocations if a.state is state)


def _describe(allocations: list[Allocation]) -> str:
    parts = []
    for state, label in (
        (LineState.READY, "in stock"),
        (LineState.PRE_ORDER, "pre-order"),
        (LineState.BACKORDER, "backorder"),
    ):
        n = _count(allocations, state)
        if n:
            parts.append(f"{n} {label}")
    return f" ({' + '.join(parts)})" if parts else ""


def consume(snapshot: SkuSnapshot, plan: LinePlan) -> SkuSnapshot:
    """The snapshot after ``plan`` is reserved: the next line of the same SKU sees less."""
    ready = snapshot.ready_committed
    holds = list(snapshot.channel_holds)
    pre = snapshot.preorder.committed
    back = snapshot.backorder.committed
    for a in plan.allocations:
        if a.pool is PoolKind.READY:
            ready += a.quantity
        elif a.pool is PoolKind.CHANNEL:
            holds = [
                ChannelHold(h.channel, h.hold, h.committed + a.quantity)
                if h.channel == a.channel
                else h
                for h in holds
            ]
        elif a.pool is PoolKind.PRE_ORDER:
            pre += a.quantity
        elif a.pool is PoolKind.BACKORDER:
            back += a.quantity
    return replace(
        snapshot,
        ready_committed=ready,
        channel_holds=tuple(holds),
        preorder=replace(snapshot.preorder, committed=pre),
        backorder=replace(snapshot.backorder, committed=back),
    )


def order_tags(
    states: Iterable[LineState], limited_run: bool, channel_priority: bool
) -> frozenset[str]:
    """The tags an order gets at placement: PREORDER and BACKORDER when it has such lines,
    LIMITED_RUN when any of its products is one, PRIORITY when its channel is a priority
    channel. (A priority customer adds PRIORITY too: that is known only to the database,
    at the write, and only trusted callers may claim a customer; see placement.)"""
    present = set(states)
    tags = set()
    if LineState.PRE_ORDER in present:
        tags.add("PREORDER")
    if LineState.BACKORDER in present:
        tags.add("BACKORDER")
    if limited_run:
        tags.add("LIMITED_RUN")
    if channel_priority:
        tags.add("PRIORITY")
    return frozenset(tags)


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: trimmed, upper case, no blanks, no duplicates, sorted."""
    return sorted({t.strip().upper() for t in tags if t.strip()})


# ---------------------------------------------------------------- what one order may take


@dataclass(frozen=True)
class UnitLimits:
    """A channel's limits: units on one order line, and units of one SKU that one customer
    may have on open orders (not cancelled, not shipped) on the channel, this order's
    included."""

    per_line: int
    per_customer_sku: int


@dataclass(frozen=True)
class LineRefusal:
    """Why the order's line ``index`` is refused."""

    index: int
    message: str


def limit_refusals(
    lines: Sequence[tuple[str, int]], open_units: Mapping[str, int], limits: UnitLimits
) -> list[LineRefusal]:
    """The lines (``(sku, quantity)`` in order) that pass the channel's limits: a line above
    the per-line limit, and for each SKU the line at which the customer's open units plus this
    order's pass the per-customer limit (once per SKU)."""
    refusals: list[LineRefusal] = []
    taken = dict(open_units)
    for index, (sku, quantity) in enumerate(lines):
        if quantity > limits.per_line:
            refusals.append(
                LineRefusal(index, f"At most {limits.per_line} units per line on this channel.")
            )
            continue
        before = taken.get(sku, 0)
        taken[sku] = before + quantity
        if before <= limits.per_customer_sku < taken[sku]:
            held = open_units.get(sku, 0)
            refusals.append(
                LineRefusal(
                    index,
                    f"At most {limits.per_customer_sku} units of {sku} per customer on this "
                    f"channel, open orders included ({held} already).",
                )
            )
    return refusals


def amount_refusals(lines: Sequence[tuple[int, int]], largest: int) -> list[LineRefusal]:
    """The lines (``(quantity, unit price)`` in order) at which a line's amount or the
    order's running total passes ``largest`` (the biggest amount stored: 64 bits)."""
    total = 0
    for index, (quantity, price) in enumerate(lines):
        amount = quantity * price
        total += amount
        if amount > largest or total > largest:
            return [LineRefusal(index, f"The order's total would pass {largest} minor units.")]
    return []
