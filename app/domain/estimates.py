"""Delivery estimates for waiting lines, available-to-promise and promise accuracy.

A waiting line (a PRE-ORDER or BACKORDER not yet allocated stock) is served in FIFO order from
the cumulative supply schedule: stock on hand today, purchase orders on their expected dates and
production runs day by day. The line ships when cumulative supply reaches its last unit
(``units_ahead + quantity``); handling and transit turn that day into a delivery window, widened
by a slack that grows with how uncertain the covering supply is, and started earlier when its
supplier's history shows deliveries ahead of time.

Because lines are matched to supply cumulatively in date order, supply that arrives earlier (or a
new, earlier PO) moves the earliest-queued lines to it and never makes any promise later.

Pure functions, no I/O. The rules are described in ``docs/estimates.md``.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from itertools import groupby
from typing import NamedTuple

from app.domain.availability import DateWindow

# Supply further out than this (from today) is not counted: a date that far away is no promise,
# and it bounds how far a production run is expanded day by day.
PLANNING_HORIZON_DAYS = 3660

# Slack (days added to the latest date) by supply kind and history.
PO_HISTORY_SLACK_SCALE_DAYS = 14  # ceil(14 * (1 - on_time_rate)): 100 % → 0, 90 % → 2, 50 % → 7
PO_UNKNOWN_HISTORY_SLACK_DAYS = 5  # no supplier history
PRODUCTION_RUN_SLACK_DAYS = 2  # output can lag a day or two, plus the history part when known
SLACK_PER_SLIP_DAYS = 3  # every time the supply's ETA was moved later
# With enough observed lateness (days from the first expected date to the day it came, the
# supplier's recent receipts; negative: early), the window follows that history on both
# sides instead of the on-time rate's fixed scale: its latest date covers the 95 % late side,
# its earliest date the 5 % early side. A supplier that is rarely late but then by two weeks
# needs more than 1 day, one that is often a day late needs no week, one that sometimes
# delivers two days early starts its windows two days earlier (docs/simulation.md measured
# each). The bounds are order statistics of rank ceil(q (n + 1)) (late side) and
# floor((1 - q) (n + 1)) (early side) of the n receipts: the next delivery falls beyond one
# with a chance of at most 1 - q, however few receipts there are (the small-sample
# correction: the plain nearest rank, ceil(q n), covered 95 % of the receipts seen, not of
# the next ones, and left a supplier's 8 % tail out half of the time).
LATENESS_QUANTILE = 0.95  # the late side: latest date
EARLINESS_QUANTILE = 0.95  # the early side: earliest date (deliveries earlier than it: < 5 %)
MIN_LATENESS_HISTORY = 5  # fewer receipts: the on-time rate's rule, and no early side
# The most recent receipts kept per supplier (app.storage). Below 39 the bounds are the extremes
# of what was seen; 20 left a 1-in-12 tail unseen one time in five (0.92 ** 20), 40 one time in
# thirty, and from 39 receipts on one freak delivery no longer sets the bound on its own.
LATENESS_HISTORY_SIZE = 40

# Confidence score (0..1) by supply kind and history.
PO_UNKNOWN_HISTORY_SCORE = 0.7
PRODUCTION_RUN_MAX_SCORE = 0.85  # a run is somewhat less certain than a reliable PO
SLIP_SCORE_FACTOR = 0.8  # every slip multiplies the score by this
MIN_SUPPLY_SCORE = 0.05  # a scheduled supply is never worth nothing (that is Confidence.NONE)
HIGH_CONFIDENCE_SCORE = 0.9
MEDIUM_CONFIDENCE_SCORE = 0.6

# available_to_promise lists a production run once per this many days of output (and its end).
ATP_RUN_STEP_DAYS = 7

DEFAULT_ACCURACY_TARGET_PERCENT = 5.0


class SupplyKind(StrEnum):
    ON_HAND = "ON_HAND"
    PURCHASE_ORDER = "PURCHASE_ORDER"
    PRODUCTION_RUN = "PRODUCTION_RUN"


class PromiseCause(StrEnum):
    """What made a line's promise (or its ring-fenced units) change."""

    PLACED = "PLACED"
    RECEIPT = "RECEIPT"
    SUPPLY_ADDED = "SUPPLY_ADDED"
    SUPPLY_SLIPPED = "SUPPLY_SLIPPED"
    SUPPLY_PULLED_IN = "SUPPLY_PULLED_IN"
    SUPPLY_CANCELLED = "SUPPLY_CANCELLED"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    CANCELLATION = "CANCELLATION"
    RELEASE = "RELEASE"
    STOCK_CHANGE = "STOCK_CHANGE"
    DISPATCH = "DISPATCH"
    POLICY_CHANGED = "POLICY_CHANGED"
    PRIORITY_CHANGED = "PRIORITY_CHANGED"
    CONSOLIDATION = "CONSOLIDATION"  # the line ships with a later line of its shipment


class Confidence(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    NONE = "NONE"


@dataclass(frozen=True)
class SupplySource:
    """Supply still to come (or on hand) for one SKU.

    ``quantity`` is what is still expected; zero or less means nothing more (an over-receipt)
    and the source is ignored. ``expected_on`` is the arrival date of a PO, the first output day
    of a production run (day 1 yields ``units_per_day``) and is ignored for stock on hand, which
    is available today. A run with ``units_per_day`` 0 delivers everything on ``expected_on``.
    """

    supply_id: str | None
    kind: SupplyKind
    quantity: int
    expected_on: date
    units_per_day: int = 0
    on_time_rate: float | None = None
    slips: int = 0
    # days from the first expected date to the day each of the supplier's recent receipts
    # came (negative: early), in any order
    lateness_history: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.units_per_day < 0:
            raise ValueError("units_per_day must not be negative")
        if self.slips < 0:
            raise ValueError("slips must not be negative")
        if self.on_time_rate is not None and not 0.0 <= self.on_time_rate <= 1.0:
            raise ValueError("on_time_rate must be between 0 and 1")


@dataclass(frozen=True)
class Handling:
    """Days to pick and pack, then the carrier service's transit range for the region."""

    handling_days: int
    transit_min_days: int
    transit_max_days: int

    def __post_init__(self) -> None:
        if min(self.handling_days, self.transit_min_days, self.transit_max_days) < 0:
            raise ValueError("handling and transit days must not be negative")
        if self.transit_min_days > self.transit_max_days:
            raise ValueError("transit_min_days must not exceed transit_max_days")


@dataclass(frozen=True)
class Estimate:
    """When a line should arrive: ``earliest``..``latest``, or no dates and a ``reason``."""

    earliest: date | None
    latest: date | None
    confidence: Confidence
    score: float
    reason: str | None
    supply_id: str | None  # the supply covering the line's last unit (None: on hand / no date)
    ship_from: date | None  # the day the last unit is available to ship
    slack_days: int = 0  # days added to the latest date for supply uncertainty
    early_days: int = 0  # days the earliest date is before ship_from: the supply may come early

    @property
    def window(self) -> DateWindow | None:
        if self.earliest is None or self.latest is None:
            return None
        return DateWindow(self.earliest, self.latest)


@dataclass(frozen=True)
class QueuedLine:
    """A waiting line: ``units_ahead`` unallocated units before it (FIFO), ``quantity`` to serve."""

    units_ahead: int
    quantity: int

    def __post_init__(self) -> None:
        if self.units_ahead < 0 or self.quantity < 0:
            raise ValueError("units_ahead and quantity must not be negative")


@dataclass(frozen=True)
class Accuracy:
    delivered_lines: int
    on_time_lines: int
    average_deviation_percent: float
    meets_target: bool
    target_percent: float = DEFAULT_ACCURACY_TARGET_PERCENT


# --- the supply schedule ---------------------------------------------------------------------

_KIND_RANK = {SupplyKind.ON_HAND: 0, SupplyKind.PURCHASE_ORDER: 1, SupplyKind.PRODUCTION_RUN: 2}


class _Bucket(NamedTuple):
    day: date
    rank: int  # on hand, then POs, then runs on the same day
    source_index: int  # position in the caller's sources: ties keep the caller's order
    quantity: int
    checkpoint: bool  # False for a run day available_to_promise may fold into a later entry


def _bucket_key(bucket: _Bucket) -> tuple[date, int, int]:
    return bucket.day, bucket.rank, bucket.source_index


def _first_day(source: SupplySource, today: date) -> date:
    """The first day a source yields: today for stock on hand and for anything dated earlier."""
    if source.kind is SupplyKind.ON_HAND:
        return today
    return max(source.expected_on, today)


def _source_buckets(
    source: SupplySource, index: int, today: date, horizon: date
) -> Iterator[_Bucket]:
    if source.quantity <= 0:
        return
    start = _first_day(source, today)
    rank = _KIND_RANK[source.kind]
    if source.kind is not SupplyKind.PRODUCTION_RUN or source.units_per_day <= 0:
        if start <= horizon:
            yield _Bucket(start, rank, index, source.quantity, True)
        return
    remaining = source.quantity
    day = start
    offset = 0
    while remaining > 0 and day <= horizon:
        quantity = min(source.units_per_day, remaining)
        remaining -= quantity
        checkpoint = remaining == 0 or offset % ATP_RUN_STEP_DAYS == ATP_RUN_STEP_DAYS - 1
        yield _Bucket(day, rank, index, quantity, checkpoint or day == horizon)
        day += timedelta(days=1)
        offset += 1


def _buckets(sources: Sequence[SupplySource], today: date) -> Iterator[_Bucket]:
    """All supply as daily buckets in date order, generated lazily (runs one day at a time)."""
    horizon = today + timedelta(days=PLANNING_HORIZON_DAYS)
    streams = [_source_buckets(s, i, today, horizon) for i, s in enumerate(sources)]
    return heapq.merge(*streams, key=_bucket_key)


def supply_schedule(
    sources: Sequence[SupplySource], today: date, until_units: int | None = None
) -> list[tuple[date, int, SupplySource]]:
    """Supply as ``(day, quantity, source)`` buckets in date order, ready to be accumulated.

    Stock on hand comes first, on today. A PO arrives on its expected date; one expected in the
    past but not received yet counts as arriving today. A production run yields
    ``units_per_day`` a day from ``max(expected_on, today)`` (``quantity`` is what is left, so a
    run that started in the past only yields its remainder), the last day partial. Within a day:
    on hand, then POs, then runs, each in the order given. Supply beyond the planning horizon is
    left out. With ``until_units``, the list stops at the bucket where the cumulative quantity
    reaches it.
    """
    schedule: list[tuple[date, int, SupplySource]] = []
    total = 0
    for bucket in _buckets(sources, today):
        if until_units is not None and total >= until_units:
            break
        schedule.append((bucket.day, bucket.quantity, sources[bucket.source_index]))
        total += bucket.quantity
    return schedule


# --- slack and confidence --------------------------------------------------------------------


def _effective_slips(source: SupplySource, today: date) -> int:
    """A PO already overdue (expected before today, not received) counts as one more slip."""
    overdue = source.kind is SupplyKind.PURCHASE_ORDER and source.expected_on < today
    return source.slips + (1 if overdue else 0)


def _rate_days(on_time_rate: float) -> int:
    # The tiny epsilon keeps float noise (1 - 0.8 = 0.19999…) from adding a day.
    return math.ceil(PO_HISTORY_SLACK_SCALE_DAYS * (1.0 - on_time_rate) - 1e-9)


def lateness_quantile(history: Sequence[int], quantile: float = LATENESS_QUANTILE) -> int:
    """Days late the next delivery stays within with a chance of at least ``quantile``, from
    the observed lateness (early counts as 0): the order statistic of rank
    ``ceil(quantile * (n + 1))`` of the n observations (at most the latest of them). The next
    delivery of a supplier delivering alike ranks anywhere among the n + 1 with the same
    chance, so it comes after that one with a chance of at most ``1 - quantile``."""
    return _next_bound([max(0, days) for days in history], quantile)


def earliness_quantile(history: Sequence[int], quantile: float = EARLINESS_QUANTILE) -> int:
    """Days early the next delivery stays within with a chance of at least ``quantile``, from
    the observed lateness (late counts as 0): the same bound over days early, i.e. the order
    statistic of rank ``floor((1 - quantile) * (n + 1))`` from the early end (at most the
    earliest of them)."""
    return _next_bound([max(0, -days) for days in history], quantile)


def _next_bound(days: Sequence[int], quantile: float) -> int:
    """The order statistic of rank ``ceil(quantile * (n + 1))`` of the n ``days`` (at most the
    largest; 0 without any)."""
    if not days:
        return 0
    ordered = sorted(days)
    rank = min(len(ordered), max(1, math.ceil(quantile * (len(ordered) + 1) - 1e-9)))
    return ordered[rank - 1]


def _history_days(source: SupplySource) -> int | None:
    """The history part of the slack: the lateness quantile once enough receipts are known,
    else the on-time rate's scale, else None (no history)."""
    if len(source.lateness_history) >= MIN_LATENESS_HISTORY:
        return lateness_quantile(source.lateness_history, LATENESS_QUANTILE)
    if source.on_time_rate is not None:
        return _rate_days(source.on_time_rate)
    return None


def early_days(source: SupplySource) -> int:
    """Days the earliest date starts before the supply's date: the early side of the
    supplier's lateness history once enough receipts are known, else 0 (stock on hand: 0)."""
    if source.kind is SupplyKind.ON_HAND or len(source.lateness_history) < MIN_LATENESS_HISTORY:
        return 0
    return earliness_quantile(source.lateness_history, EARLINESS_QUANTILE)


def slack_days(source: SupplySource, today: date) -> int:
    """Days added to the latest date when ``source`` covers a line's last unit.

    - on hand: 0;
    - PO: the history part (5 without history), + 3 per slip;
    - production run: 2, + the history part when known, + 3 per slip;
    - the history part: the 95 % bound of the supplier's observed lateness
      (``lateness_quantile``) with at least 5 receipts observed, else
      ``ceil(14 * (1 - on_time_rate))``;
    - a PO expected before today and not received counts as one more slip.
    """
    if source.kind is SupplyKind.ON_HAND:
        return 0
    history = _history_days(source)
    if source.kind is SupplyKind.PURCHASE_ORDER:
        base = PO_UNKNOWN_HISTORY_SLACK_DAYS if history is None else history
    else:
        base = PRODUCTION_RUN_SLACK_DAYS + (history or 0)
    return base + SLACK_PER_SLIP_DAYS * _effective_slips(source, today)


def supply_score(source: SupplySource, today: date) -> float:
    """How sure the supply is, 0..1.

    - on hand: 1.0;
    - PO: its on-time rate (0.7 without history);
    - production run: 0.85, or its on-time rate when known and lower;
    - * 0.8 per slip (an overdue PO counts as one more), never below 0.05.
    """
    if source.kind is SupplyKind.ON_HAND:
        return 1.0
    rate = source.on_time_rate
    if source.kind is SupplyKind.PURCHASE_ORDER:
        base = PO_UNKNOWN_HISTORY_SCORE if rate is None else rate
    else:
        base = PRODUCTION_RUN_MAX_SCORE if rate is None else min(PRODUCTION_RUN_MAX_SCORE, rate)
    score = base * SLIP_SCORE_FACTOR ** _effective_slips(source, today)
    return round(max(MIN_SUPPLY_SCORE, score), 4)


def confidence_for(score: float) -> Confidence:
    """HIGH from 0.9, MEDIUM from 0.6, LOW above 0, NONE at 0 (no supply)."""
    if score >= HIGH_CONFIDENCE_SCORE:
        return Confidence.HIGH
    if score >= MEDIUM_CONFIDENCE_SCORE:
        return Confidence.MEDIUM
    if score > 0:
        return Confidence.LOW
    return Confidence.NONE


# --- estimates -------------------------------------------------------------------------------


def _units(count: int) -> str:
    return f"{count} unit" if count == 1 else f"{count} units"


def no_supply_reason(units_ahead: int, quantity: int, scheduled: int) -> str:
    """Why a line has no date: how much supply there is against what it needs."""
    if scheduled <= 0:
        if units_ahead == 0:
            return f"No supply is scheduled for this line's {_units(quantity)}."
        return (
            f"No supply is scheduled for the {_units(units_ahead)} ahead of this line "
            f"and its {_units(quantity)}."
        )
    if scheduled <= units_ahead:
        return (
            f"Scheduled supply of {_units(scheduled)} covers only {scheduled} of the "
            f"{_units(units_ahead)} ahead of this line; none is scheduled for its "
            f"{_units(quantity)}."
        )
    covered = scheduled - units_ahead
    if units_ahead:
        part = f"the {_units(units_ahead)} ahead of this line and {covered} of its"
    else:
        part = f"{covered} of this line's"
    return (
        f"Scheduled supply of {_units(scheduled)} covers {part} {_units(quantity)}; "
        f"none is scheduled for the other {quantity - covered}."
    )


def _dated(
    supply_day: date,
    source: SupplySource | None,
    today: date,
    handling: Handling,
    release_date: date | None,
) -> Estimate:
    ship_from = max(supply_day, today)
    if release_date is not None:
        ship_from = max(ship_from, release_date)
    if source is None:
        slack, early, score, supply_id = 0, 0, 1.0, None
    else:
        slack, score = slack_days(source, today), supply_score(source, today)
        early, supply_id = early_days(source), source.supply_id
    # The slack is on the supply's date: a launch later than that absorbs part or all of it.
    latest_ship = max(ship_from, supply_day + timedelta(days=slack))
    # So is the early side: supply may come early, but nothing ships before today or launch.
    earliest_ship = max(supply_day - timedelta(days=early), today)
    if release_date is not None:
        earliest_ship = max(earliest_ship, release_date)
    return Estimate(
        earliest=earliest_ship + timedelta(days=handling.handling_days + handling.transit_min_days),
        latest=latest_ship + timedelta(days=handling.handling_days + handling.transit_max_days),
        confidence=confidence_for(score),
        score=score,
        reason=None,
        supply_id=supply_id,
        ship_from=ship_from,
        slack_days=(latest_ship - ship_from).days,
        early_days=(ship_from - earliest_ship).days,
    )


def _undated(line: QueuedLine, scheduled: int) -> Estimate:
    return Estimate(
        earliest=None,
        latest=None,
        confidence=Confidence.NONE,
        score=0.0,
        reason=no_supply_reason(line.units_ahead, line.quantity, scheduled),
        supply_id=None,
        ship_from=None,
    )


def estimate_queue(
    lines: Sequence[QueuedLine],
    sources: Sequence[SupplySource],
    today: date,
    handling: Handling,
    release_date: date | None = None,
) -> list[Estimate]:
    """One estimate per line, in the order given.

    A line is served by the bucket where cumulative supply first reaches its last unit
    (``units_ahead + quantity``): it ships from that bucket's day (never before today nor
    ``release_date``); ``earliest`` starts the covering supply's early side before that day
    (never before today nor ``release_date``) and adds handling and minimum transit,
    ``latest`` adds the covering supply's slack, handling and maximum transit. A line with
    nothing left to serve (``quantity`` 0) ships as if on hand. A line beyond all scheduled
    supply gets no dates, confidence NONE and a ``reason``.

    Linear in lines plus the supply buckets needed when lines come in queue order (the supply
    is expanded lazily, only as far as the furthest line); any order is still answered right.
    """
    stream = _buckets(sources, today)
    cumulative: list[int] = []  # cumulative[i]: units supplied up to and including bucket i
    consumed: list[_Bucket] = []
    total = 0
    exhausted = False
    position = 0  # the bucket that served the previous line
    estimates: list[Estimate] = []
    # Estimates are immutable and depend only on (day, source): lines served by the same
    # bucket share one object (a SKU's queue of thousands maps to a few supply dates).
    dated: dict[tuple[date, int], Estimate] = {}
    for line in lines:
        if line.quantity == 0:
            key = (today, -1)
            if key not in dated:
                dated[key] = _dated(today, None, today, handling, release_date)
            estimates.append(dated[key])
            continue
        target = line.units_ahead + line.quantity
        while total < target and not exhausted:
            bucket = next(stream, None)
            if bucket is None:
                exhausted = True
                break
            total += bucket.quantity
            cumulative.append(total)
            consumed.append(bucket)
        if total < target:
            estimates.append(_undated(line, total))
            continue
        if position > 0 and cumulative[position - 1] >= target:
            position = bisect_left(cumulative, target, 0, position)  # out of queue order
        while cumulative[position] < target:
            position += 1
        covering = consumed[position]
        key = (covering.day, covering.source_index)
        estimate = dated.get(key)
        if estimate is None:
            source = sources[covering.source_index]
            on_hand = source.kind is SupplyKind.ON_HAND
            estimate = _dated(
                covering.day, None if on_hand else source, today, handling, release_date
            )
            dated[key] = estimate
        estimates.append(estimate)
    return estimates


def estimate_line(
    units_ahead: int,
    quantity: int,
    sources: Sequence[SupplySource],
    today: date,
    handling: Handling,
    release_date: date | None = None,
) -> Estimate:
    """The estimate for one waiting line (see ``estimate_queue``)."""
    line = QueuedLine(units_ahead, quantity)
    return estimate_queue([line], sources, today, handling, release_date)[0]


def next_customer_estimate(
    waiting_units: int,
    quantity: int,
    sources: Sequence[SupplySource],
    today: date,
    handling: Handling,
    release_date: date | None = None,
) -> Estimate:
    """What a new customer asking for ``quantity`` would be promised now: behind all
    ``waiting_units`` of unallocated waiting demand."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    return estimate_line(waiting_units, quantity, sources, today, handling, release_date)


# --- available to promise --------------------------------------------------------------------


def available_to_promise(
    free_now: int,
    sources: Sequence[SupplySource],
    waiting_units: int,
    today: date,
    cap_remaining: int | None = None,
    release_date: date | None = None,
) -> list[tuple[date, int]]:
    """Cumulative units that new demand can still be promised by each date.

    ``free_now`` is sellable today (already net of waiting demand). ``sources`` are the
    supply not counted in it: ON_HAND stock held back (e.g. for pre-orders before launch),
    POs and production runs. They first serve ``waiting_units`` (FIFO, earliest supply
    first); what is left adds to the promisable quantity on its day, bounded by
    ``cap_remaining`` (beyond ``free_now``) when given. Nothing is dated before
    ``release_date``. The first entry is on today (or the release date): ``free_now`` plus
    whatever supply due by then is left over; then one entry per date the quantity grows. A
    production run is listed once per 7 days of output and on its last day (the quantity is
    exact on those dates and understated, never overstated, between them). Dates are
    availability dates, before handling and transit.
    """
    if free_now < 0 or waiting_units < 0:
        raise ValueError("free_now and waiting_units must not be negative")
    if cap_remaining is not None and cap_remaining < 0:
        raise ValueError("cap_remaining must not be negative")
    start = today if release_date is None else max(today, release_date)
    entries: list[tuple[date, int]] = [(start, free_now)]
    if cap_remaining == 0:
        return entries
    to_serve = waiting_units
    extra = 0
    for day, group in groupby(_buckets(sources, today), key=lambda b: b.day):
        checkpoint = day == start  # exact on the release date, even mid-week in a run
        for bucket in group:
            served = min(bucket.quantity, to_serve)
            to_serve -= served
            extra += bucket.quantity - served
            checkpoint = checkpoint or bucket.checkpoint
        if not checkpoint:
            continue
        promisable = free_now + (extra if cap_remaining is None else min(extra, cap_remaining))
        if promisable > entries[-1][1]:
            when = max(day, start)
            if when == entries[-1][0]:
                entries[-1] = (when, promisable)
            else:
                entries.append((when, promisable))
        if cap_remaining is not None and extra >= cap_remaining:
            break
    return entries


# --- delays ----------------------------------------------------------------------------------


def asks_consent(
    consent: str | None, first_latest: date | None, new_latest: date | None, threshold_days: int
) -> bool:
    """Whether a delay asks the customer for consent: a line not asked before whose new
    promise ends more than ``threshold_days`` after its first dated promise (or lost its
    date)."""
    if consent is not None or first_latest is None:
        return False
    return new_latest is None or (new_latest - first_latest).days > threshold_days


# --- promise accuracy ------------------------------------------------------------------------


def promise_deviation(
    placed_on: date, promised_earliest: date, promised_latest: date, delivered_on: date
) -> tuple[int, float]:
    """``(days, percent)`` a delivery fell outside its first promised window.

    0 inside ``[earliest, latest]``; else the days before ``earliest`` or after ``latest``.
    The percent is of the promised wait, ``latest - placed_on`` (at least one day).
    """
    if promised_earliest > promised_latest:
        raise ValueError("promised_earliest must not be after promised_latest")
    if delivered_on < promised_earliest:
        days = (promised_earliest - delivered_on).days
    elif delivered_on > promised_latest:
        days = (delivered_on - promised_latest).days
    else:
        days = 0
    wait = max(1, (promised_latest - placed_on).days)
    return days, days / wait * 100.0


def promise_accuracy(
    samples: Iterable[tuple[date, date, date, date]],
    target_percent: float = DEFAULT_ACCURACY_TARGET_PERCENT,
) -> Accuracy:
    """The KPI over delivered lines: ``(placed_on, first_earliest, first_latest, delivered_on)``.

    The average deviation (as % of the promised wait) must stay below ``target_percent``; with
    nothing delivered yet the target counts as met.
    """
    delivered = 0
    on_time = 0
    total_percent = 0.0
    for placed_on, earliest, latest, delivered_on in samples:
        days, percent = promise_deviation(placed_on, earliest, latest, delivered_on)
        delivered += 1
        if days == 0:
            on_time += 1
        total_percent += percent
    average = total_percent / delivered if delivered else 0.0
    return Accuracy(
        delivered_lines=delivered,
        on_time_lines=on_time,
        average_deviation_percent=average,
        meets_target=average < target_percent,
        target_percent=target_percent,
    )
