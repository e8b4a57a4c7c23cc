"""Order line rules: allowed status moves, what ships, pauses or cancels, shipment groups."""

from __future__ import annotations

import pytest

from app.domain.lines import (
    OPEN_STATUSES,
    TRANSITIONS,
    LineState,
    LineStatus,
    ShipsWhen,
    awaits_supply,
    can_transition,
    cancellable,
    pausable,
    resumable,
    shipment_groups,
    shippable,
    ships_when,
)
from app.domain.placement import normalise_tags, order_tags


def test_closed_lines_never_move_again() -> None:
    for closed in (LineStatus.SHIPPED, LineStatus.CANCELLED):
        assert TRANSITIONS[closed] == frozenset()
        assert not cancellable(closed)


def test_every_open_line_can_be_cancelled_and_only_those() -> None:
    assert {s for s in LineStatus if cancellable(s)} == OPEN_STATUSES


def test_a_waiting_line_ships_only_after_allocation() -> None:
    assert not can_transition(LineStatus.WAITING, LineStatus.SHIPPED)
    assert can_transition(LineStatus.WAITING, LineStatus.ALLOCATED)
    assert can_transition(LineStatus.ALLOCATED, LineStatus.WAITING)  # units taken back


@pytest.mark.parametrize(
    ("status", "released", "paused", "ships"),
    [
        (LineStatus.RESERVED, False, False, True),
        (LineStatus.ALLOCATED, True, False, True),
        (LineStatus.ALLOCATED, False, False, False),
        (LineStatus.ALLOCATED, True, True, False),
        (LineStatus.WAITING, True, False, False),
        (LineStatus.SHIPPED, True, False, False),
    ],
)
def test_what_can_ship(status: LineStatus, released: bool, paused: bool, ships: bool) -> None:
    assert shippable(status, released, paused) is ships


def test_only_waiting_preorders_and_backorders_pause_and_resume() -> None:
    assert pausable(LineState.PRE_ORDER, LineStatus.WAITING, paused=False)
    assert pausable(LineState.BACKORDER, LineStatus.ALLOCATED, paused=False)
    assert not pausable(LineState.READY, LineStatus.RESERVED, paused=False)
    assert not pausable(LineState.BACKORDER, LineStatus.WAITING, paused=True)
    assert resumable(LineState.BACKORDER, LineStatus.WAITING, paused=True)
    assert not resumable(LineState.BACKORDER, LineStatus.SHIPPED, paused=True)
    assert awaits_supply(LineState.PRE_ORDER, LineStatus.ALLOCATED)
    assert not awaits_supply(LineState.READY, LineStatus.RESERVED)


def test_shipment_groups_are_numbered_ready_preorder_backorder_from_one() -> None:
    states = [LineState.BACKORDER, LineState.READY, LineState.BACKORDER]
    assert shipment_groups(states, ship_together=False) == {
        LineState.READY: 1,
        LineState.BACKORDER: 2,
    }
    assert shipment_groups(iter(states), ship_together=True) == {
        LineState.READY: 1,
        LineState.BACKORDER: 1,
    }


def test_a_group_ships_when_its_state_does_or_together_when_complete() -> None:
    assert ships_when(["READY"]) is ShipsWhen.NOW
    assert ships_when(["PRE_ORDER", "PRE_ORDER"]) is ShipsWhen.AT_RELEASE
    assert ships_when(["BACKORDER"]) is ShipsWhen.WHEN_BACK_IN_STOCK
    assert ships_when(["READY", "BACKORDER"]) is ShipsWhen.TOGETHER_WHEN_COMPLETE


def test_an_order_is_tagged_by_its_states_its_products_and_its_channel() -> None:
    assert order_tags([LineState.READY], limited_run=False, channel_priority=False) == set()
    assert order_tags(
        [LineState.PRE_ORDER, LineState.BACKORDER], limited_run=True, channel_priority=True
    ) == {"PREORDER", "BACKORDER", "LIMITED_RUN", "PRIORITY"}


def test_tags_are_trimmed_upper_case_unique_and_sorted() -> None:
    assert normalise_tags([" vip", "VIP", "", "  ", "gift"]) == ["GIFT", "VIP"]
