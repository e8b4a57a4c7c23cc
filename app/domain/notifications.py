"""What customers are told, and when: pure rules of the notification relay.

``messages_for`` maps one ledger event to the messages it causes (none for most); the relay
(``app.services.notifications``) derives them from the event stream, so a message exists
exactly when its event does (the transactional outbox). ``retry_delay`` is the back-off of a
failed send, ``reminders_due`` which delivery reminders a waiting line is due, and
``alerts_to_send`` how many "notify me" alerts may go out for the units that opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.domain.events import EventKind


class Template(StrEnum):
    ORDER_CONFIRMATION = "order_confirmation"
    PREORDER_RELEASED = "preorder_released"
    ORDER_PREPARING = "order_preparing"
    DELIVERY_REMINDER = "delivery_reminder"
    DELIVERY_DELAYED = "delivery_delayed"
    DISPATCHED = "dispatched"
    BALANCE_CAPTURED = "balance_captured"
    CANCELLATION = "cancellation"
    ALERT_CONFIRMATION = "alert_confirmation"
    AVAILABILITY_ALERT = "availability_alert"


NON_TRANSACTIONAL = frozenset({Template.DELIVERY_REMINDER})
"""Messages a customer may switch off (the unsubscribe link); every other one is part of the
order or was asked for, and is always sent."""


class NotificationStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its (next) attempt
    SENDING = "SENDING"  # claimed by a relay; the SMTP conversation is under way
    SENT = "SENT"  # the SMTP server accepted it
    DEAD = "DEAD"  # every attempt failed; ops may retry it
    UNCONFIRMED = "UNCONFIRMED"  # the relay died mid-send: maybe sent; ops decide
    SUPPRESSED = "SUPPRESSED"  # the customer switched this kind of message off


@dataclass(frozen=True)
class Planned:
    """One message an event causes. ``grouped``: the events of one transaction for one order
    make one message (a dispatch of three lines is one e-mail). ``starts_consent``: sending it
    starts the customer's clock to answer a delay."""

    template: Template
    grouped: bool = True
    starts_consent: bool = False

    @property
    def transactional(self) -> bool:
        return self.template not in NON_TRANSACTIONAL


WAITING_STATES = frozenset({"PRE_ORDER", "BACKORDER"})


def messages_for(
    kind: str, payload: Mapping[str, Any] | None, line_state: str | None
) -> tuple[Planned, ...]:
    """The messages one event causes (``line_state``: the state of the event's line, for line
    events)."""
    data = payload or {}
    match kind:
        case EventKind.ORDER_PLACED:
            return (Planned(Template.ORDER_CONFIRMATION, grouped=False),)
        case EventKind.LINE_RELEASED:
            return (Planned(Template.PREORDER_RELEASED),)
        case EventKind.LINE_ALLOCATED if (
            data.get("status") == "ALLOCATED" and line_state in WAITING_STATES
        ):
            return (Planned(Template.ORDER_PREPARING),)
        case EventKind.LINE_DELIVERY_DELAYED:
            consent = bool(data.get("consentRequested"))
            return (Planned(Template.DELIVERY_DELAYED, grouped=False, starts_consent=consent),)
        case EventKind.LINE_DELIVERY_REMINDER:
            return (Planned(Template.DELIVERY_REMINDER),)
        case EventKind.SHIPMENT_DISPATCHED:
            # one e-mail per shipment (per order of a consolidated one): its lines (the
            # event's ``lineIds``), its carrier and tracking link; ``line.shipped`` mails none
            return (Planned(Template.DISPATCHED, grouped=False),)
        case EventKind.PAYMENT_CAPTURED if data.get("balance"):
            return (Planned(Template.BALANCE_CAPTURED),)
        case EventKind.LINE_CANCELLED:
            return (Planned(Template.CANCELLATION),)
        case EventKind.ALERT_REQUESTED:
            return (Planned(Template.ALERT_CONFIRMATION, grouped=False),)
        case EventKind.ALERT_RELEASED:
            return (Planned(Template.AVAILABILITY_ALERT, grouped=False),)
    return ()


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float, jitter: float) -> float:
    """Seconds before attempt ``attempt + 1`` after ``attempt`` failed: exponential back-off
    with full jitter (``jitter`` in [0, 1), drawn by the caller), so relays that failed
    together do not retry together. At least one second."""
    ceiling = min(cap_seconds, base_seconds * 2 ** max(0, attempt - 1))
    return float(max(1.0, ceiling * jitter))


def reminders_due(
    expected: date | None,
    placed_on: date,
    today: date,
    offsets: Iterable[int],
    sent: Iterable[int],
) -> tuple[int | None, tuple[int, ...]]:
    """The reminder to send today for a line expected on ``expected`` (``None``: none), and
    every offset it settles. An offset is due once its day (``expected - offset``) has come
    and before the line is expected, and only when the order was placed before that day (a
    customer who ordered a week before delivery gets no "30 days to go"). When several are
    due at once only the nearest is sent; the others are settled with it."""
    if expected is None or today >= expected:
        return None, ()
    done = set(sent)
    due = sorted(
        offset
        for offset in set(offsets)
        if offset > 0
        and offset not in done
        and (expected.toordinal() - offset) <= today.toordinal()
        and placed_on.toordinal() < expected.toordinal() - offset
    )
    if not due:
        return None, ()
    return due[0], tuple(due)


def alerts_to_send(sellable: int | None, outstanding: int, waiting: int) -> int:
    """How many "notify me" alerts to send now: no more than the units that can be sold
    (``None``: no limit, e.g. backorders without a cap) minus the alerts still in their hold
    (sent recently: those customers get the first chance)."""
    if waiting <= 0:
        return 0
    if sellable is None:
        return waiting
    return max(0, min(waiting, sellable - outstanding))
