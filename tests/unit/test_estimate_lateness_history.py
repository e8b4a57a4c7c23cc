"""The window of a supplier with enough observed lateness follows that lateness on both sides:
its latest date by the 95 % bound of the late side, its earliest date by the 95 % bound of the
early side (``app.domain.estimates``; measured by ``python -m app simulate``,
docs/simulation.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.estimates import (
    EARLINESS_QUANTILE,
    LATENESS_QUANTILE,
    MIN_LATENESS_HISTORY,
    Handling,
    SupplyKind,
    SupplySource,
    earliness_quantile,
    early_days,
    estimate_line,
    lateness_quantile,
    slack_days,
    supply_score,
)

TODAY = date(2025, 6, 10)
HANDLING = Handling(handling_days=1, transit_min_days=2, transit_max_days=4)


def po(
    history: tuple[int, ...], rate: float | None = 0.9, slips: int = 0, in_days: int = 5
) -> SupplySource:
    return SupplySource(
        "PO-1",
        SupplyKind.PURCHASE_ORDER,
        10,
        TODAY + timedelta(days=in_days),
        on_time_rate=rate,
        slips=slips,
        lateness_history=history,
    )


def test_the_bound_is_the_lateness_the_next_delivery_stays_within_19_times_in_20() -> None:
    assert LATENESS_QUANTILE == 0.95
    # rank ceil(0.95 * (n + 1)): with 20 receipts the latest of them (the next delivery
    # ranks anywhere among 21: after all 20 one time in 21), the second latest from 39 on
    assert lateness_quantile((0,) * 18 + (7, 14)) == 14
    assert lateness_quantile((0,) * 36 + (7, 14)) == 14
    assert lateness_quantile((0,) * 37 + (7, 14)) == 7
    assert lateness_quantile((0, 0, 0, 0, 3)) == 3
    assert lateness_quantile((2, -1, 0, 1, 0), quantile=0.5) == 0  # early counts as on time
    assert lateness_quantile(()) == 0


def test_the_early_side_is_the_earliness_the_next_delivery_stays_within_19_times_in_20() -> None:
    assert EARLINESS_QUANTILE == 0.95
    assert earliness_quantile((0,) * 18 + (-2, 5)) == 2  # the earliest of 20
    assert earliness_quantile((0,) * 36 + (-1, -3)) == 3
    assert earliness_quantile((0,) * 37 + (-1, -3)) == 1  # the second earliest from 39 on
    assert earliness_quantile((0, 3, 7, 1, 2)) == 0  # late counts as on time
    assert earliness_quantile(()) == 0


def test_a_supplier_that_sometimes_delivers_early_starts_its_windows_earlier() -> None:
    history = (0,) * 17 + (-2, 3, 7)
    assert early_days(po(history)) == 2
    estimate = estimate_line(0, 2, [po(history)], TODAY, HANDLING)
    assert estimate.ship_from == TODAY + timedelta(days=5)
    assert estimate.earliest == TODAY + timedelta(days=5 - 2 + 1 + 2)
    assert estimate.latest == TODAY + timedelta(days=5 + 7 + 1 + 4)
    assert (estimate.early_days, estimate.slack_days) == (2, 7)


def test_the_early_side_needs_enough_receipts_and_never_starts_before_today_or_launch() -> None:
    short = (-4,) * (MIN_LATENESS_HISTORY - 1)
    assert early_days(po(short)) == 0
    history = (0,) * 15 + (-4,) * 5
    assert estimate_line(0, 1, [po(history, in_days=2)], TODAY, HANDLING).earliest == (
        TODAY + timedelta(days=0 + 1 + 2)
    )
    launch = TODAY + timedelta(days=4)
    at_launch = estimate_line(0, 1, [po(history, in_days=5)], TODAY, HANDLING, launch)
    assert at_launch.earliest == launch + timedelta(days=1 + 2)
    assert at_launch.early_days == 1


def test_with_fewer_receipts_than_the_minimum_the_on_time_rate_decides() -> None:
    short = (30,) * (MIN_LATENESS_HISTORY - 1)
    assert slack_days(po(short, rate=0.9), TODAY) == 2  # ceil(14 * 0.1)
    assert slack_days(po(short, rate=None), TODAY) == 5


def test_a_supplier_rarely_late_but_then_by_two_weeks_gets_the_weeks_it_needs() -> None:
    history = (0,) * 18 + (14, 14)  # 90 % on time: the rate rule gave 2 days
    assert slack_days(po(history), TODAY) == 14


def test_a_supplier_often_a_day_late_gets_a_day_rather_than_a_week() -> None:
    history = (1, 0) * 10  # 50 % on time: the rate rule gave 7 days
    assert slack_days(po(history, rate=0.5), TODAY) == 1


def test_slips_and_an_overdue_date_still_add_their_days_to_the_quantile() -> None:
    history = (0,) * 15 + (3,) * 5
    assert slack_days(po(history, slips=2), TODAY) == 3 + 2 * 3
    assert slack_days(po(history, in_days=-1), TODAY) == 3 + 3


def test_a_production_run_adds_the_quantile_of_the_earlier_runs_to_its_own_slack() -> None:
    run = SupplySource(
        "RUN-1",
        SupplyKind.PRODUCTION_RUN,
        10,
        TODAY + timedelta(days=3),
        units_per_day=2,
        lateness_history=(0, 0, 0, 0, 5),
    )
    assert slack_days(run, TODAY) == 2 + 5


def test_the_score_still_comes_from_the_on_time_rate() -> None:
    assert supply_score(po((9,) * 20, rate=0.9), TODAY) == pytest.approx(0.9)


def test_the_window_ends_the_quantile_after_the_supply_date() -> None:
    estimate = estimate_line(0, 2, [po((0,) * 18 + (6, 6))], TODAY, HANDLING)
    assert estimate.ship_from == TODAY + timedelta(days=5)
    assert estimate.latest == TODAY + timedelta(days=5 + 6 + 1 + 4)
    assert estimate.slack_days == 6


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.integers(-3, 30), min_size=MIN_LATENESS_HISTORY, max_size=20),
    worse_by=st.lists(st.integers(0, 10), min_size=20, max_size=20),
    slips=st.integers(0, 3),
    kind=st.sampled_from([SupplyKind.PURCHASE_ORDER, SupplyKind.PRODUCTION_RUN]),
)
def test_a_later_lateness_history_never_narrows_the_slack(
    history: list[int], worse_by: list[int], slips: int, kind: SupplyKind
) -> None:
    def source(days: list[int]) -> SupplySource:
        return SupplySource("S", kind, 5, TODAY + timedelta(days=3), 1, 0.8, slips, tuple(days))

    worse = [d + extra for d, extra in zip(history, worse_by, strict=False)]
    assert slack_days(source(worse), TODAY) >= slack_days(source(history), TODAY)
    assert early_days(source(worse)) <= early_days(source(history))
    assert lateness_quantile(history) <= max(0, *history)
    assert earliness_quantile(history) <= max(0, *(-d for d in history))


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.integers(-5, 30), min_size=0, max_size=20),
    in_days=st.integers(-3, 20),
    launch_in=st.one_of(st.none(), st.integers(-3, 25)),
)
def test_the_window_holds_the_supply_day_and_never_starts_before_today_or_launch(
    history: list[int], in_days: int, launch_in: int | None
) -> None:
    launch = None if launch_in is None else TODAY + timedelta(days=launch_in)
    estimate = estimate_line(0, 1, [po(tuple(history), in_days=in_days)], TODAY, HANDLING, launch)
    assert estimate.earliest is not None
    assert estimate.latest is not None
    assert estimate.ship_from is not None
    start = max(TODAY, launch or TODAY) + timedelta(days=1 + 2)
    assert start <= estimate.earliest <= estimate.ship_from + timedelta(days=1 + 2)
    assert estimate.latest >= estimate.ship_from + timedelta(days=1 + 4)
