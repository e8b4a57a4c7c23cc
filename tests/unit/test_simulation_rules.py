"""Unit tests for the simulation's pure parts (``app.domain.simulation``): draws, queue
fairness and the figures of the report."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from app.domain.simulation import (
    DEFAULT_SCENARIO,
    Delay,
    DeliveredLine,
    QueueEvent,
    SlipRecord,
    SupplierProfile,
    accuracy_figures,
    delay_figures,
    deviation_histogram,
    draw_lateness,
    fairness_violations,
    plan_slip,
    poisson,
)

DAY = date(2027, 3, 1)
NOON = datetime(2027, 3, 1, 12, tzinfo=UTC)
SUPPLIER = SupplierProfile("S", "Supplier", 10, ((0, 0.5), (5, 0.5)), notice_days=(0, 3))


def delivered(
    line_id: int, delivered_in: int, earliest_in: int = 10, latest_in: int = 14, told: int = 0
) -> DeliveredLine:
    return DeliveredLine(
        line_id=line_id,
        sku="A",
        supplier="S",
        placed_on=DAY,
        first_earliest=DAY + timedelta(days=earliest_in),
        first_latest=DAY + timedelta(days=latest_in),
        last_latest=None,
        delivered_on=DAY + timedelta(days=delivered_in),
        told_delays=told,
    )


def queued(
    event_id: int, line_id: int, seq: int, quantity: int, tx: str | None = None
) -> QueueEvent:
    return QueueEvent(event_id, tx or f"q{event_id}", "QUEUED", line_id, "A", (1, seq), quantity)


def allocated(
    event_id: int, line_id: int, seq: int, quantity: int, units: int, tx: str
) -> QueueEvent:
    return QueueEvent(event_id, tx, "ALLOCATED", line_id, "A", (1, seq), quantity, units)


def test_the_same_seed_draws_the_same_demand_and_lateness() -> None:
    first, second = random.Random(3), random.Random(3)
    assert [poisson(first, 2.5) for _ in range(50)] == [poisson(second, 2.5) for _ in range(50)]
    supplier = DEFAULT_SCENARIO.supplier("PACIFIC")
    assert [draw_lateness(first, supplier) for _ in range(50)] == [
        draw_lateness(second, supplier) for _ in range(50)
    ]


def test_poisson_demand_averages_its_mean() -> None:
    rng = random.Random(1)
    draws = [poisson(rng, 3.0) for _ in range(5000)]
    assert 2.85 < sum(draws) / len(draws) < 3.15


def test_a_supplier_on_time_share_counts_early_and_on_time_deliveries() -> None:
    assert SUPPLIER.on_time_share == 0.5
    assert DEFAULT_SCENARIO.supplier("NORDIC").on_time_share > 0.85


def test_an_on_time_delivery_is_never_announced_as_a_slip() -> None:
    assert plan_slip(random.Random(1), SUPPLIER, 0).steps == ()
    assert plan_slip(random.Random(1), SUPPLIER, -2).steps == ()


def test_a_slip_is_announced_on_or_before_the_due_day_and_ends_at_the_real_lateness() -> None:
    rng = random.Random(5)
    for _ in range(200):
        steps = plan_slip(rng, SUPPLIER, 5).steps
        assert steps
        assert all(at <= 5 for at, _ in steps)
        assert steps[0][0] <= 0  # the first news comes by the original date
        assert steps[-1][1] == 5
        assert [new for _, new in steps] == sorted(new for _, new in steps)


def test_a_line_served_in_queue_order_is_fair() -> None:
    events = [
        queued(1, 10, 1, 2),
        queued(2, 11, 2, 1),
        allocated(3, 10, 1, 2, 2, "r1"),
        allocated(4, 11, 2, 1, 1, "r1"),
    ]
    assert fairness_violations(events) == []


def test_a_line_served_while_an_earlier_one_still_waits_is_a_violation() -> None:
    events = [queued(1, 10, 1, 2), queued(2, 11, 2, 1), allocated(3, 11, 2, 1, 1, "r1")]
    [violation] = fairness_violations(events)
    assert (violation.served_line, violation.skipped_line) == (11, 10)


def test_a_paused_or_cancelled_earlier_line_may_be_passed() -> None:
    paused = QueueEvent(3, "p", "PAUSED", 10, "A", (1, 1), 2)
    cancelled = QueueEvent(3, "c", "CANCELLED", 10, "A", (1, 1), 2)
    for skip in (paused, cancelled):
        events = [queued(1, 10, 1, 2), queued(2, 11, 2, 1), skip, allocated(4, 11, 2, 1, 1, "r")]
        assert fairness_violations(events) == []


def test_the_allocations_of_one_transaction_are_judged_together() -> None:
    # the statement writes the later line's event first: still fair, the earlier one is full
    events = [
        queued(1, 10, 1, 2),
        queued(2, 11, 2, 1),
        allocated(3, 11, 2, 1, 1, "r1"),
        allocated(4, 10, 1, 2, 2, "r1"),
    ]
    assert fairness_violations(events) == []


def test_accuracy_counts_lines_inside_their_first_window_and_the_deviation_share() -> None:
    lines = [delivered(1, 12), delivered(2, 14), delivered(3, 16), delivered(4, 9)]
    figures = accuracy_figures(lines)
    assert figures["delivered_lines"] == 4
    assert figures["inside_first_window"] == 2
    assert figures["inside_first_window_percent"] == 50.0
    assert (figures["late_lines"], figures["early_lines"]) == (1, 1)
    # 2 days late and 1 day early, on a promised wait of 14 days
    assert figures["mean_deviation_percent_of_wait"] == round((2 / 14 + 1 / 14) * 100 / 4, 3)
    assert deviation_histogram(lines) == {"-1": 1, "0": 2, "2": 1}


def test_the_figures_show_how_wide_the_first_windows_were() -> None:
    widths = [2, 4, 4, 6, 8, 10, 10, 12, 14, 30]
    lines = [delivered(i, 10, 10, 10 + width) for i, width in enumerate(widths)]
    figures = accuracy_figures(lines)
    assert figures["mean_window_width_days"] == 10.0
    assert figures["median_window_width_days"] == 9.0
    assert figures["p90_window_width_days"] == 14  # 9 of the 10 windows were at most 14 days


def test_every_delay_and_every_slip_must_have_been_told() -> None:
    told = Delay(1, 10, "SUPPLY_SLIPPED", NOON, NOON + timedelta(minutes=1), "slip-1")
    untold = Delay(2, 11, "SUPPLY_SLIPPED", NOON, None, "slip-2")
    slips = [
        SlipRecord(5, "A", "S", NOON, 3, "slip-1"),
        SlipRecord(6, "A", "S", NOON, 3, "slip-2"),
        SlipRecord(7, "A", "S", NOON, 3, "slip-3"),  # moved nobody's promise
    ]
    figures = delay_figures([told, untold], slips, [delivered(1, 16, told=1), delivered(2, 16)])
    assert figures["delays"] == 2
    assert figures["delays_told"] == 1
    assert figures["every_delay_told"] is False
    assert figures["slips_that_moved_promises"] == 2
    assert figures["slips_told_to_every_line"] == 1
    assert figures["every_slip_told"] is False
    assert figures["hours_from_slip_to_told_median"] == round(60 / 3600, 3)
    assert figures["late_deliveries_never_warned"] == 1
