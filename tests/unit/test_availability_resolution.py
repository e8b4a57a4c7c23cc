"""Unit tests for the pure availability rules in ``app.domain.availability``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.domain.availability import (
    BUTTON_LABELS,
    DEFAULT_MESSAGES,
    AvailabilityState,
    BackorderPolicy,
    ChannelHold,
    Counter,
    DateWindow,
    PoolKind,
    PoolView,
    PreorderPolicy,
    Resolution,
    SkuSnapshot,
    SplitPart,
    format_day,
    pool_views,
    ready_delivery_window,
    release_delivery_window,
    render_message,
    resolve,
)

IN_STOCK = AvailabilityState.IN_STOCK
PRE_ORDER = AvailabilityState.PRE_ORDER
BACKORDER = AvailabilityState.BACKORDER
SOLD_OUT = AvailabilityState.SOLD_OUT

TODAY = date(2025, 6, 10)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
NEXT_MONTH = date(2025, 7, 1)


def released_sku(on_hand: int = 0, **overrides: Any) -> SkuSnapshot:
    """A SKU released yesterday, no pre-order, no backorder unless overridden."""
    fields: dict[str, Any] = {"sku": "SKU-1", "release_date": YESTERDAY, "on_hand": on_hand}
    fields.update(overrides)
    return SkuSnapshot(**fields)


def unreleased_sku(
    cap: int | None = None, committed: int = 0, on_hand: int = 0, **overrides: Any
) -> SkuSnapshot:
    """A SKU released tomorrow with pre-order enabled under ``cap``."""
    fields: dict[str, Any] = {
        "sku": "SKU-1",
        "release_date": TOMORROW,
        "on_hand": on_hand,
        "preorder": PreorderPolicy(enabled=True, cap=cap, committed=committed),
    }
    fields.update(overrides)
    return SkuSnapshot(**fields)


def backorders(cap: int | None = None, committed: int = 0) -> BackorderPolicy:
    return BackorderPolicy(allowed=True, cap=cap, committed=committed)


def split(*parts: tuple[AvailabilityState, int]) -> tuple[SplitPart, ...]:
    return tuple(SplitPart(state, quantity) for state, quantity in parts)


def view_of(views: list[PoolView], kind: PoolKind) -> PoolView:
    matching = [v for v in views if v.kind is kind]
    assert len(matching) == 1, f"expected exactly one {kind} view, got {matching}"
    return matching[0]


# --------------------------------------------------------------------------- quantity guard


@pytest.mark.parametrize("quantity", [0, -1, -100])
def test_a_request_for_fewer_than_one_unit_is_rejected(quantity: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        resolve(released_sku(on_hand=10), quantity, TODAY)


def test_a_request_for_fewer_than_one_unit_is_rejected_even_when_nothing_could_be_sold() -> None:
    never_sellable = SkuSnapshot(sku="SKU-1", release_date=TOMORROW, on_hand=0)
    with pytest.raises(ValueError, match="at least 1"):
        resolve(never_sellable, 0, TODAY)


def test_a_request_for_exactly_one_unit_is_accepted() -> None:
    assert resolve(released_sku(on_hand=1), 1, TODAY).state is IN_STOCK


# --------------------------------------------------------------------------- release date


@pytest.mark.parametrize(
    ("release_date", "preorder_enabled", "expected"),
    [
        (TOMORROW, True, False),
        (TOMORROW, False, False),
        (TODAY, True, True),
        (TODAY, False, True),
        (YESTERDAY, True, True),
        (YESTERDAY, False, True),
        (None, True, False),
        (None, False, True),
    ],
    ids=[
        "tomorrow-preorder",
        "tomorrow-no-preorder",
        "today-preorder",
        "today-no-preorder",
        "yesterday-preorder",
        "yesterday-no-preorder",
        "no-date-preorder",
        "no-date-no-preorder",
    ],
)
def test_a_sku_counts_as_released_from_its_release_date_and_an_undated_preorder_waits(
    release_date: date | None, preorder_enabled: bool, expected: bool
) -> None:
    sku = SkuSnapshot(
        sku="SKU-1",
        release_date=release_date,
        on_hand=0,
        preorder=PreorderPolicy(enabled=preorder_enabled),
    )
    assert sku.is_released(TODAY) is expected


def test_a_release_date_equal_to_today_sells_ready_stock_instead_of_taking_preorders() -> None:
    sku = SkuSnapshot(
        sku="SKU-1",
        release_date=TODAY,
        on_hand=3,
        preorder=PreorderPolicy(enabled=True, cap=100),
    )
    result = resolve(sku, 3, TODAY)
    assert result.state is IN_STOCK
    assert result.released is True
    assert result.split == split((IN_STOCK, 3))


def test_the_day_before_release_the_same_sku_is_still_a_preorder() -> None:
    sku = SkuSnapshot(
        sku="SKU-1",
        release_date=TODAY,
        on_hand=3,
        preorder=PreorderPolicy(enabled=True, cap=100),
    )
    result = resolve(sku, 3, YESTERDAY)
    assert result.state is PRE_ORDER
    assert result.released is False
    assert result.split == split((PRE_ORDER, 3))


def test_a_preorder_without_a_release_date_keeps_taking_preorders() -> None:
    sku = unreleased_sku(cap=None, on_hand=50, release_date=None)
    result = resolve(sku, 5, TODAY)
    assert result.state is PRE_ORDER
    assert result.released is False
    assert result.split == split((PRE_ORDER, 5))


def test_a_sku_without_preorder_and_without_a_release_date_sells_ready_stock() -> None:
    sku = SkuSnapshot(sku="SKU-1", release_date=None, on_hand=4)
    result = resolve(sku, 4, TODAY)
    assert result.state is IN_STOCK
    assert result.released is True


@pytest.mark.parametrize("backorder_allowed", [False, True])
def test_an_unreleased_sku_without_preorder_is_sold_out_whatever_else_it_has(
    backorder_allowed: bool,
) -> None:
    sku = SkuSnapshot(
        sku="SKU-1",
        release_date=TOMORROW,
        on_hand=100,
        incoming=50,
        preorder=PreorderPolicy(enabled=False, cap=10),
        backorder=BackorderPolicy(allowed=backorder_allowed, cap=None),
    )
    result = resolve(sku, 1, TODAY)
    assert result == Resolution(
        state=SOLD_OUT,
        requested=1,
        available_quantity=0,
        split=(),
        cap_remaining=0,
        released=False,
        fulfillable=False,
    )


# --------------------------------------------------------------------------- pre-order


def test_an_unreleased_preorder_under_its_cap_is_a_preorder() -> None:
    result = resolve(unreleased_sku(cap=10, committed=3), 2, TODAY)
    assert result.state is PRE_ORDER
    assert result.split == split((PRE_ORDER, 2))
    assert result.available_quantity == 7
    assert result.cap_remaining == 7
    assert result.fulfillable is True
    assert result.button_label == "Pre-order"


def test_stock_on_hand_before_release_is_not_sold_as_ready() -> None:
    result = resolve(unreleased_sku(cap=5, on_hand=1000), 3, TODAY)
    assert result.state is PRE_ORDER
    assert all(part.state is not IN_STOCK for part in result.split)
    assert result.available_quantity == 5


def test_stock_on_hand_before_release_does_not_rescue_an_exhausted_preorder_cap() -> None:
    result = resolve(unreleased_sku(cap=5, committed=5, on_hand=1000), 1, TODAY)
    assert result.state is SOLD_OUT
    assert result.split == ()
    assert result.available_quantity == 0


@pytest.mark.parametrize(
    ("cap", "committed", "quantity", "state", "expected_split", "fulfillable"),
    [
        (10, 8, 1, PRE_ORDER, [(PRE_ORDER, 1)], True),
        (10, 8, 2, PRE_ORDER, [(PRE_ORDER, 2)], True),
        (10, 8, 3, SOLD_OUT, [(PRE_ORDER, 2)], False),
        (10, 9, 1, PRE_ORDER, [(PRE_ORDER, 1)], True),
        (10, 10, 1, SOLD_OUT, [], False),
        (10, 12, 1, SOLD_OUT, [], False),
        (0, 0, 1, SOLD_OUT, [], False),
    ],
    ids=[
        "two-left-ask-one",
        "two-left-ask-two",
        "two-left-ask-three",
        "one-left-ask-one",
        "exactly-at-cap",
        "over-committed-after-cap-cut",
        "zero-cap",
    ],
)
def test_a_preorder_is_capped_and_sells_out_at_its_cap_when_backorders_are_not_allowed(
    cap: int,
    committed: int,
    quantity: int,
    state: AvailabilityState,
    expected_split: list[tuple[AvailabilityState, int]],
    fulfillable: bool,
) -> None:
    result = resolve(unreleased_sku(cap=cap, committed=committed), quantity, TODAY)
    assert result.state is state
    assert result.split == split(*expected_split)
    assert result.fulfillable is fulfillable


def test_a_preorder_exactly_at_its_cap_is_sold_out_when_backorders_are_not_allowed() -> None:
    result = resolve(unreleased_sku(cap=10, committed=10), 1, TODAY)
    assert result.state is SOLD_OUT
    assert result.cap_remaining == 0
    assert result.available_quantity == 0
    assert result.button_label == "Sold out"


def test_a_preorder_exactly_at_its_cap_becomes_a_backorder_when_backorders_are_allowed() -> None:
    sku = unreleased_sku(cap=10, committed=10, backorder=backorders(cap=5, committed=1))
    result = resolve(sku, 2, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((BACKORDER, 2))
    assert result.cap_remaining == 4
    assert result.available_quantity == 4
    assert result.fulfillable is True
    assert result.button_label == "Backorder"


def test_a_preorder_one_short_of_its_cap_still_takes_one_preorder() -> None:
    sku = unreleased_sku(cap=10, committed=9, backorder=backorders(cap=5))
    result = resolve(sku, 1, TODAY)
    assert result.state is PRE_ORDER
    assert result.split == split((PRE_ORDER, 1))
    assert result.cap_remaining == 1


def test_a_preorder_request_crossing_its_cap_spills_into_backorder() -> None:
    sku = unreleased_sku(cap=10, committed=8, backorder=backorders(cap=5))
    result = resolve(sku, 5, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((PRE_ORDER, 2), (BACKORDER, 3))
    assert result.cap_remaining == 5
    assert result.available_quantity == 7
    assert result.fulfillable is True


def test_a_preorder_request_beyond_both_caps_is_sold_out_and_shows_what_is_possible() -> None:
    sku = unreleased_sku(cap=10, committed=8, backorder=backorders(cap=5, committed=2))
    result = resolve(sku, 6, TODAY)
    assert result.state is SOLD_OUT
    assert result.split == split((PRE_ORDER, 2), (BACKORDER, 3))
    assert result.cap_remaining == 0
    assert result.available_quantity == 5
    assert result.fulfillable is False


def test_an_uncapped_preorder_takes_any_quantity_and_reports_unlimited() -> None:
    result = resolve(unreleased_sku(cap=None, committed=10_000), 1_000_000, TODAY)
    assert result.state is PRE_ORDER
    assert result.split == split((PRE_ORDER, 1_000_000))
    assert result.available_quantity is None
    assert result.cap_remaining is None


def test_a_capped_preorder_with_uncapped_backorders_reports_unlimited_availability() -> None:
    sku = unreleased_sku(cap=3, backorder=backorders(cap=None))
    result = resolve(sku, 5, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((PRE_ORDER, 3), (BACKORDER, 2))
    assert result.available_quantity is None
    assert result.cap_remaining is None


# --------------------------------------------------------------------------- ready stock


@pytest.mark.parametrize(
    ("on_hand", "quantity", "state", "expected_split"),
    [
        (5, 1, IN_STOCK, [(IN_STOCK, 1)]),
        (5, 4, IN_STOCK, [(IN_STOCK, 4)]),
        (5, 5, IN_STOCK, [(IN_STOCK, 5)]),
        (5, 6, SOLD_OUT, [(IN_STOCK, 5)]),
        (0, 1, SOLD_OUT, []),
    ],
    ids=["one-of-five", "four-of-five", "five-of-five", "six-of-five", "none-on-hand"],
)
def test_a_released_sku_is_in_stock_only_when_ready_stock_covers_the_whole_request(
    on_hand: int,
    quantity: int,
    state: AvailabilityState,
    expected_split: list[tuple[AvailabilityState, int]],
) -> None:
    result = resolve(released_sku(on_hand=on_hand), quantity, TODAY)
    assert result.state is state
    assert result.split == split(*expected_split)
    assert result.fulfillable is (state is IN_STOCK)
    assert result.available_quantity == on_hand


def test_an_in_stock_answer_has_no_cap_remaining_and_says_add_to_cart() -> None:
    result = resolve(released_sku(on_hand=5), 2, TODAY)
    assert result == Resolution(
        state=IN_STOCK,
        requested=2,
        available_quantity=5,
        split=split((IN_STOCK, 2)),
        cap_remaining=None,
        released=True,
        fulfillable=True,
    )
    assert result.button_label == "Add to cart"


def test_ready_stock_already_committed_is_not_sold_again() -> None:
    sku = released_sku(on_hand=10, ready_committed=7)
    assert resolve(sku, 3, TODAY).state is IN_STOCK
    over = resolve(sku, 4, TODAY)
    assert over.state is SOLD_OUT
    assert over.split == split((IN_STOCK, 3))
    assert over.available_quantity == 3


def test_ready_stock_committed_beyond_what_is_on_hand_leaves_nothing_to_sell() -> None:
    result = resolve(released_sku(on_hand=4, ready_committed=6), 1, TODAY)
    assert result.state is SOLD_OUT
    assert result.split == ()
    assert result.available_quantity == 0


# --------------------------------------------------------------------------- safety stock, reserved


@pytest.mark.parametrize(
    ("on_hand", "safety_stock", "reserved", "sellable"),
    [
        (10, 0, 0, 10),
        (10, 3, 0, 7),
        (10, 0, 4, 6),
        (10, 3, 4, 3),
        (10, 6, 4, 0),
        (10, 7, 4, 0),
        (10, 10, 0, 0),
        (10, 11, 0, 0),
        (0, 5, 5, 0),
    ],
)
def test_safety_stock_and_ring_fenced_units_are_taken_out_of_sellable_stock(
    on_hand: int, safety_stock: int, reserved: int, sellable: int
) -> None:
    sku = released_sku(on_hand=on_hand, safety_stock=safety_stock, reserved=reserved)
    assert sku.sellable == sellable
    assert sku.ready_for(None) == sellable


@pytest.mark.parametrize(
    ("on_hand", "quantity", "state"),
    [(10, 7, IN_STOCK), (10, 8, SOLD_OUT), (9, 7, SOLD_OUT), (11, 8, IN_STOCK)],
    ids=["exactly-sellable", "one-over", "one-unit-short-on-hand", "one-more-on-hand"],
)
def test_safety_stock_is_never_sold_as_ready_down_to_the_last_unit(
    on_hand: int, quantity: int, state: AvailabilityState
) -> None:
    result = resolve(released_sku(on_hand=on_hand, safety_stock=3), quantity, TODAY)
    assert result.state is state


def test_ring_fenced_units_are_never_sold_as_ready() -> None:
    sku = released_sku(on_hand=10, reserved=4)
    assert resolve(sku, 6, TODAY).state is IN_STOCK
    over = resolve(sku, 7, TODAY)
    assert over.state is SOLD_OUT
    assert over.split == split((IN_STOCK, 6))


def test_when_only_safety_stock_is_left_a_backorder_is_taken_instead() -> None:
    sku = released_sku(on_hand=3, safety_stock=3, backorder=backorders(cap=10))
    result = resolve(sku, 2, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((BACKORDER, 2))


# --------------------------------------------------------------------------- backorder


def test_a_released_sku_short_of_stock_splits_into_ready_and_backorder() -> None:
    sku = released_sku(on_hand=2, backorder=backorders(cap=10))
    result = resolve(sku, 5, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((IN_STOCK, 2), (BACKORDER, 3))
    assert result.cap_remaining == 10
    assert result.available_quantity == 12
    assert result.fulfillable is True
    assert result.released is True


def test_a_released_sku_with_no_stock_and_backorders_allowed_is_a_backorder() -> None:
    sku = released_sku(on_hand=0, backorder=backorders(cap=10, committed=4))
    result = resolve(sku, 1, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((BACKORDER, 1))
    assert result.cap_remaining == 6


def test_a_released_sku_with_enough_stock_never_touches_the_backorder_cap() -> None:
    sku = released_sku(on_hand=5, backorder=backorders(cap=10))
    result = resolve(sku, 5, TODAY)
    assert result.state is IN_STOCK
    assert result.split == split((IN_STOCK, 5))
    assert result.cap_remaining is None
    assert result.available_quantity == 15


@pytest.mark.parametrize(
    ("committed", "quantity", "state", "expected_split"),
    [
        (7, 1, IN_STOCK, [(IN_STOCK, 1)]),
        (7, 4, BACKORDER, [(IN_STOCK, 1), (BACKORDER, 3)]),
        (7, 5, SOLD_OUT, [(IN_STOCK, 1), (BACKORDER, 3)]),
        (9, 2, BACKORDER, [(IN_STOCK, 1), (BACKORDER, 1)]),
        (10, 2, SOLD_OUT, [(IN_STOCK, 1)]),
        (11, 2, SOLD_OUT, [(IN_STOCK, 1)]),
    ],
    ids=[
        "ready-covers-it",
        "fills-backorder-cap-exactly",
        "one-past-backorder-cap",
        "last-backorder-place",
        "backorder-cap-exactly-reached",
        "backorder-over-committed",
    ],
)
def test_a_backorder_is_capped_and_the_request_sells_out_one_unit_past_the_cap(
    committed: int,
    quantity: int,
    state: AvailabilityState,
    expected_split: list[tuple[AvailabilityState, int]],
) -> None:
    sku = released_sku(on_hand=1, backorder=backorders(cap=10, committed=committed))
    result = resolve(sku, quantity, TODAY)
    assert result.state is state
    assert result.split == split(*expected_split)
    assert result.fulfillable is (state is not SOLD_OUT)


def test_a_released_sku_out_of_stock_at_its_backorder_cap_is_sold_out() -> None:
    sku = released_sku(on_hand=0, backorder=backorders(cap=10, committed=10))
    result = resolve(sku, 1, TODAY)
    assert result.state is SOLD_OUT
    assert result.split == ()
    assert result.cap_remaining == 0
    assert result.available_quantity == 0


def test_a_released_sku_short_of_stock_without_backorders_is_sold_out_with_a_partial_split() -> (
    None
):
    result = resolve(released_sku(on_hand=2), 5, TODAY)
    assert result.state is SOLD_OUT
    assert result.split == split((IN_STOCK, 2))
    assert result.cap_remaining == 0
    assert result.fulfillable is False


def test_a_disallowed_backorder_ignores_its_cap_and_committed_counters() -> None:
    sku = released_sku(on_hand=0, backorder=BackorderPolicy(allowed=False, cap=None, committed=0))
    result = resolve(sku, 1, TODAY)
    assert result.state is SOLD_OUT
    assert result.available_quantity == 0


def test_an_uncapped_backorder_takes_any_quantity_and_reports_unlimited() -> None:
    sku = released_sku(on_hand=2, backorder=backorders(cap=None, committed=500))
    result = resolve(sku, 1000, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((IN_STOCK, 2), (BACKORDER, 998))
    assert result.available_quantity is None
    assert result.cap_remaining is None


def test_preorder_settings_do_not_matter_once_the_sku_is_released() -> None:
    sku = released_sku(
        on_hand=1,
        preorder=PreorderPolicy(enabled=True, cap=None),
        backorder=backorders(cap=2),
    )
    result = resolve(sku, 3, TODAY)
    assert result.state is BACKORDER
    assert result.split == split((IN_STOCK, 1), (BACKORDER, 2))
    assert result.available_quantity == 3


# --------------------------------------------------------------------------- cap_remaining


@pytest.mark.parametrize(
    ("sku", "quantity", "state", "cap_remaining"),
    [
        (unreleased_sku(cap=10, committed=4, backorder=backorders(cap=3)), 1, PRE_ORDER, 6),
        (unreleased_sku(cap=10, committed=10, backorder=backorders(cap=3)), 1, BACKORDER, 3),
        (released_sku(on_hand=5, backorder=backorders(cap=3)), 5, IN_STOCK, None),
        (released_sku(on_hand=5, backorder=backorders(cap=3, committed=1)), 6, BACKORDER, 2),
        (released_sku(on_hand=5, backorder=backorders(cap=3)), 9, SOLD_OUT, 0),
        (unreleased_sku(cap=None), 1, PRE_ORDER, None),
        (unreleased_sku(cap=2), 3, SOLD_OUT, 0),
    ],
    ids=[
        "preorder-reports-preorder-cap",
        "backorder-reports-backorder-cap",
        "in-stock-reports-none",
        "released-backorder-reports-backorder-cap",
        "sold-out-reports-zero",
        "uncapped-preorder-reports-none",
        "preorder-sold-out-reports-zero",
    ],
)
def test_cap_remaining_follows_the_headline_state(
    sku: SkuSnapshot, quantity: int, state: AvailabilityState, cap_remaining: int | None
) -> None:
    result = resolve(sku, quantity, TODAY)
    assert result.state is state
    assert result.cap_remaining == cap_remaining


def test_cap_remaining_is_the_room_left_before_this_request() -> None:
    result = resolve(unreleased_sku(cap=10, committed=4), 6, TODAY)
    assert result.state is PRE_ORDER
    assert result.cap_remaining == 6


def test_the_resolution_echoes_the_requested_quantity_whatever_the_outcome() -> None:
    assert resolve(released_sku(on_hand=0), 7, TODAY).requested == 7
    assert resolve(released_sku(on_hand=9), 7, TODAY).requested == 7
    assert resolve(SkuSnapshot("SKU-1", TOMORROW, 0), 7, TODAY).requested == 7


# --------------------------------------------------------------------------- channel holds


def test_a_channel_hold_sets_aside_its_hold_or_what_it_already_sold_whichever_is_more() -> None:
    assert ChannelHold("web", hold=5).set_aside == 5
    assert ChannelHold("web", hold=5, committed=3).set_aside == 5
    assert ChannelHold("web", hold=5, committed=5).set_aside == 5
    assert ChannelHold("web", hold=2, committed=5).set_aside == 5


@pytest.mark.parametrize(
    ("hold", "committed", "remaining"),
    [(5, 0, 5), (5, 4, 1), (5, 5, 0), (2, 5, 0), (0, 0, 0)],
)
def test_a_channel_hold_has_what_is_left_of_its_hold_remaining(
    hold: int, committed: int, remaining: int
) -> None:
    assert ChannelHold("web", hold=hold, committed=committed).remaining == remaining


def test_stock_held_for_one_channel_cannot_be_sold_by_another_channel() -> None:
    sku = released_sku(on_hand=10, channel_holds=(ChannelHold("marketplace", hold=4),))
    assert sku.shared_capacity == 6
    assert sku.ready_for("web") == 6
    assert sku.ready_for(None) == 6
    assert resolve(sku, 6, TODAY, channel="web").state is IN_STOCK
    over = resolve(sku, 7, TODAY, channel="web")
    assert over.state is SOLD_OUT
    assert over.split == split((IN_STOCK, 6))
    assert over.available_quantity == 6


def test_the_holding_channel_sees_shared_stock_plus_what_remains_of_its_own_hold() -> None:
    sku = released_sku(
        on_hand=10,
        ready_committed=2,
        channel_holds=(ChannelHold("marketplace", hold=4, committed=1),),
    )
    assert sku.ready_for("marketplace") == (6 - 2) + (4 - 1)
    assert resolve(sku, 7, TODAY, channel="marketplace").state is IN_STOCK
    over = resolve(sku, 8, TODAY, channel="marketplace")
    assert over.state is SOLD_OUT
    assert over.split == split((IN_STOCK, 7))
    assert over.available_quantity == 7


def test_each_channel_sees_only_its_own_hold_on_top_of_the_shared_stock() -> None:
    sku = released_sku(
        on_hand=20,
        channel_holds=(
            ChannelHold("marketplace", hold=5, committed=2),
            ChannelHold("retail", hold=3),
        ),
    )
    assert sku.shared_capacity == 12
    assert sku.ready_for(None) == 12
    assert sku.ready_for("web") == 12
    assert sku.ready_for("marketplace") == 15
    assert sku.ready_for("retail") == 15


def test_several_holds_for_the_same_channel_add_up() -> None:
    sku = released_sku(
        on_hand=20,
        channel_holds=(ChannelHold("app", hold=3), ChannelHold("app", hold=2, committed=1)),
    )
    assert sku.shared_capacity == 15
    assert sku.ready_for("app") == 15 + 3 + 1


def test_a_hold_reduced_below_what_it_already_sold_sets_aside_what_it_sold() -> None:
    sku = released_sku(on_hand=10, channel_holds=(ChannelHold("marketplace", hold=2, committed=5),))
    assert sku.shared_capacity == 5
    assert sku.ready_for("web") == 5
    assert sku.ready_for("marketplace") == 5
    assert resolve(sku, 5, TODAY, channel="marketplace").state is IN_STOCK
    assert resolve(sku, 6, TODAY, channel="marketplace").state is SOLD_OUT


def test_channel_holds_are_carved_out_of_sellable_stock_after_safety_and_reserved() -> None:
    sku = released_sku(
        on_hand=20, safety_stock=3, reserved=2, channel_holds=(ChannelHold("app", hold=5),)
    )
    assert sku.sellable == 15
    assert sku.shared_capacity == 10
    assert sku.ready_for("app") == 15


def test_holds_larger_than_sellable_stock_leave_no_shared_stock() -> None:
    sku = released_sku(on_hand=4, channel_holds=(ChannelHold("app", hold=10),))
    assert sku.shared_capacity == 0
    assert sku.ready_for("web") == 0


def test_channel_pool_exhausted_while_others_have_stock() -> None:
    sku = released_sku(
        on_hand=10,
        ready_committed=4,
        channel_holds=(
            ChannelHold("marketplace", hold=3, committed=3),
            ChannelHold("retail", hold=3, committed=1),
        ),
        backorder=BackorderPolicy(allowed=False),
    )
    # Shared stock (10 - 3 - 3 = 4) is fully committed; marketplace's hold is used up.
    marketplace = resolve(sku, 1, TODAY, channel="marketplace")
    assert marketplace.state is SOLD_OUT
    assert marketplace.split == ()
    assert marketplace.available_quantity == 0

    web = resolve(sku, 1, TODAY, channel="web")
    assert web.state is SOLD_OUT
    assert web.available_quantity == 0

    retail = resolve(sku, 2, TODAY, channel="retail")
    assert retail.state is IN_STOCK
    assert retail.split == split((IN_STOCK, 2))
    assert retail.available_quantity == 2
    assert resolve(sku, 3, TODAY, channel="retail").state is SOLD_OUT


def test_an_exhausted_channel_pool_falls_back_to_backorder_when_allowed() -> None:
    sku = released_sku(
        on_hand=6,
        ready_committed=3,
        channel_holds=(ChannelHold("marketplace", hold=3, committed=3),),
        backorder=backorders(cap=4),
    )
    result = resolve(sku, 2, TODAY, channel="marketplace")
    assert result.state is BACKORDER
    assert result.split == split((BACKORDER, 2))
    assert result.available_quantity == 4


def test_a_channel_hold_does_not_unlock_stock_before_release() -> None:
    sku = unreleased_sku(cap=2, on_hand=50, channel_holds=(ChannelHold("app", hold=10),))
    result = resolve(sku, 3, TODAY, channel="app")
    assert result.state is SOLD_OUT
    assert result.split == split((PRE_ORDER, 2))
    assert result.available_quantity == 2


def test_a_hold_larger_than_sellable_stock_never_lets_its_channel_sell_safety_stock() -> None:
    sku = released_sku(
        on_hand=5, safety_stock=2, channel_holds=(ChannelHold("marketplace", hold=5),)
    )
    assert sku.sellable == 3
    assert sku.ready_for("marketplace") == 3
    result = resolve(sku, 4, TODAY, channel="marketplace")
    assert result.state is SOLD_OUT
    assert result.split == split((IN_STOCK, 3))


def test_a_hold_larger_than_sellable_stock_never_lets_its_channel_sell_ring_fenced_units() -> None:
    sku = released_sku(on_hand=6, reserved=4, channel_holds=(ChannelHold("app", hold=6),))
    assert sku.sellable == 2
    result = resolve(sku, 6, TODAY, channel="app")
    assert result.state is SOLD_OUT
    assert result.split == split((IN_STOCK, 2))
    assert result.available_quantity == 2


# --------------------------------------------------------------------------- available_quantity


@pytest.mark.parametrize(
    ("sku", "channel", "available"),
    [
        (released_sku(on_hand=5), None, 5),
        (released_sku(on_hand=5, backorder=backorders(cap=4, committed=1)), None, 8),
        (released_sku(on_hand=5, backorder=backorders(cap=None)), None, None),
        (released_sku(on_hand=0, backorder=backorders(cap=4, committed=4)), None, 0),
        (unreleased_sku(cap=6, committed=2, on_hand=99), None, 4),
        (unreleased_sku(cap=6, committed=2, backorder=backorders(cap=3)), None, 7),
        (unreleased_sku(cap=None, backorder=backorders(cap=3)), None, None),
        (unreleased_sku(cap=6, backorder=backorders(cap=None)), None, None),
        (released_sku(on_hand=5, channel_holds=(ChannelHold("app", hold=2),)), None, 3),
        (released_sku(on_hand=5, channel_holds=(ChannelHold("app", hold=2),)), "app", 5),
        (
            released_sku(on_hand=5, preorder=PreorderPolicy(enabled=True, cap=None)),
            None,
            5,
        ),
    ],
    ids=[
        "ready-only",
        "ready-plus-capped-backorder",
        "ready-plus-uncapped-backorder",
        "nothing-left",
        "preorder-ignores-on-hand",
        "preorder-plus-capped-backorder",
        "uncapped-preorder",
        "uncapped-backorder-before-release",
        "other-channel-excludes-hold",
        "holding-channel-includes-hold",
        "released-ignores-uncapped-preorder",
    ],
)
def test_available_quantity_is_everything_buyable_now_and_none_when_a_cap_is_unlimited(
    sku: SkuSnapshot, channel: str | None, available: int | None
) -> None:
    assert resolve(sku, 1, TODAY, channel=channel).available_quantity == available


def test_available_quantity_does_not_depend_on_the_requested_quantity() -> None:
    sku = released_sku(on_hand=3, backorder=backorders(cap=2))
    assert {resolve(sku, q, TODAY).available_quantity for q in (1, 3, 5, 6, 50)} == {5}


# --------------------------------------------------------------------------- counters, labels


@pytest.mark.parametrize(
    ("capacity", "committed", "available", "take_3"),
    [
        (None, 0, None, 3),
        (None, 99, None, 3),
        (10, 0, 10, 3),
        (10, 8, 2, 2),
        (10, 7, 3, 3),
        (10, 10, 0, 0),
        (10, 11, 0, 0),
        (0, 0, 0, 0),
    ],
)
def test_a_counter_knows_how_many_units_still_fit_under_its_capacity(
    capacity: int | None, committed: int, available: int | None, take_3: int
) -> None:
    counter = Counter(capacity, committed)
    assert counter.available == available
    assert counter.can_take(3) == take_3


def test_every_state_has_a_button_label_and_a_default_message() -> None:
    assert BUTTON_LABELS == {
        IN_STOCK: "Add to cart",
        PRE_ORDER: "Pre-order",
        BACKORDER: "Backorder",
        SOLD_OUT: "Sold out",
    }
    assert set(DEFAULT_MESSAGES) == set(AvailabilityState)


def test_the_default_preorder_message_renders_the_release_date() -> None:
    message = render_message(DEFAULT_MESSAGES[PRE_ORDER], NEXT_MONTH, TODAY)
    assert message == "Pre-order: ships from 1 July"


# --------------------------------------------------------------------------- pool views


def test_pool_views_list_ready_preorder_backorder_and_reserved_then_one_view_per_hold() -> None:
    sku = released_sku(
        on_hand=10,
        channel_holds=(ChannelHold("app", hold=1), ChannelHold("retail", hold=2)),
    )
    views = pool_views(sku, TODAY)
    assert [v.kind for v in views] == [
        PoolKind.READY,
        PoolKind.PRE_ORDER,
        PoolKind.BACKORDER,
        PoolKind.RESERVED,
        PoolKind.CHANNEL,
        PoolKind.CHANNEL,
    ]
    assert [v.channel for v in views[4:]] == ["app", "retail"]
    assert all(v.channel is None for v in views[:4])


def test_the_ready_pool_after_release_is_shared_stock_less_what_is_committed() -> None:
    sku = released_sku(
        on_hand=20,
        safety_stock=2,
        reserved=3,
        ready_committed=4,
        channel_holds=(ChannelHold("app", hold=5),),
    )
    ready = view_of(pool_views(sku, TODAY), PoolKind.READY)
    assert ready == PoolView(PoolKind.READY, capacity=10, committed=4, available=6)
    assert ready.available == sku.ready_for(None)


def test_the_ready_pool_never_shows_negative_availability() -> None:
    ready = view_of(pool_views(released_sku(on_hand=3, ready_committed=5), TODAY), PoolKind.READY)
    assert ready == PoolView(PoolKind.READY, capacity=3, committed=5, available=0)


@pytest.mark.parametrize("release_date", [TOMORROW, None])
def test_the_ready_pool_has_no_capacity_before_release(release_date: date | None) -> None:
    sku = unreleased_sku(cap=10, on_hand=50, ready_committed=0, release_date=release_date)
    ready = view_of(pool_views(sku, TODAY), PoolKind.READY)
    assert ready == PoolView(PoolKind.READY, capacity=0, committed=0, available=0)


def test_the_ready_pool_opens_on_the_release_date_itself() -> None:
    sku = unreleased_sku(cap=10, on_hand=50, release_date=TODAY)
    assert view_of(pool_views(sku, TODAY), PoolKind.READY).capacity == 50
    assert view_of(pool_views(sku, YESTERDAY), PoolKind.READY).capacity == 0


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (PreorderPolicy(enabled=True, cap=10, committed=3), (10, 3, 7)),
        (PreorderPolicy(enabled=True, cap=10, committed=10), (10, 10, 0)),
        (PreorderPolicy(enabled=True, cap=10, committed=12), (10, 12, 0)),
        (PreorderPolicy(enabled=True, cap=None, committed=3), (None, 3, None)),
        (PreorderPolicy(enabled=False, cap=10, committed=3), (0, 3, 0)),
        (PreorderPolicy(enabled=False, cap=None, committed=0), (0, 0, 0)),
    ],
    ids=["capped", "at-cap", "over-cap", "uncapped", "disabled", "disabled-uncapped"],
)
def test_the_preorder_pool_shows_its_cap_and_has_no_capacity_when_disabled(
    policy: PreorderPolicy, expected: tuple[int | None, int, int | None]
) -> None:
    sku = SkuSnapshot(sku="SKU-1", release_date=TOMORROW, on_hand=0, preorder=policy)
    view = view_of(pool_views(sku, TODAY), PoolKind.PRE_ORDER)
    assert (view.capacity, view.committed, view.available) == expected
    assert view.incoming is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BackorderPolicy(allowed=True, cap=8, committed=3), (8, 3, 5)),
        (BackorderPolicy(allowed=True, cap=8, committed=8), (8, 8, 0)),
        (BackorderPolicy(allowed=True, cap=None, committed=3), (None, 3, None)),
        (BackorderPolicy(allowed=False, cap=8, committed=3), (0, 3, 0)),
        (BackorderPolicy(allowed=False, cap=None, committed=0), (0, 0, 0)),
    ],
    ids=["capped", "at-cap", "uncapped", "disallowed", "disallowed-uncapped"],
)
def test_the_backorder_pool_shows_its_cap_has_no_capacity_when_disallowed_and_carries_incoming(
    policy: BackorderPolicy, expected: tuple[int | None, int, int | None]
) -> None:
    sku = released_sku(on_hand=0, incoming=40, backorder=policy)
    view = view_of(pool_views(sku, TODAY), PoolKind.BACKORDER)
    assert (view.capacity, view.committed, view.available) == expected
    assert view.incoming == 40


def test_the_reserved_pool_shows_ring_fenced_units_without_a_capacity() -> None:
    view = view_of(pool_views(released_sku(on_hand=10, reserved=4), TODAY), PoolKind.RESERVED)
    assert view == PoolView(PoolKind.RESERVED, capacity=None, committed=4, available=None)


def test_channel_pools_show_each_hold_after_release() -> None:
    sku = released_sku(
        on_hand=20,
        channel_holds=(
            ChannelHold("app", hold=5, committed=2),
            ChannelHold("retail", hold=2, committed=4),
        ),
    )
    channels = [v for v in pool_views(sku, TODAY) if v.kind is PoolKind.CHANNEL]
    assert channels == [
        PoolView(PoolKind.CHANNEL, capacity=5, committed=2, available=3, channel="app"),
        PoolView(PoolKind.CHANNEL, capacity=2, committed=4, available=0, channel="retail"),
    ]


def test_channel_pools_have_no_capacity_before_release_but_keep_their_committed() -> None:
    sku = unreleased_sku(cap=5, on_hand=20, channel_holds=(ChannelHold("app", 5, committed=1),))
    channels = [v for v in pool_views(sku, TODAY) if v.kind is PoolKind.CHANNEL]
    assert channels == [
        PoolView(PoolKind.CHANNEL, capacity=0, committed=1, available=0, channel="app")
    ]


def test_a_sku_without_holds_has_no_channel_pools() -> None:
    views = pool_views(released_sku(on_hand=5), TODAY)
    assert not [v for v in views if v.kind is PoolKind.CHANNEL]
    assert len(views) == 4


# --------------------------------------------------------------------------- messages and dates


@pytest.mark.parametrize(
    ("day", "today", "text"),
    [
        (date(2025, 7, 1), TODAY, "1 July"),
        (date(2025, 12, 31), TODAY, "31 December"),
        (date(2025, 1, 9), TODAY, "9 January"),
        (date(2026, 1, 1), TODAY, "1 January 2026"),
        (date(2024, 12, 31), TODAY, "31 December 2024"),
        (date(2026, 7, 1), None, "1 July"),
    ],
    ids=[
        "this-year",
        "last-day-this-year",
        "no-zero-padding",
        "next-year",
        "last-year",
        "no-today",
    ],
)
def test_a_day_is_written_day_month_with_the_year_only_when_it_is_not_this_year(
    day: date, today: date | None, text: str
) -> None:
    assert format_day(day, today) == text


def test_a_day_without_a_today_omits_the_year() -> None:
    assert format_day(date(2031, 3, 5)) == "5 March"


@pytest.mark.parametrize(
    ("template", "release_date", "message"),
    [
        ("Ships from {date}", date(2025, 7, 1), "Ships from 1 July"),
        ("Ships from {date}", date(2026, 7, 1), "Ships from 1 July 2026"),
        ("Ships from {date}", None, "Ships soon"),
        ("{date}: out {date}", date(2025, 7, 1), "1 July: out 1 July"),
        ("Coming soon", date(2025, 7, 1), "Coming soon"),
        ("Coming soon", None, "Coming soon"),
    ],
    ids=["this-year", "next-year", "no-date", "placeholder-twice", "no-placeholder", "neither"],
)
def test_a_message_template_gets_the_release_date_or_soon(
    template: str, release_date: date | None, message: str
) -> None:
    assert render_message(template, release_date, TODAY) == message


@pytest.mark.parametrize(
    ("today", "handling", "tmin", "tmax", "earliest", "latest"),
    [
        (date(2025, 6, 10), 0, 0, 0, date(2025, 6, 10), date(2025, 6, 10)),
        (date(2025, 6, 10), 1, 2, 5, date(2025, 6, 13), date(2025, 6, 16)),
        (date(2025, 6, 28), 2, 1, 3, date(2025, 7, 1), date(2025, 7, 3)),
        (date(2025, 12, 30), 1, 1, 4, date(2026, 1, 1), date(2026, 1, 4)),
        (date(2024, 2, 27), 1, 1, 2, date(2024, 2, 29), date(2024, 3, 1)),
    ],
    ids=["same-day", "simple", "month-boundary", "year-boundary", "leap-day"],
)
def test_a_ready_delivery_window_is_today_plus_handling_plus_transit(
    today: date,
    handling: int,
    tmin: int,
    tmax: int,
    earliest: date,
    latest: date,
) -> None:
    assert ready_delivery_window(today, handling, tmin, tmax) == DateWindow(earliest, latest)


@pytest.mark.parametrize(
    ("release_date", "earliest", "latest"),
    [
        (date(2025, 7, 1), date(2025, 7, 4), date(2025, 7, 6)),
        (TOMORROW, date(2025, 6, 14), date(2025, 6, 16)),
        (TODAY, date(2025, 6, 13), date(2025, 6, 15)),
        (YESTERDAY, date(2025, 6, 13), date(2025, 6, 15)),
        (date(2024, 1, 1), date(2025, 6, 13), date(2025, 6, 15)),
    ],
    ids=["future", "tomorrow", "today", "yesterday", "long-past"],
)
def test_a_release_delivery_window_starts_at_the_release_date_or_today_when_it_has_passed(
    release_date: date, earliest: date, latest: date
) -> None:
    window = release_delivery_window(release_date, TODAY, 1, 2, 4)
    assert window == DateWindow(earliest, latest)
    assert window == ready_delivery_window(max(release_date, TODAY), 1, 2, 4)


def test_two_holds_that_together_exceed_sellable_stock_never_sell_more_than_exists() -> None:
    sku = released_sku(
        on_hand=10, channel_holds=(ChannelHold("app", hold=6), ChannelHold("marketplace", hold=6))
    )
    assert sku.ready_for("app") + sku.ready_for("marketplace") <= 10
    assert sku.ready_for("app") == 6
    assert sku.ready_for("marketplace") == 4


def test_shared_sales_beyond_the_shared_part_reduce_what_a_holding_channel_can_sell() -> None:
    sku = released_sku(on_hand=10, ready_committed=8, channel_holds=(ChannelHold("app", hold=4),))
    assert sku.ready_for("app") == 2
