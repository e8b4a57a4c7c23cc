"""The notification rules: which event causes which message, the retry back-off, which
delivery reminder is due, and how many "notify me" alerts may go out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain.events import EventKind
from app.domain.notifications import (
    Planned,
    Template,
    alerts_to_send,
    messages_for,
    reminders_due,
    retry_delay,
)


def test_a_placed_order_gets_one_confirmation_of_its_own() -> None:
    assert messages_for(EventKind.ORDER_PLACED, {}, None) == (
        Planned(Template.ORDER_CONFIRMATION, grouped=False),
    )


def test_only_a_fully_allocated_waiting_line_is_told_its_order_is_being_prepared() -> None:
    allocated = {"status": "ALLOCATED"}
    assert messages_for(EventKind.LINE_ALLOCATED, allocated, "PRE_ORDER") == (
        Planned(Template.ORDER_PREPARING),
    )
    assert messages_for(EventKind.LINE_ALLOCATED, allocated, "BACKORDER") != ()
    assert messages_for(EventKind.LINE_ALLOCATED, {"status": "WAITING"}, "BACKORDER") == ()
    assert messages_for(EventKind.LINE_ALLOCATED, allocated, "READY") == ()


def test_a_delay_that_asks_for_consent_starts_the_customers_clock_when_sent() -> None:
    (asked,) = messages_for(EventKind.LINE_DELIVERY_DELAYED, {"consentRequested": True}, None)
    (told,) = messages_for(EventKind.LINE_DELIVERY_DELAYED, {"consentRequested": False}, None)
    assert asked.starts_consent
    assert not told.starts_consent
    assert asked.transactional


def test_only_a_captured_balance_is_mailed_not_every_capture() -> None:
    assert messages_for(EventKind.PAYMENT_CAPTURED, {"balance": True}, None) != ()
    assert messages_for(EventKind.PAYMENT_CAPTURED, {"balance": False}, None) == ()


def test_reminders_are_the_only_messages_a_customer_may_switch_off() -> None:
    (reminder,) = messages_for(EventKind.LINE_DELIVERY_REMINDER, {}, "BACKORDER")
    assert not reminder.transactional
    for kind in (
        EventKind.ORDER_PLACED,
        EventKind.SHIPMENT_DISPATCHED,
        EventKind.LINE_CANCELLED,
    ):
        planned = messages_for(kind, {}, "READY")
        assert planned
        assert all(m.transactional for m in planned)


def test_a_dispatched_shipment_gets_one_dispatch_email_and_its_shipped_lines_none() -> None:
    payload = {"lineIds": [1, 2], "carrier": "DHL", "trackingUrl": "https://t.example/1"}
    assert messages_for(EventKind.SHIPMENT_DISPATCHED, payload, None) == (
        Planned(Template.DISPATCHED, grouped=False),
    )
    assert messages_for(EventKind.LINE_SHIPPED, {"status": "SHIPPED"}, "READY") == ()


def test_the_other_moves_of_a_shipment_mail_nobody() -> None:
    for kind in (
        EventKind.SHIPMENT_CREATED,
        EventKind.SHIPMENT_ADVANCED,
        EventKind.SHIPMENT_HELD,
        EventKind.SHIPMENT_RELEASED,
        EventKind.SHIPMENT_DELIVERED,
        EventKind.SHIPMENT_CANCELLED,
    ):
        assert messages_for(kind, {"lineIds": [1]}, None) == ()


def test_events_customers_need_not_hear_of_cause_no_message() -> None:
    for kind in (
        EventKind.STOCK_MOVED,
        EventKind.LINE_PROMISE_CHANGED,
        EventKind.NOTIFICATION_SENT,
        EventKind.ORDER_TAGGED,
    ):
        assert messages_for(kind, {}, None) == ()


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 10, 30])
def test_the_retry_delay_grows_exponentially_up_to_the_cap_with_full_jitter(attempt: int) -> None:
    ceiling = min(3600.0, 30.0 * 2 ** (attempt - 1))
    assert retry_delay(attempt, 30.0, 3600.0, 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert retry_delay(attempt, 30.0, 3600.0, 0.0) == 1.0  # never at once
    assert 1.0 <= retry_delay(attempt, 30.0, 3600.0, 0.5) <= ceiling


EXPECTED = date(2027, 6, 1)
OFFSETS = (30, 7)


def test_a_reminder_is_due_from_its_day_until_the_delivery() -> None:
    placed = EXPECTED - timedelta(days=60)
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=31), OFFSETS, ()) == (None, ())
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=30), OFFSETS, ()) == (
        30,
        (30,),
    )
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=8), OFFSETS, (30,)) == (
        None,
        (),
    )
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=7), OFFSETS, (30,)) == (
        7,
        (7,),
    )
    assert reminders_due(EXPECTED, placed, EXPECTED, OFFSETS, (30,)) == (None, ())


def test_a_late_run_sends_only_the_nearest_reminder_and_settles_the_rest() -> None:
    placed = EXPECTED - timedelta(days=60)
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=3), OFFSETS, ()) == (
        7,
        (7, 30),
    )


def test_a_customer_who_ordered_after_a_reminders_day_does_not_get_it() -> None:
    placed = EXPECTED - timedelta(days=20)  # after the 30-day mark
    today = EXPECTED - timedelta(days=19)
    assert reminders_due(EXPECTED, placed, today, OFFSETS, ()) == (None, ())
    assert reminders_due(EXPECTED, placed, EXPECTED - timedelta(days=7), OFFSETS, ()) == (7, (7,))


def test_a_line_without_an_expected_date_gets_no_reminder() -> None:
    assert reminders_due(None, EXPECTED, EXPECTED, OFFSETS, ()) == (None, ())


def test_no_more_alerts_go_out_than_units_can_be_sold_less_those_still_held() -> None:
    assert alerts_to_send(sellable=2, outstanding=0, waiting=5) == 2
    assert alerts_to_send(sellable=2, outstanding=2, waiting=5) == 0
    assert alerts_to_send(sellable=3, outstanding=1, waiting=5) == 2
    assert alerts_to_send(sellable=10, outstanding=0, waiting=3) == 3
    assert alerts_to_send(sellable=None, outstanding=4, waiting=3) == 3  # no cap
    assert alerts_to_send(sellable=0, outstanding=0, waiting=3) == 0
    assert alerts_to_send(sellable=5, outstanding=0, waiting=0) == 0
