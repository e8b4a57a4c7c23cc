"""Shipment rules: the state machine's allowed moves and its messages, what opens as which
shipment (per order and state, ship-together, consolidation), whose estimate follows whom,
the dispatch deadline with its cut-off, and urgency."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import product

import pytest

from app.domain.shipments import (
    FulfilmentKind,
    OpenLine,
    ShipmentStatus,
    Urgency,
    Window,
    advance_problem,
    dispatch_deadline,
    follow_latest,
    kind_of,
    next_step,
    plan_shipments,
    release_problem,
    transition_problem,
    urgency,
)

S = ShipmentStatus

ALLOWED = {
    (S.PICKING, S.PACKED),
    (S.PICKING, S.ON_HOLD),
    (S.PICKING, S.CANCELLED),
    (S.PACKED, S.AWAITING_SHIPMENT),
    (S.PACKED, S.ON_HOLD),
    (S.PACKED, S.CANCELLED),
    (S.AWAITING_SHIPMENT, S.DISPATCHED),
    (S.AWAITING_SHIPMENT, S.ON_HOLD),
    (S.AWAITING_SHIPMENT, S.CANCELLED),
    (S.ON_HOLD, S.CANCELLED),
    (S.DISPATCHED, S.DELIVERED),
}


@pytest.mark.parametrize(("current", "to"), list(product(S, S)))
def test_only_the_moves_of_the_table_are_allowed_and_every_other_one_says_why(
    current: ShipmentStatus, to: ShipmentStatus
) -> None:
    problem = transition_problem(current, to)
    if (current, to) in ALLOWED:
        assert problem is None
    else:
        assert problem  # a message for the userError, never a silent change


@pytest.mark.parametrize("step", [S.PICKING, S.PACKED, S.AWAITING_SHIPMENT])
def test_a_held_shipment_goes_back_only_to_the_step_it_was_held_at(step: ShipmentStatus) -> None:
    assert transition_problem(S.ON_HOLD, step, step) is None
    assert release_problem(S.ON_HOLD, step) is None
    for other in {S.PICKING, S.PACKED, S.AWAITING_SHIPMENT, S.DISPATCHED} - {step}:
        assert transition_problem(S.ON_HOLD, other, step) is not None
    assert "released" in (transition_problem(S.ON_HOLD, S.DISPATCHED, step) or "")


def test_only_a_shipment_on_hold_can_be_released() -> None:
    for status in set(S) - {S.ON_HOLD}:
        assert release_problem(status, None) == f"A {status.value} shipment is not on hold."


def test_advance_walks_the_warehouse_steps_and_says_what_to_do_past_them() -> None:
    assert next_step(S.PICKING) is S.PACKED
    assert next_step(S.PACKED) is S.AWAITING_SHIPMENT
    assert advance_problem(S.PICKING) is None
    assert advance_problem(S.PACKED) is None
    assert "dispatchShipment" in (advance_problem(S.AWAITING_SHIPMENT) or "")
    assert "release" in (advance_problem(S.ON_HOLD) or "")
    for done in (S.DISPATCHED, S.DELIVERED, S.CANCELLED):
        assert next_step(done) is None
        assert advance_problem(done)


def test_a_shipment_is_on_the_work_list_of_its_latest_line() -> None:
    assert kind_of(["READY"]) is FulfilmentKind.READY
    assert kind_of(["READY", "PRE_ORDER"]) is FulfilmentKind.PRE_ORDER
    assert kind_of(["PRE_ORDER", "BACKORDER", "READY"]) is FulfilmentKind.BACKORDER


# ---------------------------------------------------------------- opening

NOW = datetime(2031, 3, 4, 16, 0, tzinfo=UTC)
PLACED = NOW - timedelta(hours=3)
ORDER_A, ORDER_B, ORDER_C = (uuid.UUID(int=n) for n in (1, 2, 3))


def line(
    line_id: int, order: uuid.UUID = ORDER_A, state: str = "READY", **changes: object
) -> OpenLine:
    status = "RESERVED" if state == "READY" else "ALLOCATED"
    found = OpenLine(
        line_id=line_id,
        order_id=order,
        state=state,
        status=status,
        released=True,
        paused=False,
        in_shipment=False,
        placed_at=PLACED,
        ship_together=False,
        consolidates=False,
        destination=("ada", "webstore", "home", None),
    )
    return replace(found, **changes)  # type: ignore[arg-type]


def shape(planned: list[object]) -> list[tuple[str, tuple[int, ...]]]:
    return [(p.kind.value, p.line_ids) for p in planned]  # type: ignore[attr-defined]


def test_ready_work_never_shares_a_shipment_with_future_dated_work() -> None:
    planned = plan_shipments(
        [line(1), line(2, state="BACKORDER"), line(3), line(4, state="PRE_ORDER")], NOW
    )
    assert shape(planned) == [("READY", (1, 3)), ("BACKORDER", (2,)), ("PRE_ORDER", (4,))]
    ready = planned[0]
    assert ready.ready_at == PLACED  # could be worked from the placement
    assert planned[1].ready_at == NOW  # from when its units were there


def test_only_lines_that_can_ship_and_are_in_no_shipment_are_opened() -> None:
    planned = plan_shipments(
        [
            line(1, in_shipment=True),
            line(2, state="BACKORDER", status="WAITING"),
            line(3, state="PRE_ORDER", released=False),
            line(4, state="BACKORDER", paused=True),
            line(5),
        ],
        NOW,
    )
    assert shape(planned) == [("READY", (5,))]


def test_an_order_shipping_together_waits_for_all_its_lines_then_ships_as_one() -> None:
    waiting = [
        line(1, ship_together=True),
        line(2, state="BACKORDER", status="WAITING", ship_together=True),
    ]
    assert plan_shipments(waiting, NOW) == []
    # a dispatch by lines waives it
    assert shape(plan_shipments(waiting, NOW, whole_orders=False)) == [("READY", (1,))]
    complete = [line(1, ship_together=True), line(2, state="BACKORDER", ship_together=True)]
    (one,) = plan_shipments(complete, NOW)
    assert (one.kind, one.line_ids, one.ready_at) == (FulfilmentKind.BACKORDER, (1, 2), NOW)


def test_a_consolidating_channel_merges_one_customers_waiting_lines_across_orders() -> None:
    lines = [
        line(1, ORDER_A, "PRE_ORDER", consolidates=True),
        line(2, ORDER_B, "BACKORDER", consolidates=True),
        line(3, ORDER_B, consolidates=True),  # READY: never consolidated
        line(4, ORDER_C, "PRE_ORDER", consolidates=True, destination=("bob",)),
    ]
    planned = plan_shipments(lines, NOW)
    assert shape(planned) == [("BACKORDER", (1, 2)), ("READY", (3,)), ("PRE_ORDER", (4,))]
    assert planned[0].order_ids == (ORDER_A, ORDER_B)
    # without the channel's option (or when a dispatch opens its own), one per order
    apart = plan_shipments(lines, NOW, consolidate=False)
    assert shape(apart) == [
        ("PRE_ORDER", (1,)),
        ("BACKORDER", (2,)),
        ("READY", (3,)),
        ("PRE_ORDER", (4,)),
    ]


def test_the_estimate_of_every_line_follows_the_latest_line_of_its_shipment() -> None:
    early = Window(date(2031, 3, 6), date(2031, 3, 8), "HIGH")
    late = Window(date(2031, 3, 9), date(2031, 3, 12), "MEDIUM")
    undated = Window(None, None, "NONE")
    assert follow_latest({1: early, 2: late, 3: undated}) == {1: late}
    assert follow_latest({1: early}) == {}
    assert follow_latest({1: late, 2: late}) == {}


# ---------------------------------------------------------------- deadlines and urgency

CUTOFF = time(15, 0)


def test_the_deadline_is_the_sla_from_ready_or_from_the_next_day_after_the_cut_off() -> None:
    before = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)  # 14:00 in Amsterdam
    after = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam
    zone = "Europe/Amsterdam"
    assert dispatch_deadline(before, 24, CUTOFF, zone) == before + timedelta(hours=24)
    # counted from midnight, store time (23:00 UTC the day before in winter)
    assert dispatch_deadline(after, 24, CUTOFF, zone) == datetime(2031, 3, 5, 23, 0, tzinfo=UTC)
    assert dispatch_deadline(after, 24, None, zone) == after + timedelta(hours=24)


def test_urgency_is_at_risk_within_the_window_and_breached_from_the_deadline() -> None:
    window = timedelta(hours=4)
    assert urgency(NOW + timedelta(hours=5), NOW, window) is Urgency.ON_TIME
    assert urgency(NOW + timedelta(hours=4), NOW, window) is Urgency.AT_RISK
    assert urgency(NOW, NOW, window) is Urgency.BREACHED
