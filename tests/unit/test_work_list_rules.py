"""The work list's urgency filters select exactly the shipments ``urgency`` names, and a
channel's cut-off is written HH:MM."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.dates import time_of_day
from app.domain.shipments import Urgency, urgency
from app.domain.work_list import DeadlineRange, deadline_range, deadline_ranges

NOW = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=4)

offsets = st.integers(min_value=-10_000, max_value=10_000).map(lambda m: timedelta(minutes=m))


@given(offsets)
def test_each_urgency_range_holds_exactly_the_deadlines_of_that_urgency(offset: timedelta) -> None:
    deadline = NOW + offset
    for kind in Urgency:
        assert deadline_range(kind, NOW, WINDOW).holds(deadline) == (
            urgency(deadline, NOW, WINDOW) is kind
        )


@given(st.sets(st.sampled_from(list(Urgency))), offsets)
def test_several_urgencies_select_the_union_of_their_deadlines(
    kinds: set[Urgency], offset: timedelta
) -> None:
    deadline = NOW + offset
    ranges = deadline_ranges(kinds, NOW, WINDOW)
    assert any(r.holds(deadline) for r in ranges) == (urgency(deadline, NOW, WINDOW) in kinds)


def test_a_deadline_exactly_now_is_breached_and_exactly_at_the_window_is_at_risk() -> None:
    assert deadline_range(Urgency.BREACHED, NOW, WINDOW).holds(NOW)
    assert deadline_range(Urgency.AT_RISK, NOW, WINDOW).holds(NOW + WINDOW)
    assert not deadline_range(Urgency.ON_TIME, NOW, WINDOW).holds(NOW + WINDOW)


def test_touching_urgencies_make_one_range_and_no_filter_is_everything() -> None:
    assert deadline_ranges([Urgency.BREACHED, Urgency.AT_RISK], NOW, WINDOW) == [
        DeadlineRange(None, NOW + WINDOW)
    ]
    assert deadline_ranges(None, NOW, WINDOW) == [DeadlineRange(None, None)]
    assert deadline_ranges([Urgency.BREACHED, Urgency.ON_TIME], NOW, WINDOW) == [
        DeadlineRange(None, NOW),
        DeadlineRange(NOW + WINDOW, None),
    ]
    assert deadline_ranges([], NOW, WINDOW) == []


def test_a_cutoff_is_a_24_hour_time_of_day_written_hh_mm() -> None:
    assert time_of_day("00:00") == time(0, 0)
    assert time_of_day("15:30") == time(15, 30)
    assert time_of_day("23:59") == time(23, 59)
    for bad in (
        "24:00",
        "12:60",
        "9:30",
        "09:5",
        "0930",
        "09:30:00",
        " 9:30",
        "ab:cd",
        "\uff11\uff12:00",
    ):
        assert time_of_day(bad) is None, bad
