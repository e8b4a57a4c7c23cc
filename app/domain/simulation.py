"""The promise-accuracy simulation's pure parts: the scenario (suppliers, SKUs, demand), the
draws it makes from a seeded random generator, and the figures it reports.

``app.services.simulation`` drives the real use cases day by day with these; nothing here does
I/O. The method is described in ``docs/simulation.md``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from statistics import mean, median

from app.domain.estimates import promise_accuracy, promise_deviation

ACCURACY_GOAL_PERCENT = 95.0  # share of delivered lines inside their first window
DEVIATION_TARGET_PERCENT = 5.0  # mean deviation as a share of the promised wait


# --- the scenario ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierProfile:
    """A supplier and how its deliveries really arrive: ``lateness`` is ``(days, weight)``
    (negative: early); ``notice_days`` how long before the original date a slip is announced
    (0: on the due day, when ops chase the missing delivery)."""

    code: str
    name: str
    lead_days: int
    lateness: tuple[tuple[int, float], ...]
    notice_days: tuple[int, ...] = (0, 1, 3, 7)
    split_slip_share: float = 0.2  # a slip told in two steps (a first, too hopeful, date)

    @property
    def on_time_share(self) -> float:
        total = sum(w for _, w in self.lateness)
        return sum(w for d, w in self.lateness if d <= 0) / total


class SupplyMode(StrEnum):
    PURCHASE_ORDER = "PURCHASE_ORDER"
    PRODUCTION_RUN = "PRODUCTION_RUN"


@dataclass(frozen=True)
class SkuProfile:
    """One SKU of the simulated catalogue.

    ``launch_day``: a pre-order until that day (from day 0), a backorder after; None: a
    backorder from the start. Demand is Poisson with ``daily_demand`` orders a day (quantity
    drawn from ``quantities``). Replenishment reviews every ``review_days``: a PO from
    ``supplier`` (or a production run of ``run_units_per_day``) sized to the waiting demand
    plus the demand expected until the next one can arrive."""

    sku: str
    name: str
    daily_demand: float
    supplier: str
    mode: SupplyMode = SupplyMode.PURCHASE_ORDER
    launch_day: int | None = None
    quantities: tuple[int, ...] = (1, 1, 1, 2)
    review_days: int = 14
    first_supply_day: int = 0  # the first order (PO or run) is placed on this day
    run_units_per_day: int = 0
    run_shortfall_share: float = 0.1  # a run day that makes only half its output
    preorder_cap: int | None = None


@dataclass(frozen=True)
class Scenario:
    suppliers: tuple[SupplierProfile, ...]
    skus: tuple[SkuProfile, ...]
    pause_share: float = 0.03  # of new waiting orders, paused for a while later
    repeat_customer_share: float = 0.15  # orders by a customer who already has an open one
    b2b_share: float = 0.1  # orders on the consolidating wholesale channel
    consent_cancel_share: float = 0.1  # customers asked to accept a long delay who cancel
    consent_silent_share: float = 0.3  # who do not answer (the store policy applies)
    history_receipts: int = 20  # POs each supplier delivered before day 0

    def supplier(self, code: str) -> SupplierProfile:
        return next(s for s in self.suppliers if s.code == code)


DEFAULT_SCENARIO = Scenario(
    suppliers=(
        SupplierProfile(
            "NORDIC",
            "Nordic Ceramics (reliable)",
            14,
            ((-1, 0.04), (0, 0.86), (1, 0.05), (2, 0.03), (4, 0.02)),
        ),
        SupplierProfile(
            "IBERIA",
            "Iberia Furniture (average)",
            28,
            ((0, 0.65), (2, 0.12), (4, 0.1), (7, 0.08), (12, 0.05)),
        ),
        SupplierProfile(
            "PACIFIC",
            "Pacific Electronics (overseas, unreliable)",
            45,
            ((-2, 0.05), (0, 0.4), (3, 0.15), (7, 0.17), (14, 0.15), (21, 0.08)),
            notice_days=(0, 2, 5, 10),
            split_slip_share=0.35,
        ),
        SupplierProfile(
            "OWN-FACTORY",
            "Own factory (production runs)",
            10,
            ((0, 0.7), (1, 0.1), (3, 0.12), (6, 0.08)),
        ),
    ),
    skus=(
        SkuProfile("MUG-SIM", "Stoneware mug", 2.5, "NORDIC", review_days=14),
        SkuProfile("CHAIR-SIM", "Oak chair", 1.2, "IBERIA", quantities=(1, 2, 2, 4)),
        SkuProfile(
            "HEADSET-SIM",
            "Wireless headset",
            1.8,
            "PACIFIC",
            launch_day=60,
            review_days=21,
            preorder_cap=400,
        ),
        SkuProfile(
            "CONSOLE-SIM",
            "Handheld console (own production)",
            1.5,
            "OWN-FACTORY",
            mode=SupplyMode.PRODUCTION_RUN,
            launch_day=45,
            run_units_per_day=12,
            first_supply_day=20,
            review_days=21,
            preorder_cap=300,
        ),
    ),
)

# The CI catalogue: short, and with a supplier that is always late, so that every run has
# slips to re-promise and tell.
SMALL_SCENARIO = Scenario(
    suppliers=(
        *DEFAULT_SCENARIO.suppliers,
        SupplierProfile(
            "LATE-CO", "Late Co (always late)", 20, ((2, 0.4), (5, 0.4), (9, 0.2)), (0, 2, 5)
        ),
    ),
    skus=(
        SkuProfile("MUG-SIM", "Stoneware mug", 1.5, "NORDIC", review_days=10),
        SkuProfile(
            "HEADSET-SIM",
            "Wireless headset",
            1.0,
            "LATE-CO",
            launch_day=15,
            review_days=14,
            preorder_cap=200,
        ),
        SkuProfile(
            "CONSOLE-SIM",
            "Handheld console (own production)",
            1.0,
            "OWN-FACTORY",
            mode=SupplyMode.PRODUCTION_RUN,
            launch_day=12,
            run_units_per_day=6,
            first_supply_day=2,
            review_days=14,
            preorder_cap=200,
        ),
    ),
)


# --- draws -----------------------------------------------------------------------------------


def poisson(rng: random.Random, mean_value: float) -> int:
    """Knuth's method: fine for the small daily means used here."""
    limit = math.exp(-mean_value)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def draw_lateness(rng: random.Random, supplier: SupplierProfile) -> int:
    """Days a delivery of ``supplier`` arrives after its first expected date (negative:
    early), drawn from its history."""
    days = [d for d, _ in supplier.lateness]
    weights = [w for _, w in supplier.lateness]
    return rng.choices(days, weights)[0]


@dataclass(frozen=True)
class SlipPlan:
    """How one late delivery is told: ``(announce_day_offset, new_lateness)`` steps, offsets
    relative to the original expected date (<= 0: before or on it)."""

    steps: tuple[tuple[int, int], ...]


def plan_slip(rng: random.Random, supplier: SupplierProfile, lateness: int) -> SlipPlan:
    """A late delivery is announced some days before its original date (at the latest on the
    due day, when ops chase it); sometimes first with a too hopeful date, then the real one."""
    if lateness <= 0:
        return SlipPlan(())
    notice = rng.choice(supplier.notice_days)
    if lateness >= 2 and rng.random() < supplier.split_slip_share:
        first = max(1, lateness // 2)
        # the second news comes on the too hopeful date at the latest
        second_day = min(first, max(-notice + 1, rng.randint(-notice, first)))
        return SlipPlan(((-notice, first), (max(-notice, second_day), lateness)))
    return SlipPlan(((-notice, lateness),))


# --- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveredLine:
    line_id: int
    sku: str
    supplier: str | None  # the supplier of the supply that served it (None: a run or stock)
    placed_on: date
    first_earliest: date
    first_latest: date
    last_latest: date | None
    delivered_on: date
    told_delays: int  # delay messages sent before delivery


@dataclass(frozen=True)
class Delay:
    """A promise that moved later (a ``line.delivery_delayed`` event)."""

    event_id: int
    line_id: int
    cause: str
    at: datetime  # simulated time of the change
    sent_at: datetime | None  # when the delay e-mail was sent (None: never)
    note: str | None = None


@dataclass(frozen=True)
class SlipRecord:
    """An ETA moved later by the simulated ops (``note`` identifies it in the events)."""

    supply_id: int
    sku: str
    supplier: str
    at: datetime
    days: int
    note: str


@dataclass(frozen=True)
class QueueEvent:
    """What queue fairness is checked on: a line's queue events in ledger order.

    ``kind``: QUEUED, ALLOCATED, UNALLOCATED, PAUSED, RESUMED, CANCELLED, SHIPPED; ``tx``
    groups the events of one transaction (one allocation statement serves several lines)."""

    event_id: int
    tx: str
    kind: str
    line_id: int
    sku: str
    queue_key: tuple[int, int]  # (rank, queue_seq): the allocation order
    quantity: int
    units: int = 0


@dataclass(frozen=True)
class FairnessViolation:
    sku: str
    served_line: int
    skipped_line: int
    event_id: int


def fairness_violations(events: Iterable[QueueEvent]) -> list[FairnessViolation]:
    """Lines served before an earlier eligible one: when a transaction hands units to a line,
    every line of the same SKU earlier in the queue that was waiting (queued, not paused, not
    cancelled) must be served in full after it."""
    allocated: dict[int, int] = {}
    active: dict[int, QueueEvent] = {}  # waiting, unpaused lines by id
    paused: set[int] = set()
    violations: list[FairnessViolation] = []
    pending: list[QueueEvent] = []

    def close(batch: list[QueueEvent]) -> None:
        served = {e.line_id: e for e in batch if e.kind == "ALLOCATED" and e.units > 0}
        for line_id, event in served.items():
            for other_id, other in active.items():
                if (
                    other.sku == event.sku
                    and other_id != line_id
                    and other_id not in paused
                    and other.queue_key < event.queue_key
                    and allocated.get(other_id, 0) < other.quantity
                ):
                    violations.append(
                        FairnessViolation(event.sku, line_id, other_id, event.event_id)
                    )

    for event in events:
        if pending and event.tx != pending[0].tx:
            close(pending)
            pending = []
        pending.append(event)
        if event.kind == "QUEUED":
            active[event.line_id] = event
        elif event.kind in ("ALLOCATED", "UNALLOCATED"):
            allocated[event.line_id] = allocated.get(event.line_id, 0) + event.units
        elif event.kind == "PAUSED":
            paused.add(event.line_id)
        elif event.kind == "RESUMED":
            paused.discard(event.line_id)
        elif event.kind in ("CANCELLED", "SHIPPED"):
            active.pop(event.line_id, None)
    if pending:
        close(pending)
    return violations


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 3)


def accuracy_figures(lines: Sequence[DeliveredLine]) -> dict[str, object]:
    """Inside-the-first-window share and mean deviation (as % of the promised wait)."""
    accuracy = promise_accuracy(
        (d.placed_on, d.first_earliest, d.first_latest, d.delivered_on) for d in lines
    )
    deviations = [
        promise_deviation(d.placed_on, d.first_earliest, d.first_latest, d.delivered_on)[0]
        for d in lines
    ]
    late = [
        (d.delivered_on - d.first_latest).days for d in lines if d.delivered_on > d.first_latest
    ]
    early = [
        (d.first_earliest - d.delivered_on).days for d in lines if d.delivered_on < d.first_earliest
    ]
    waits = [(d.first_latest - d.placed_on).days for d in lines]
    widths = [(d.first_latest - d.first_earliest).days for d in lines]
    delivered = accuracy.delivered_lines
    share = accuracy.on_time_lines / delivered * 100 if delivered else 100.0
    return {
        "delivered_lines": delivered,
        "inside_first_window": accuracy.on_time_lines,
        "inside_first_window_percent": round(share, 2),
        "late_lines": len(late),
        "early_lines": len(early),
        "mean_days_late_when_late": round(mean(late), 2) if late else 0.0,
        "mean_days_early_when_early": round(mean(early), 2) if early else 0.0,
        "mean_abs_deviation_days": round(mean(deviations), 3) if deviations else 0.0,
        "mean_deviation_percent_of_wait": round(accuracy.average_deviation_percent, 3),
        "meets_deviation_target": accuracy.average_deviation_percent < DEVIATION_TARGET_PERCENT,
        "meets_inside_window_goal": share >= ACCURACY_GOAL_PERCENT,
        "mean_promised_wait_days": round(mean(waits), 2) if waits else 0.0,
        "mean_window_width_days": round(mean(widths), 2) if widths else 0.0,
        "median_window_width_days": median(widths) if widths else 0,
        "p90_window_width_days": _percentile(widths, 0.9) if widths else 0,
    }


def delay_figures(
    delays: Sequence[Delay], slips: Sequence[SlipRecord], delivered: Sequence[DeliveredLine]
) -> dict[str, object]:
    """Re-promises that moved a window later and how fast the customer was told; every
    announced slip that moved a promise; late deliveries no delay message warned of."""
    told = [d for d in delays if d.sent_at is not None]
    latency = [(d.sent_at - d.at).total_seconds() for d in told if d.sent_at is not None]
    by_note: dict[str, list[Delay]] = {}
    for d in delays:
        if d.note:
            by_note.setdefault(d.note, []).append(d)
    slips_with_lines = [s for s in slips if by_note.get(s.note)]
    slips_told = [
        s for s in slips_with_lines if all(d.sent_at is not None for d in by_note[s.note])
    ]
    slip_latency = [
        (d.sent_at - s.at).total_seconds()
        for s in slips_with_lines
        for d in by_note[s.note]
        if d.sent_at is not None
    ]
    causes: dict[str, int] = {}
    for d in delays:
        causes[d.cause] = causes.get(d.cause, 0) + 1
    unwarned = [d for d in delivered if d.delivered_on > d.first_latest and d.told_delays == 0]
    return {
        "delays": len(delays),
        "delays_by_cause": dict(sorted(causes.items())),
        "delays_told": len(told),
        "every_delay_told": len(told) == len(delays),
        "hours_to_tell_median": _hours(median(latency)) if latency else None,
        "hours_to_tell_p95": _hours(_percentile(latency, 0.95) or 0.0) if latency else None,
        "hours_to_tell_max": _hours(max(latency)) if latency else None,
        "slips_announced": len(slips),
        "slips_that_moved_promises": len(slips_with_lines),
        "slips_told_to_every_line": len(slips_told),
        "every_slip_told": len(slips_told) == len(slips_with_lines),
        "hours_from_slip_to_told_median": _hours(median(slip_latency)) if slip_latency else None,
        "hours_from_slip_to_told_max": _hours(max(slip_latency)) if slip_latency else None,
        "late_deliveries_never_warned": len(unwarned),
    }


def breakdown(lines: Sequence[DeliveredLine], key: str) -> dict[str, dict[str, object]]:
    """``accuracy_figures`` per SKU (``key='sku'``) or per supplier (``key='supplier'``)."""
    groups: dict[str, list[DeliveredLine]] = {}
    for line in lines:
        groups.setdefault(str(getattr(line, key) or "-"), []).append(line)
    return {name: accuracy_figures(group) for name, group in sorted(groups.items())}


def deviation_histogram(lines: Sequence[DeliveredLine]) -> dict[str, int]:
    """Delivered lines by days outside their first window (negative: early, 0: inside)."""
    counts: dict[int, int] = {}
    for d in lines:
        if d.delivered_on > d.first_latest:
            days = (d.delivered_on - d.first_latest).days
        elif d.delivered_on < d.first_earliest:
            days = -(d.first_earliest - d.delivered_on).days
        else:
            days = 0
        counts[days] = counts.get(days, 0) + 1
    return {str(k): counts[k] for k in sorted(counts)}


@dataclass
class Counters:
    """What the driver did, for the report."""

    orders_placed: int = 0
    orders_refused: int = 0
    lines_waiting_at_placement: int = 0
    history_purchase_orders: int = 0
    purchase_orders: int = 0
    production_runs: int = 0
    receipts: int = 0
    units_received: int = 0
    eta_changes: int = 0
    pauses: int = 0
    resumes: int = 0
    consolidations: int = 0
    dispatches: int = 0
    deliveries: int = 0
    consent_accepted: int = 0
    consent_cancelled: int = 0
    job_runs: int = 0
    job_errors: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # the first message of each

    def error(self, what: str, message: str = "") -> None:
        self.errors[what] = self.errors.get(what, 0) + 1
        self.examples.setdefault(what, message)
