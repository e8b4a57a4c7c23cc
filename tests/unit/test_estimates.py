"""Unit tests for the pure delivery-estimate rules in ``app.domain.estimates``."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.availability import DateWindow
from app.domain.estimates import (
    ATP_RUN_STEP_DAYS,
    PLANNING_HORIZON_DAYS,
    Accuracy,
    Confidence,
    Estimate,
    Handling,
    QueuedLine,
    SupplyKind,
    SupplySource,
    available_to_promise,
    confidence_for,
    estimate_line,
    estimate_queue,
    next_customer_estimate,
    no_supply_reason,
    promise_accuracy,
    promise_deviation,
    slack_days,
    supply_schedule,
    supply_score,
)

TODAY = date(2025, 6, 10)
HANDLING = Handling(handling_days=1, transit_min_days=2, transit_max_days=4)
NO_HANDLING = Handling(0, 0, 0)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def on_hand(quantity: int, supply_id: str | None = None) -> SupplySource:
    return SupplySource(supply_id, SupplyKind.ON_HAND, quantity, TODAY)


def po(
    quantity: int,
    in_days: int,
    supply_id: str = "PO-1",
    on_time_rate: float | None = 1.0,
    slips: int = 0,
) -> SupplySource:
    return SupplySource(
        supply_id,
        SupplyKind.PURCHASE_ORDER,
        quantity,
        day(in_days),
        on_time_rate=on_time_rate,
        slips=slips,
    )


def run(
    quantity: int,
    starts_in_days: int,
    per_day: int,
    supply_id: str = "RUN-1",
    on_time_rate: float | None = None,
    slips: int = 0,
) -> SupplySource:
    return SupplySource(
        supply_id,
        SupplyKind.PRODUCTION_RUN,
        quantity,
        day(starts_in_days),
        units_per_day=per_day,
        on_time_rate=on_time_rate,
        slips=slips,
    )


def ship_from(units_ahead: int, quantity: int, sources: list[SupplySource]) -> date | None:
    return estimate_line(units_ahead, quantity, sources, TODAY, NO_HANDLING).ship_from


# --- value objects ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handling_days", "transit_min", "transit_max"),
    [(-1, 0, 0), (0, -1, 2), (0, 0, -1), (0, 3, 2)],
)
def test_handling_rejects_negative_days_and_a_minimum_transit_above_the_maximum(
    handling_days: int, transit_min: int, transit_max: int
) -> None:
    with pytest.raises(ValueError, match=r"transit|negative"):
        Handling(handling_days, transit_min, transit_max)


def test_handling_accepts_zero_days_and_an_exact_transit_time() -> None:
    assert Handling(0, 3, 3).transit_max_days == 3


@pytest.mark.parametrize(
    "overrides",
    [{"on_time_rate": -0.1}, {"on_time_rate": 1.01}, {"slips": -1}, {"units_per_day": -5}],
)
def test_a_supply_rejects_an_on_time_rate_outside_zero_to_one_and_negative_slips_or_output(
    overrides: dict[str, float | int],
) -> None:
    with pytest.raises(ValueError, match="must"):
        SupplySource("PO-1", SupplyKind.PURCHASE_ORDER, 10, TODAY, **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(("units_ahead", "quantity"), [(-1, 1), (0, -1)])
def test_a_queued_line_rejects_negative_positions_and_quantities(
    units_ahead: int, quantity: int
) -> None:
    with pytest.raises(ValueError, match="negative"):
        QueuedLine(units_ahead, quantity)


# --- the supply schedule ---------------------------------------------------------------------


def test_stock_on_hand_comes_first_on_today_then_purchase_orders_by_expected_date() -> None:
    late, early, stock = po(5, 20, "PO-LATE"), po(7, 3, "PO-EARLY"), on_hand(4)
    assert supply_schedule([late, early, stock], TODAY) == [
        (TODAY, 4, stock),
        (day(3), 7, early),
        (day(20), 5, late),
    ]


def test_stock_on_hand_is_available_today_whatever_date_it_carries() -> None:
    stock = SupplySource(None, SupplyKind.ON_HAND, 3, day(-30))
    assert supply_schedule([stock], TODAY) == [(TODAY, 3, stock)]


def test_a_purchase_order_expected_in_the_past_counts_as_arriving_today() -> None:
    overdue = po(6, -4)
    assert supply_schedule([overdue], TODAY) == [(TODAY, 6, overdue)]


def test_a_production_run_yields_its_daily_output_with_a_partial_last_day() -> None:
    source = run(25, 2, per_day=10)
    assert supply_schedule([source], TODAY) == [
        (day(2), 10, source),
        (day(3), 10, source),
        (day(4), 5, source),
    ]


def test_a_production_run_that_started_in_the_past_yields_only_its_remainder_from_today() -> None:
    source = run(15, -10, per_day=10)  # 15 units still to come, the run started 10 days ago
    assert supply_schedule([source], TODAY) == [(TODAY, 10, source), (day(1), 5, source)]


def test_a_production_run_without_a_daily_output_delivers_everything_on_its_start_day() -> None:
    source = run(40, 5, per_day=0)
    assert supply_schedule([source], TODAY) == [(day(5), 40, source)]


@pytest.mark.parametrize("quantity", [0, -3])
def test_sources_with_nothing_left_to_receive_are_left_out(quantity: int) -> None:
    assert supply_schedule([po(quantity, 2), on_hand(quantity), run(quantity, 1, 5)], TODAY) == []


def test_on_the_same_day_stock_comes_before_purchase_orders_before_production_runs() -> None:
    first_po, second_po = po(2, 0, "PO-A"), po(3, 0, "PO-B")
    source, stock = run(4, 0, per_day=4), on_hand(1)
    schedule = supply_schedule([source, first_po, second_po, stock], TODAY)
    assert [entry[2] for entry in schedule] == [stock, first_po, second_po, source]


def test_the_schedule_can_stop_at_the_bucket_that_reaches_a_number_of_units() -> None:
    schedule = supply_schedule([run(10**6, 0, per_day=3)], TODAY, until_units=10)
    assert [quantity for _, quantity, _ in schedule] == [3, 3, 3, 3]


def test_supply_beyond_the_planning_horizon_is_not_counted() -> None:
    far = po(5, PLANNING_HORIZON_DAYS + 1, "PO-FAR")
    endless = run(10**8, 0, per_day=1)
    schedule = supply_schedule([far, endless], TODAY)
    assert len(schedule) == PLANNING_HORIZON_DAYS + 1
    assert schedule[-1][0] == day(PLANNING_HORIZON_DAYS)
    assert all(source is endless for _, _, source in schedule)


# --- slack and confidence --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected_slack", "expected_score"),
    [
        (on_hand(5), 0, 1.0),
        (po(5, 3, on_time_rate=1.0), 0, 1.0),
        (po(5, 3, on_time_rate=0.95), 1, 0.95),
        (po(5, 3, on_time_rate=0.9), 2, 0.9),
        (po(5, 3, on_time_rate=0.8), 3, 0.8),
        (po(5, 3, on_time_rate=0.5), 7, 0.5),
        (po(5, 3, on_time_rate=0.0), 14, 0.05),
        (po(5, 3, on_time_rate=None), 5, 0.7),
        (po(5, 3, on_time_rate=1.0, slips=1), 3, 0.8),
        (po(5, 3, on_time_rate=None, slips=2), 11, 0.448),
        (run(5, 3, per_day=1), 2, 0.85),
        (run(5, 3, per_day=1, on_time_rate=0.5), 9, 0.5),
        (run(5, 3, per_day=1, on_time_rate=1.0, slips=1), 5, 0.68),
    ],
)
def test_slack_and_score_follow_the_documented_table(
    source: SupplySource, expected_slack: int, expected_score: float
) -> None:
    assert slack_days(source, TODAY) == expected_slack
    assert supply_score(source, TODAY) == pytest.approx(expected_score)


@pytest.mark.parametrize(
    ("score", "confidence"),
    [
        (1.0, Confidence.HIGH),
        (0.9, Confidence.HIGH),
        (0.8999, Confidence.MEDIUM),
        (0.6, Confidence.MEDIUM),
        (0.5999, Confidence.LOW),
        (0.05, Confidence.LOW),
        (0.0, Confidence.NONE),
    ],
)
def test_confidence_bands_are_high_from_0_9_medium_from_0_6_and_low_above_zero(
    score: float, confidence: Confidence
) -> None:
    assert confidence_for(score) is confidence


def test_an_overdue_purchase_order_counts_as_one_more_slip() -> None:
    overdue, on_time = po(5, -1, on_time_rate=1.0), po(5, 0, on_time_rate=1.0)
    assert slack_days(overdue, TODAY) == slack_days(on_time, TODAY) + 3
    assert supply_score(overdue, TODAY) == pytest.approx(0.8)


def test_a_production_run_started_in_the_past_is_not_overdue() -> None:
    assert slack_days(run(5, -3, per_day=1), TODAY) == slack_days(run(5, 0, per_day=1), TODAY)


@settings(max_examples=200, deadline=None)
@given(
    low=st.floats(0.0, 1.0),
    high=st.floats(0.0, 1.0),
    slips=st.integers(0, 5),
    kind=st.sampled_from([SupplyKind.PURCHASE_ORDER, SupplyKind.PRODUCTION_RUN]),
)
def test_more_slips_or_a_worse_history_never_narrow_the_slack_nor_raise_the_score(
    low: float, high: float, slips: int, kind: SupplyKind
) -> None:
    low, high = min(low, high), max(low, high)

    def source(rate: float | None, slip_count: int) -> SupplySource:
        return SupplySource("S", kind, 5, day(3), 1, rate, slip_count)

    for rate in (low, None):
        worse, better = source(rate, slips + 1), source(rate, slips)
        assert slack_days(worse, TODAY) >= slack_days(better, TODAY)
        assert supply_score(worse, TODAY) <= supply_score(better, TODAY)
    assert slack_days(source(low, slips), TODAY) >= slack_days(source(high, slips), TODAY)
    assert supply_score(source(low, slips), TODAY) <= supply_score(source(high, slips), TODAY)
    assert 0 < supply_score(source(low, slips), TODAY) <= 1


# --- estimates -------------------------------------------------------------------------------


def test_a_line_covered_by_stock_on_hand_ships_today_with_high_confidence() -> None:
    estimate = estimate_line(2, 3, [on_hand(5, "WH-1")], TODAY, HANDLING)
    assert estimate == Estimate(
        earliest=day(3),
        latest=day(5),
        confidence=Confidence.HIGH,
        score=1.0,
        reason=None,
        supply_id=None,
        ship_from=TODAY,
    )


def test_a_line_exactly_at_a_supply_boundary_is_served_by_that_supply() -> None:
    sources = [po(10, 5, "PO-A"), po(10, 9, "PO-B")]
    estimate = estimate_line(7, 3, sources, TODAY, HANDLING)  # last unit = 10 = PO-A's total
    assert (estimate.supply_id, estimate.ship_from) == ("PO-A", day(5))
    assert (estimate.earliest, estimate.latest) == (day(8), day(10))


def test_one_unit_past_a_supply_boundary_is_served_by_the_next_supply() -> None:
    sources = [po(10, 5, "PO-A"), po(10, 9, "PO-B")]
    estimate = estimate_line(8, 3, sources, TODAY, HANDLING)  # last unit = 11
    assert (estimate.supply_id, estimate.ship_from) == ("PO-B", day(9))


def test_a_line_exactly_at_the_end_of_stock_on_hand_still_ships_today() -> None:
    sources = [on_hand(4), po(10, 9)]
    assert estimate_line(0, 4, sources, TODAY, HANDLING).ship_from == TODAY
    assert estimate_line(0, 5, sources, TODAY, HANDLING).ship_from == day(9)


def test_a_line_partly_covered_by_stock_on_hand_waits_for_the_po_covering_its_last_unit() -> None:
    sources = [on_hand(5), po(10, 6, "PO-7", on_time_rate=0.9)]
    estimate = estimate_line(3, 4, sources, TODAY, HANDLING)  # units 4..7: 2 on hand, 2 on PO
    assert estimate.supply_id == "PO-7"
    assert estimate.ship_from == day(6)
    assert estimate.earliest == day(6 + 1 + 2)
    assert estimate.latest == day(6 + 2 + 1 + 4)  # PO slack 2 days for a 90 % supplier
    assert estimate.slack_days == 2
    assert (estimate.confidence, estimate.score) == (Confidence.HIGH, 0.9)


def test_no_supply_gives_no_dates_and_a_reason_that_counts_the_units() -> None:
    estimate = estimate_line(3, 2, [], TODAY, HANDLING)
    assert estimate == Estimate(
        earliest=None,
        latest=None,
        confidence=Confidence.NONE,
        score=0.0,
        reason="No supply is scheduled for the 3 units ahead of this line and its 2 units.",
        supply_id=None,
        ship_from=None,
    )
    assert estimate.window is None


def test_the_first_line_in_the_queue_without_supply_gets_a_reason_about_its_own_units() -> None:
    estimate = estimate_line(0, 1, [po(0, 3)], TODAY, HANDLING)
    assert estimate.reason == "No supply is scheduled for this line's 1 unit."


def test_supply_short_of_the_units_ahead_says_how_far_it_reaches() -> None:
    estimate = estimate_line(3, 7, [po(2, 4)], TODAY, HANDLING)
    assert estimate.reason == (
        "Scheduled supply of 2 units covers only 2 of the 3 units ahead of this line; "
        "none is scheduled for its 7 units."
    )


def test_supply_covering_part_of_a_line_says_how_many_of_its_units_are_missing() -> None:
    estimate = estimate_line(3, 7, [on_hand(1), po(7, 4)], TODAY, HANDLING)
    assert estimate.ship_from is None
    assert estimate.reason == (
        "Scheduled supply of 8 units covers the 3 units ahead of this line and 5 of its "
        "7 units; none is scheduled for the other 2."
    )
    first = estimate_line(0, 7, [po(5, 4)], TODAY, HANDLING)
    assert first.reason == (
        "Scheduled supply of 5 units covers 5 of this line's 7 units; "
        "none is scheduled for the other 2."
    )


@pytest.mark.parametrize(
    ("units_ahead", "quantity", "scheduled", "reason"),
    [
        (1, 1, 0, "No supply is scheduled for the 1 unit ahead of this line and its 1 unit."),
        (
            1,
            2,
            1,
            "Scheduled supply of 1 unit covers only 1 of the 1 unit ahead of this line; "
            "none is scheduled for its 2 units.",
        ),
    ],
)
def test_reasons_speak_of_one_unit_in_the_singular(
    units_ahead: int, quantity: int, scheduled: int, reason: str
) -> None:
    assert no_supply_reason(units_ahead, quantity, scheduled) == reason


def test_a_production_run_partially_covering_a_line_dates_it_when_the_output_reaches_it() -> None:
    sources = [on_hand(3), run(100, 4, per_day=10, supply_id="RUN-9")]
    # Units 3 on hand, then 10 a day from day 4: unit 25 arrives with day 6's output (3+10+10+10).
    estimate = estimate_line(20, 5, sources, TODAY, HANDLING)
    assert (estimate.supply_id, estimate.ship_from) == ("RUN-9", day(6))
    assert estimate.earliest == day(6 + 3)
    assert estimate.latest == day(6 + 2 + 5)  # a run's slack: 2 days
    assert (estimate.confidence, estimate.score) == (Confidence.MEDIUM, 0.85)
    assert estimate_line(20, 3, sources, TODAY, HANDLING).ship_from == day(5)  # unit 23


def test_a_production_run_short_of_a_line_gives_no_date() -> None:
    estimate = estimate_line(0, 31, [run(30, 1, per_day=10)], TODAY, HANDLING)
    assert estimate.ship_from is None
    assert estimate.reason is not None
    assert "30 units" in estimate.reason


def test_a_production_run_started_in_the_past_counts_only_its_remaining_output_from_today() -> None:
    sources = [run(25, -20, per_day=10)]  # 25 left of a run that started 20 days ago
    assert ship_from(0, 10, sources) == TODAY
    assert ship_from(10, 10, sources) == day(1)
    assert ship_from(20, 5, sources) == day(2)
    assert ship_from(20, 6, sources) is None


def test_a_purchase_order_expected_in_the_past_ships_from_today_with_an_overdue_slip() -> None:
    estimate = estimate_line(0, 2, [po(5, -7, on_time_rate=1.0)], TODAY, HANDLING)
    assert estimate.ship_from == TODAY
    assert estimate.earliest == day(3)
    assert estimate.latest == day(3 + 5)  # 3 days' slack for being overdue
    assert (estimate.confidence, estimate.score) == (Confidence.MEDIUM, 0.8)


def test_a_preorder_never_ships_before_its_release_date_even_when_supply_is_earlier() -> None:
    release = day(30)
    sources = [on_hand(10), po(10, 5, on_time_rate=0.5)]
    stocked = estimate_line(0, 5, sources, TODAY, HANDLING, release_date=release)
    assert (stocked.ship_from, stocked.earliest, stocked.latest) == (release, day(33), day(35))
    assert stocked.confidence is Confidence.HIGH
    incoming = estimate_line(10, 5, sources, TODAY, HANDLING, release_date=release)
    assert incoming.ship_from == release
    assert incoming.supply_id == "PO-1"


def test_a_release_date_later_than_supply_absorbs_the_supply_slack() -> None:
    source = po(10, 5, on_time_rate=0.5)  # 7 days' slack: supply by day 12 at the latest
    assert estimate_line(0, 1, [source], TODAY, NO_HANDLING, day(30)).latest == day(30)
    partly = estimate_line(0, 1, [source], TODAY, NO_HANDLING, day(8))
    assert (partly.earliest, partly.latest, partly.slack_days) == (day(8), day(12), 4)


def test_a_release_date_earlier_than_supply_does_not_move_the_ship_date() -> None:
    estimate = estimate_line(0, 1, [po(10, 5)], TODAY, HANDLING, release_date=day(2))
    assert estimate.ship_from == day(5)


def test_a_release_date_in_the_past_does_not_hold_stock_back() -> None:
    estimate = estimate_line(0, 1, [on_hand(1)], TODAY, HANDLING, release_date=day(-5))
    assert estimate.ship_from == TODAY


def test_slips_lower_confidence_and_widen_the_latest_date() -> None:
    estimates = [
        estimate_line(0, 1, [po(5, 10, on_time_rate=0.95, slips=slips)], TODAY, HANDLING)
        for slips in range(4)
    ]
    assert [e.earliest for e in estimates] == [day(13)] * 4
    assert [e.latest for e in estimates] == [day(16), day(19), day(22), day(25)]
    assert [e.confidence for e in estimates] == [
        Confidence.HIGH,
        Confidence.MEDIUM,
        Confidence.MEDIUM,
        Confidence.LOW,
    ]
    scores = [e.score for e in estimates]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4


def test_a_supplier_with_a_poor_history_gets_a_wider_window_and_lower_confidence() -> None:
    reliable = estimate_line(0, 1, [po(5, 10, on_time_rate=1.0)], TODAY, HANDLING)
    poor = estimate_line(0, 1, [po(5, 10, on_time_rate=0.4)], TODAY, HANDLING)
    assert reliable.earliest == poor.earliest
    assert reliable.latest is not None
    assert poor.latest == reliable.latest + timedelta(days=9)
    assert (reliable.confidence, poor.confidence) == (Confidence.HIGH, Confidence.LOW)


def test_a_purchase_order_without_supplier_history_gets_a_default_buffer_and_medium_confidence() -> (
    None
):
    estimate = estimate_line(0, 1, [po(5, 10, on_time_rate=None)], TODAY, HANDLING)
    assert (estimate.slack_days, estimate.latest) == (5, day(10 + 5 + 1 + 4))
    assert (estimate.confidence, estimate.score) == (Confidence.MEDIUM, 0.7)


def test_a_production_run_is_less_certain_than_a_reliable_purchase_order() -> None:
    from_po = estimate_line(0, 1, [po(5, 10, on_time_rate=1.0)], TODAY, HANDLING)
    from_run = estimate_line(0, 1, [run(5, 10, per_day=5)], TODAY, HANDLING)
    assert from_run.score < from_po.score
    assert from_run.ship_from == from_po.ship_from
    assert from_run.latest is not None
    assert from_po.latest is not None
    assert from_run.latest > from_po.latest


def test_the_confidence_of_a_line_is_that_of_the_supply_covering_its_last_unit() -> None:
    sources = [po(1, 2, "SHAKY", on_time_rate=0.3), po(5, 4, "SOLID", on_time_rate=1.0)]
    estimate = estimate_line(0, 3, sources, TODAY, HANDLING)
    assert (estimate.supply_id, estimate.confidence) == ("SOLID", Confidence.HIGH)


def test_an_earlier_purchase_order_moves_the_earliest_queued_lines_to_it() -> None:
    queue = [QueuedLine(0, 4), QueuedLine(4, 4), QueuedLine(8, 4)]
    before = estimate_queue(queue, [po(12, 30, "PO-LATE")], TODAY, HANDLING)
    assert [e.ship_from for e in before] == [day(30)] * 3
    after = estimate_queue(queue, [po(12, 30, "PO-LATE"), po(6, 10, "PO-NEW")], TODAY, HANDLING)
    assert [e.supply_id for e in after] == ["PO-NEW", "PO-LATE", "PO-LATE"]
    assert [e.ship_from for e in after] == [day(10), day(30), day(30)]


def test_supply_arriving_earlier_than_planned_moves_promises_earlier() -> None:
    queue = [QueuedLine(0, 5), QueuedLine(5, 5)]
    planned = [on_hand(2), po(8, 20, "PO-1")]
    early = [on_hand(2), po(8, 12, "PO-1")]
    assert [e.ship_from for e in estimate_queue(queue, planned, TODAY, HANDLING)] == [day(20)] * 2
    assert [e.ship_from for e in estimate_queue(queue, early, TODAY, HANDLING)] == [day(12)] * 2


def test_a_fully_allocated_line_ships_as_if_on_hand() -> None:
    estimate = estimate_line(500, 0, [], TODAY, HANDLING)
    assert (estimate.ship_from, estimate.earliest, estimate.latest) == (TODAY, day(3), day(5))
    assert (estimate.confidence, estimate.score, estimate.reason) == (Confidence.HIGH, 1.0, None)
    assert estimate.supply_id is None


def test_a_fully_allocated_preorder_line_ships_on_its_release_date() -> None:
    assert estimate_line(0, 0, [], TODAY, HANDLING, release_date=day(14)).ship_from == day(14)


def test_gaps_in_the_queue_from_paused_lines_are_respected() -> None:
    sources = [po(5, 3, "PO-A"), po(5, 8, "PO-B"), po(5, 15, "PO-C")]
    queue = [QueuedLine(0, 2), QueuedLine(6, 2), QueuedLine(12, 3)]  # paused lines in between
    estimates = estimate_queue(queue, sources, TODAY, HANDLING)
    assert [e.supply_id for e in estimates] == ["PO-A", "PO-B", "PO-C"]


def test_lines_out_of_queue_order_are_still_estimated_correctly() -> None:
    sources = [on_hand(2), po(5, 3, "PO-A"), po(5, 8, "PO-B")]
    queue = [QueuedLine(8, 4), QueuedLine(0, 1), QueuedLine(2, 3), QueuedLine(20, 1)]
    estimates = estimate_queue(queue, sources, TODAY, HANDLING)
    assert [e.ship_from for e in estimates] == [day(8), TODAY, day(3), None]
    assert estimates == [
        estimate_line(line.units_ahead, line.quantity, sources, TODAY, HANDLING) for line in queue
    ]


def test_an_empty_queue_has_no_estimates() -> None:
    assert estimate_queue([], [po(5, 3)], TODAY, HANDLING) == []


def test_two_purchase_orders_on_the_same_day_serve_in_the_order_given() -> None:
    sources = [po(3, 4, "PO-A"), po(3, 4, "PO-B", on_time_rate=None)]
    assert estimate_line(0, 3, sources, TODAY, HANDLING).supply_id == "PO-A"
    assert estimate_line(0, 4, sources, TODAY, HANDLING).supply_id == "PO-B"


def test_stock_on_hand_reports_no_supply_id_even_when_it_has_one() -> None:
    assert estimate_line(0, 1, [on_hand(1, "BIN-4")], TODAY, HANDLING).supply_id is None


def test_the_window_of_a_dated_estimate_is_a_date_window() -> None:
    assert estimate_line(0, 1, [on_hand(1)], TODAY, HANDLING).window == DateWindow(day(3), day(5))


def test_a_new_customer_is_promised_the_date_after_all_waiting_demand() -> None:
    sources = [on_hand(4), po(10, 7, "PO-A"), po(10, 21, "PO-B")]
    assert next_customer_estimate(0, 4, sources, TODAY, HANDLING).ship_from == TODAY
    assert next_customer_estimate(12, 2, sources, TODAY, HANDLING).supply_id == "PO-A"
    assert next_customer_estimate(12, 3, sources, TODAY, HANDLING).supply_id == "PO-B"
    beyond = next_customer_estimate(24, 1, sources, TODAY, HANDLING)
    assert beyond.reason == (
        "Scheduled supply of 24 units covers only 24 of the 24 units ahead of this line; "
        "none is scheduled for its 1 unit."
    )


def test_a_new_customer_must_ask_for_at_least_one_unit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next_customer_estimate(0, 0, [on_hand(5)], TODAY, HANDLING)


def test_a_thousand_lines_over_a_year_long_production_run_are_estimated_in_one_pass() -> None:
    sources = [on_hand(30), po(500, 20, "PO-1"), run(3650, 5, per_day=10)]
    queue = [QueuedLine(4 * i, 4) for i in range(1100)]
    started = time.perf_counter()
    estimates = estimate_queue(queue, sources, TODAY, HANDLING)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert estimates[0].ship_from == TODAY
    assert estimates[-1].ship_from is None  # 4400 units wanted, 4180 scheduled
    dated = [e.ship_from for e in estimates if e.ship_from is not None]
    assert dated == sorted(dated)
    assert dated[-1] == day(5 + 364)
    for index in (0, 7, 8, 150, 999, 1043, 1044, 1099):
        line = queue[index]
        assert estimates[index] == estimate_line(
            line.units_ahead, line.quantity, sources, TODAY, HANDLING
        )


def test_a_production_run_longer_than_the_planning_horizon_dates_only_what_it_covers() -> None:
    sources = [run(10**8, 1, per_day=1)]
    assert estimate_line(0, 5, sources, TODAY, HANDLING).ship_from == day(5)
    assert estimate_line(0, PLANNING_HORIZON_DAYS, sources, TODAY, HANDLING).ship_from == (
        day(PLANNING_HORIZON_DAYS)
    )
    beyond = estimate_line(PLANNING_HORIZON_DAYS, 1, sources, TODAY, HANDLING)
    assert beyond.ship_from is None
    assert beyond.reason is not None
    assert f"{PLANNING_HORIZON_DAYS} units" in beyond.reason


# --- available to promise --------------------------------------------------------------------


def test_atp_starts_today_with_free_stock_even_when_it_is_zero() -> None:
    assert available_to_promise(0, [], 0, TODAY) == [(TODAY, 0)]
    assert available_to_promise(7, [], 3, TODAY) == [(TODAY, 7)]
    assert available_to_promise(0, [po(5, 4)], 0, TODAY) == [(TODAY, 0), (day(4), 5)]


def test_atp_supply_due_today_is_part_of_todays_single_entry() -> None:
    assert available_to_promise(2, [po(5, 0)], 1, TODAY) == [(TODAY, 6)]


def test_atp_open_supply_first_serves_waiting_demand_then_adds_on_its_date() -> None:
    sources = [po(10, 5, "PO-A"), po(20, 12, "PO-B")]
    assert available_to_promise(3, sources, 14, TODAY) == [(TODAY, 3), (day(12), 19)]
    assert available_to_promise(3, sources, 4, TODAY) == [
        (TODAY, 3),
        (day(5), 9),
        (day(12), 29),
    ]


def test_atp_supply_entirely_taken_by_waiting_demand_adds_nothing() -> None:
    assert available_to_promise(2, [po(10, 5)], 10, TODAY) == [(TODAY, 2)]
    assert available_to_promise(2, [po(10, 5)], 50, TODAY) == [(TODAY, 2)]


def test_atp_stock_on_hand_held_back_serves_waiting_demand_first_then_adds_today() -> None:
    sources = [on_hand(6), po(4, 3)]
    assert available_to_promise(0, sources, 4, TODAY) == [(TODAY, 2), (day(3), 6)]
    assert available_to_promise(0, sources, 8, TODAY) == [(TODAY, 0), (day(3), 2)]


def test_atp_stock_held_for_preorders_is_promisable_from_the_release_date_within_the_cap() -> None:
    sources = [on_hand(10), po(20, 40)]
    entries = available_to_promise(0, sources, 7, TODAY, cap_remaining=15, release_date=day(30))
    assert entries == [(day(30), 3), (day(40), 15)]


def test_atp_an_overdue_purchase_order_adds_today() -> None:
    assert available_to_promise(1, [po(4, -3)], 1, TODAY) == [(TODAY, 4)]


def test_atp_supply_on_the_same_day_is_one_entry() -> None:
    sources = [po(4, 6, "PO-A"), po(5, 6, "PO-B"), run(3, 6, per_day=3)]
    assert available_to_promise(0, sources, 2, TODAY) == [(TODAY, 0), (day(6), 10)]


def test_atp_cap_bounds_what_can_be_promised_beyond_free_stock() -> None:
    sources = [po(10, 5), po(20, 12, "PO-B")]
    assert available_to_promise(3, sources, 0, TODAY, cap_remaining=15) == [
        (TODAY, 3),
        (day(5), 13),
        (day(12), 18),
    ]


def test_atp_with_no_cap_room_promises_only_free_stock() -> None:
    assert available_to_promise(3, [po(10, 5)], 0, TODAY, cap_remaining=0) == [(TODAY, 3)]


def test_atp_nothing_is_dated_before_the_release_date() -> None:
    sources = [po(10, 5, "PO-A"), po(10, 20, "PO-B"), po(10, 40, "PO-C")]
    assert available_to_promise(0, sources, 5, TODAY, release_date=day(30)) == [
        (day(30), 15),
        (day(40), 25),
    ]


def test_atp_a_release_date_in_the_past_changes_nothing() -> None:
    sources = [po(10, 5)]
    assert available_to_promise(1, sources, 0, TODAY, release_date=day(-3)) == (
        available_to_promise(1, sources, 0, TODAY)
    )


def test_atp_lists_a_production_run_weekly_and_on_its_last_day() -> None:
    source = run(100, 2, per_day=6)  # days 2..18: 16 full days and 4 units on day 18
    entries = available_to_promise(0, [source], 10, TODAY)
    assert entries == [
        (TODAY, 0),
        (day(2 + 6), 7 * 6 - 10),
        (day(2 + 13), 14 * 6 - 10),
        (day(18), 90),
    ]
    assert ATP_RUN_STEP_DAYS == 7


def test_atp_a_run_day_shared_with_a_purchase_order_is_listed_exactly() -> None:
    entries = available_to_promise(0, [run(70, 0, per_day=10), po(5, 2)], 0, TODAY)
    assert entries == [(TODAY, 10), (day(2), 35), (day(6), 75)]  # today is always exact


@pytest.mark.parametrize(("free_now", "waiting", "cap"), [(-1, 0, None), (0, -1, None), (0, 0, -1)])
def test_atp_rejects_negative_inputs(free_now: int, waiting: int, cap: int | None) -> None:
    with pytest.raises(ValueError, match="negative"):
        available_to_promise(free_now, [], waiting, TODAY, cap_remaining=cap)


# --- promise accuracy ------------------------------------------------------------------------


@pytest.mark.parametrize("delivered", [day(10), day(12), day(14)])
def test_a_delivery_inside_the_promised_window_deviates_by_nothing(delivered: date) -> None:
    assert promise_deviation(TODAY, day(10), day(14), delivered) == (0, 0.0)


def test_a_late_delivery_deviates_by_the_days_after_the_latest_date_as_a_share_of_the_wait() -> (
    None
):
    assert promise_deviation(TODAY, day(10), day(20), day(21)) == (1, 5.0)
    assert promise_deviation(TODAY, day(10), day(20), day(30)) == (10, 50.0)


def test_an_early_delivery_deviates_by_the_days_before_the_earliest_date() -> None:
    assert promise_deviation(TODAY, day(10), day(20), day(8)) == (2, 10.0)


def test_a_zero_length_wait_counts_as_one_day() -> None:
    assert promise_deviation(TODAY, TODAY, TODAY, TODAY) == (0, 0.0)
    assert promise_deviation(TODAY, TODAY, TODAY, day(1)) == (1, 100.0)
    # a window that ended before the order was placed still divides by one day
    assert promise_deviation(TODAY, day(-3), day(-2), day(1)) == (3, 300.0)


def test_a_promised_window_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="promised_earliest"):
        promise_deviation(TODAY, day(5), day(4), day(5))


def test_accuracy_with_no_deliveries_meets_the_target() -> None:
    assert promise_accuracy([]) == Accuracy(0, 0, 0.0, True, 5.0)


def test_accuracy_averages_the_deviation_over_delivered_lines() -> None:
    samples = [
        (TODAY, day(10), day(20), day(15)),  # on time: 0 %
        (TODAY, day(10), day(20), day(22)),  # 2 days late of 20: 10 %
        (TODAY, day(5), day(10), day(4)),  # 1 day early of 10: 10 %
        (TODAY, day(10), day(20), day(20)),  # on time
    ]
    accuracy = promise_accuracy(iter(samples))
    assert accuracy.delivered_lines == 4
    assert accuracy.on_time_lines == 2
    assert accuracy.average_deviation_percent == pytest.approx(5.0)
    assert accuracy.meets_target is False  # the target is strictly below 5 %


def test_accuracy_below_the_target_meets_it_and_the_target_can_be_changed() -> None:
    samples = [(TODAY, day(10), day(100), day(104)), (TODAY, day(10), day(100), day(50))]
    accuracy = promise_accuracy(samples)
    assert accuracy.average_deviation_percent == pytest.approx(2.0)
    assert accuracy.meets_target is True
    strict = promise_accuracy(samples, target_percent=1.0)
    assert (strict.meets_target, strict.target_percent) == (False, 1.0)


# --- properties ------------------------------------------------------------------------------

source_strategy = st.one_of(
    st.builds(
        SupplySource,
        supply_id=st.sampled_from([None, "S-1", "S-2"]),
        kind=st.just(SupplyKind.ON_HAND),
        quantity=st.integers(-2, 30),
        expected_on=st.integers(-5, 5).map(day),
    ),
    st.builds(
        SupplySource,
        supply_id=st.sampled_from(["PO-1", "PO-2", "PO-3"]),
        kind=st.just(SupplyKind.PURCHASE_ORDER),
        quantity=st.integers(-2, 30),
        expected_on=st.integers(-10, 60).map(day),
        on_time_rate=st.one_of(st.none(), st.floats(0.0, 1.0)),
        slips=st.integers(0, 3),
    ),
    st.builds(
        SupplySource,
        supply_id=st.sampled_from(["RUN-1", "RUN-2"]),
        kind=st.just(SupplyKind.PRODUCTION_RUN),
        quantity=st.integers(-2, 60),
        expected_on=st.integers(-10, 40).map(day),
        units_per_day=st.integers(0, 7),
        on_time_rate=st.one_of(st.none(), st.floats(0.0, 1.0)),
        slips=st.integers(0, 3),
    ),
)
sources_strategy = st.lists(source_strategy, max_size=6)
handling_strategy = st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 5)).map(
    lambda t: Handling(t[0], min(t[1], t[2]), max(t[1], t[2]))
)
release_strategy = st.one_of(st.none(), st.integers(-5, 80).map(day))


@st.composite
def queues(draw: st.DrawFn) -> list[QueuedLine]:
    """Lines in queue order: non-decreasing ``units_ahead``, possibly with gaps."""
    lines: list[QueuedLine] = []
    ahead = 0
    for _ in range(draw(st.integers(0, 12))):
        ahead += draw(st.integers(0, 15))
        quantity = draw(st.integers(0, 12))
        lines.append(QueuedLine(ahead, quantity))
        ahead += quantity
    return lines


def brute_force_supplied_on(current: date, sources: list[SupplySource]) -> int:
    """Units that arrive on ``current`` (today or later), straight from the rules."""
    total = 0
    for source in sources:
        if source.quantity <= 0:
            continue
        start = TODAY if source.kind is SupplyKind.ON_HAND else max(source.expected_on, TODAY)
        if source.kind is SupplyKind.PRODUCTION_RUN and source.units_per_day > 0:
            produced_before = source.units_per_day * (current - start).days
            if current >= start and produced_before < source.quantity:
                total += min(source.units_per_day, source.quantity - produced_before)
        elif current == start:
            total += source.quantity
    return total


def brute_force_supplied_by(when: date, sources: list[SupplySource]) -> int:
    """Units supplied from today up to and including ``when``, one day at a time."""
    days = (when - TODAY).days
    return sum(brute_force_supplied_on(day(offset), sources) for offset in range(days + 1))


def brute_force_ship_day(target: int, sources: list[SupplySource]) -> date | None:
    """The first day cumulative supply reaches ``target`` (None within 200 days: never)."""
    total = 0
    for offset in range(200):
        total += brute_force_supplied_on(day(offset), sources)
        if total >= target:
            return day(offset)
    return None


@settings(max_examples=300, deadline=None)
@given(
    queue=queues(), sources=sources_strategy, handling=handling_strategy, release=release_strategy
)
def test_estimating_a_whole_queue_equals_estimating_each_line_alone(
    queue: list[QueuedLine],
    sources: list[SupplySource],
    handling: Handling,
    release: date | None,
) -> None:
    assert estimate_queue(queue, sources, TODAY, handling, release) == [
        estimate_line(line.units_ahead, line.quantity, sources, TODAY, handling, release)
        for line in queue
    ]


@settings(max_examples=300, deadline=None)
@given(queue=queues(), sources=sources_strategy, release=release_strategy)
def test_a_line_ships_on_the_first_day_cumulative_supply_reaches_its_last_unit(
    queue: list[QueuedLine], sources: list[SupplySource], release: date | None
) -> None:
    for line, estimate in zip(
        queue, estimate_queue(queue, sources, TODAY, NO_HANDLING, release), strict=True
    ):
        if line.quantity == 0:
            expected: date | None = TODAY
        else:
            expected = brute_force_ship_day(line.units_ahead + line.quantity, sources)
        if expected is not None and release is not None:
            expected = max(expected, release)
        assert estimate.ship_from == expected


@settings(max_examples=300, deadline=None)
@given(queue=queues(), sources=sources_strategy, extra=source_strategy, release=release_strategy)
def test_adding_a_source_never_makes_any_line_ship_later(
    queue: list[QueuedLine],
    sources: list[SupplySource],
    extra: SupplySource,
    release: date | None,
) -> None:
    before = estimate_queue(queue, sources, TODAY, HANDLING, release)
    for position in (0, len(sources)):
        more = [*sources[:position], extra, *sources[position:]]
        after = estimate_queue(queue, more, TODAY, HANDLING, release)
        for old, new in zip(before, after, strict=True):
            if old.ship_from is not None:
                assert new.ship_from is not None
                assert new.ship_from <= old.ship_from


@settings(max_examples=200, deadline=None)
@given(
    queue=queues(),
    sources=sources_strategy,
    index=st.integers(0, 5),
    earlier_by=st.integers(1, 30),
)
def test_supply_arriving_earlier_never_makes_any_line_ship_later(
    queue: list[QueuedLine], sources: list[SupplySource], index: int, earlier_by: int
) -> None:
    if not sources:
        return
    moved = sources[index % len(sources)]
    earlier = SupplySource(
        moved.supply_id,
        moved.kind,
        moved.quantity,
        moved.expected_on - timedelta(days=earlier_by),
        moved.units_per_day,
        moved.on_time_rate,
        moved.slips,
    )
    changed = [earlier if s is moved else s for s in sources]
    before = estimate_queue(queue, sources, TODAY, HANDLING)
    after = estimate_queue(queue, changed, TODAY, HANDLING)
    for old, new in zip(before, after, strict=True):
        if old.ship_from is not None:
            assert new.ship_from is not None
            assert new.ship_from <= old.ship_from


@settings(max_examples=300, deadline=None)
@given(
    queue=queues(), sources=sources_strategy, handling=handling_strategy, release=release_strategy
)
def test_every_estimate_is_a_well_formed_window_or_an_explained_absence(
    queue: list[QueuedLine],
    sources: list[SupplySource],
    handling: Handling,
    release: date | None,
) -> None:
    for estimate in estimate_queue(queue, sources, TODAY, handling, release):
        if estimate.ship_from is None:
            assert (estimate.earliest, estimate.latest, estimate.supply_id) == (None, None, None)
            assert (estimate.confidence, estimate.score) == (Confidence.NONE, 0.0)
            assert estimate.reason is not None
            assert "unit" in estimate.reason
            continue
        assert estimate.earliest is not None
        assert estimate.latest is not None
        assert estimate.reason is None
        assert estimate.ship_from >= TODAY
        assert release is None or estimate.ship_from >= release
        minimum = handling.handling_days + handling.transit_min_days
        assert estimate.earliest == estimate.ship_from + timedelta(days=minimum)
        assert estimate.earliest <= estimate.latest
        assert (estimate.latest - estimate.earliest).days == (
            estimate.slack_days + handling.transit_max_days - handling.transit_min_days
        )
        assert 0 < estimate.score <= 1
        assert estimate.confidence is confidence_for(estimate.score)


@settings(max_examples=200, deadline=None)
@given(sources=sources_strategy, release=release_strategy, sizes=st.lists(st.integers(0, 9)))
def test_in_a_contiguous_queue_no_line_ships_before_a_line_ahead_of_it(
    sources: list[SupplySource], release: date | None, sizes: list[int]
) -> None:
    queue = []
    ahead = 0
    for size in sizes:
        queue.append(QueuedLine(ahead, size))
        ahead += size
    estimates = estimate_queue(queue, sources, TODAY, HANDLING, release)
    dated = [e.ship_from for e, line in zip(estimates, queue, strict=True) if line.quantity]
    known = [d for d in dated if d is not None]
    assert known == sorted(known)
    assert dated == known + [None] * (len(dated) - len(known))


@settings(max_examples=300, deadline=None)
@given(
    free_now=st.integers(0, 20),
    sources=sources_strategy,
    waiting=st.integers(0, 80),
    cap=st.one_of(st.none(), st.integers(0, 60)),
    release=release_strategy,
)
def test_atp_is_cumulative_monotone_and_never_promises_more_than_exists(
    free_now: int,
    sources: list[SupplySource],
    waiting: int,
    cap: int | None,
    release: date | None,
) -> None:
    entries = available_to_promise(free_now, sources, waiting, TODAY, cap, release)
    start = TODAY if release is None else max(TODAY, release)
    assert entries[0][0] == start
    assert entries[0][1] >= free_now
    dates = [d for d, _ in entries]
    quantities = [q for _, q in entries]
    assert dates == sorted(set(dates))
    assert quantities == sorted(set(quantities))
    open_supply = sum(s.quantity for s in sources if s.quantity > 0)
    beyond = max(0, open_supply - waiting)
    if cap is not None:
        beyond = min(beyond, cap)
    assert entries[-1][1] == free_now + beyond
    for when, quantity in entries:
        # exact on every listed date: what supply has brought by then, less waiting demand
        supplied = brute_force_supplied_by(when, sources)
        expected = max(0, supplied - waiting)
        if cap is not None:
            expected = min(expected, cap)
        assert quantity == free_now + expected
    # between listed dates the list may understate what exists, never overstate it
    for offset in range((entries[-1][0] - start).days + 1):
        current = start + timedelta(days=offset)
        listed = max(q for d, q in entries if d <= current)
        exact = max(0, brute_force_supplied_by(current, sources) - waiting)
        assert listed <= free_now + (exact if cap is None else min(exact, cap))


@settings(max_examples=300, deadline=None)
@given(
    placed=st.integers(-30, 0),
    earliest=st.integers(-5, 40),
    width=st.integers(0, 20),
    delivered=st.integers(-10, 80),
)
def test_a_deviation_is_zero_exactly_inside_the_window_and_otherwise_its_distance(
    placed: int, earliest: int, width: int, delivered: int
) -> None:
    days, percent = promise_deviation(
        day(placed), day(earliest), day(earliest + width), day(delivered)
    )
    inside = earliest <= delivered <= earliest + width
    assert (days == 0) is inside
    assert days == max(0, earliest - delivered, delivered - earliest - width)
    assert percent == pytest.approx(days / max(1, earliest + width - placed) * 100)
    assert percent >= 0
