"""E-mail templates: every message renders for every line state, in English and German, with no
placeholder left; HTML escapes what customers typed while the text version keeps it readable;
optional values may be absent; dates and money come out in the customer's locale.

Pure rendering (Jinja2 and Babel): no database, no server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.domain.notifications import Template
from app.services.notifications.render import TEMPLATES, Rendered, render

LOCALES = ("en_GB", "de_DE")
TIMEZONE = "Europe/Amsterdam"
STATES = ("READY", "PRE_ORDER", "BACKORDER")
LEFTOVERS = ("{{", "{%", "}}", "None", "Undefined", "[]")
UNKNOWN = "date to be confirmed"
DASH = "\u2013"  # between the two dates of a window, as render.window writes it

STORE_URL = "https://shop.example.com"
ORDER_URL = f"{STORE_URL}/account/orders/PO-2026-000123"
UNSUBSCRIBE_URL = f"{STORE_URL}/preferences/unsubscribe?token=u-123&kind=reminders"
ACCEPT_URL = f"{STORE_URL}/orders/PO-2026-000123/lines/2/delay?answer=accept&token=a-1"
CANCEL_URL = f"{STORE_URL}/orders/PO-2026-000123/lines/2/delay?answer=cancel&token=c-1"
TRACKING_URL = "https://carrier.example.net/track?id=JJD000390007"
CONFIRM_URL = f"{STORE_URL}/alerts/confirm?token=k-42"
PRODUCT_URL = f"{STORE_URL}/products/starfall-collectors-edition"

# Which line states each order template is sent for (an order confirmation: any mix of them).
STATES_OF: dict[Template, tuple[str, ...]] = {
    Template.ORDER_CONFIRMATION: STATES,
    Template.PREORDER_RELEASED: ("PRE_ORDER",),
    Template.ORDER_PREPARING: ("PRE_ORDER", "BACKORDER"),
    Template.DELIVERY_REMINDER: ("PRE_ORDER", "BACKORDER"),
    Template.DELIVERY_DELAYED: STATES,
    Template.DISPATCHED: STATES,
    Template.BALANCE_CAPTURED: ("PRE_ORDER", "BACKORDER"),
    Template.CANCELLATION: STATES,
    Template.ALERT_CONFIRMATION: ("ANY",),  # no line: one product
    Template.AVAILABILITY_ALERT: STATES,  # what opened: in stock, pre-order, backorder
}
CASES = [(template, state) for template, states in STATES_OF.items() for state in states]
CASE_IDS = [f"{template.value}-{state}" for template, state in CASES]
OPENED_STATE = {"READY": "IN_STOCK", "PRE_ORDER": "PRE_ORDER", "BACKORDER": "BACKORDER", "ANY": ""}


def make_line(state: str, *, known: bool = True, name: str | None = None) -> dict[str, Any]:
    """A realistic order line in ``state``; ``known=False``: every optional date, the place in
    line and the launch date unknown (``None``)."""
    if state == "READY":
        line: dict[str, Any] = {
            "id": 1,
            "sku": "MUG-ENAMEL-BLUE",
            "name": "Blue enamel mug",
            "quantity": 2,
            "status": "RESERVED",
            "unit_price_minor": 1250,
            "earliest": date(2026, 7, 3),
            "latest": date(2026, 7, 6),
            "release_date": None,
            "ships_from": None,
            "place_in_line": None,
            "payment": {"terms": "FULL", "paid_minor": 2500, "authorized_minor": 0, "due_minor": 0},
        }
    elif state == "PRE_ORDER":
        line = {
            "id": 2,
            "sku": "GAME-STARFALL-CE",
            "name": "Starfall: Collector's Edition",
            "quantity": 1,
            "status": "WAITING",
            "unit_price_minor": 5999,
            "earliest": date(2026, 9, 14),
            "latest": date(2026, 9, 18),
            "release_date": date(2026, 9, 10),
            "ships_from": date(2026, 9, 10),
            "place_in_line": 12,
            "payment": {
                "terms": "DEPOSIT",
                "paid_minor": 1000,
                "authorized_minor": 0,
                "due_minor": 4999,
            },
        }
    elif state == "BACKORDER":
        line = {
            "id": 3,
            "sku": "DICE-BRASS-7",
            "name": "Brass dice set (7 pieces)",
            "quantity": 1,
            "status": "WAITING",
            "unit_price_minor": 3846,
            "earliest": date(2026, 7, 20),
            "latest": date(2026, 7, 27),
            "release_date": None,
            "ships_from": None,
            "place_in_line": 3,
            "payment": {
                "terms": "AUTHORIZE",
                "paid_minor": 0,
                "authorized_minor": 3846,
                "due_minor": 3846,
            },
        }
    else:
        raise ValueError(state)
    line["state"] = state
    line["total_minor"] = line["unit_price_minor"] * line["quantity"]
    if name is not None:
        line["name"] = name
    if not known:
        line.update(earliest=None, latest=None, release_date=None, ships_from=None)
        line["place_in_line"] = None
    return line


def base_context(*, customer_name: str = "Ada Lovelace") -> dict[str, Any]:
    return {
        "store": {
            "name": "Northwind Games",
            "url": STORE_URL,
            "support_email": "help@shop.example.com",
        },
        "customer": {"name": customer_name, "email": "ada@example.com"},
        "unsubscribe_url": None,
    }


def order_context(lines: list[dict[str, Any]], **base: Any) -> dict[str, Any]:
    return base_context(**base) | {
        "order": {
            "number": "PO-2026-000123",
            "placed_at": datetime(2026, 7, 1, 9, 30, tzinfo=UTC),
            "currency": "EUR",
            "total_minor": sum(line["total_minor"] for line in lines),
            "channel": "web",
            "url": ORDER_URL,
        },
        "lines": lines,
    }


def make_context(
    template: Template,
    states: tuple[str, ...] | str,
    *,
    known: bool = True,
    customer_name: str = "Ada Lovelace",
    line_name: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The context ``template`` gets for lines in ``states`` (a state or several, for an order
    confirmation with several sections); ``overrides`` replace template extras."""
    if isinstance(states, str):
        states = (states,)
    unknown_window = {"earliest": None, "latest": None} if not known else None
    if template in (Template.ALERT_CONFIRMATION, Template.AVAILABILITY_ALERT):
        product = {"sku": "GAME-STARFALL-CE", "name": line_name or "Starfall: Collector's Edition"}
        context = base_context(customer_name=customer_name)
        if template is Template.ALERT_CONFIRMATION:
            context |= {"product": product, "confirm_url": CONFIRM_URL, "expires_days": 3}
        else:
            opened = OPENED_STATE[states[0]]
            window = (
                (date(2026, 9, 14), date(2026, 9, 18))
                if opened == "PRE_ORDER"
                else (date(2026, 7, 20), date(2026, 7, 27))
            )
            context |= {
                "product": product | {"url": PRODUCT_URL if known else None},
                "opened": {
                    "state": opened,
                    "button_label": "Pre-order now" if opened == "PRE_ORDER" else "Order now",
                    "message": "Limited to two per customer." if known else None,
                    "release_date": date(2026, 9, 10) if opened == "PRE_ORDER" and known else None,
                    "earliest": window[0] if opened != "IN_STOCK" and known else None,
                    "latest": window[1] if opened != "IN_STOCK" and known else None,
                },
                "hold_minutes": 30,
            }
        return context | overrides

    lines = [make_line(state, known=known, name=line_name) for state in states]
    context = order_context(lines, customer_name=customer_name)
    if template is Template.ORDER_CONFIRMATION:
        context |= {
            f"{key}_lines": [line for line in lines if line["state"] == state]
            for key, state in (
                ("ready", "READY"),
                ("preorder", "PRE_ORDER"),
                ("backorder", "BACKORDER"),
            )
        }
    elif template is Template.PREORDER_RELEASED:
        context["launch_date"] = date(2026, 9, 10)
    elif template is Template.ORDER_PREPARING:
        for line in lines:
            line["status"] = "ALLOCATED"
    elif template is Template.DELIVERY_REMINDER:
        context |= {"days_to_go": 7, "unsubscribe_url": UNSUBSCRIBE_URL}
    elif template is Template.DELIVERY_DELAYED:
        line = lines[0]
        later = {
            key: line[key] + timedelta(days=14) if line[key] is not None else None
            for key in ("earliest", "latest")
        }
        context |= {
            "line": line,
            "previous": unknown_window or {"earliest": line["earliest"], "latest": line["latest"]},
            "current": unknown_window or later,
            "reason": "Our supplier's shipment was held at customs." if known else None,
            "delayed_days": 14 if known else 0,
            "consent_requested": known,
            "accept_url": ACCEPT_URL if known else None,
            "cancel_url": CANCEL_URL if known else None,
            "answer_within_days": 7,
            "no_answer_policy": "ACCEPT",
        }
        line.update(later)
    elif template is Template.DISPATCHED:
        for line in lines:
            line["status"] = "SHIPPED"
        context |= {
            "carrier": "DHL" if known else None,
            "tracking_number": "JJD000390007" if known else None,
            "tracking_url": TRACKING_URL if known else None,
        }
    elif template is Template.BALANCE_CAPTURED:
        due = sum(line["payment"]["due_minor"] for line in lines)
        paid = sum(line["payment"]["paid_minor"] for line in lines)
        context |= {"amount_minor": due, "paid_minor": paid + due}
    elif template is Template.CANCELLATION:
        for line in lines:
            line["status"] = "CANCELLED"
        context |= {
            "reason": "Cancelled at your request." if known else None,
            "refund_minor": sum(line["payment"]["paid_minor"] for line in lines),
            "voided": any(line["payment"]["terms"] == "AUTHORIZE" for line in lines),
        }
    return context | overrides


def assert_fully_rendered(rendered: Rendered) -> None:
    assert rendered.subject.strip()
    assert "\n" not in rendered.subject
    assert rendered.html.strip()
    assert rendered.text.strip()
    for part, body in (
        ("subject", rendered.subject),
        ("html", rendered.html),
        ("text", rendered.text),
    ):
        for leftover in LEFTOVERS:
            assert leftover not in body, f"{leftover!r} left in the {part}:\n{body}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("template", "state"), CASES, ids=CASE_IDS)
def test_every_template_renders_for_every_line_state_with_no_placeholder_left(
    template: Template, state: str, locale: str
) -> None:
    rendered = render(template, make_context(template, state), locale, TIMEZONE)

    assert_fully_rendered(rendered)
    assert "Northwind Games" in rendered.html
    assert "Northwind Games" in rendered.text
    assert "help@shop.example.com" in rendered.html
    assert "help@shop.example.com" in rendered.text
    if template not in (Template.ALERT_CONFIRMATION, Template.AVAILABILITY_ALERT):
        assert "PO-2026-000123" in rendered.subject
        assert ORDER_URL in rendered.text  # links are written out in the text version


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    "states",
    [STATES, ("READY",), ("PRE_ORDER",), ("BACKORDER",), ("READY", "BACKORDER")],
    ids=lambda states: "+".join(states),
)
def test_an_order_confirmation_has_one_section_per_line_state_present_and_the_order_total(
    states: tuple[str, ...], locale: str
) -> None:
    context = make_context(Template.ORDER_CONFIRMATION, states)
    rendered = render(Template.ORDER_CONFIRMATION, context, locale, TIMEZONE)

    assert_fully_rendered(rendered)
    sections = {
        "READY": f"In stock {DASH} ships now",
        "PRE_ORDER": "Pre-orders",
        "BACKORDER": "Backorders",
    }
    for state, heading in sections.items():
        for body in (rendered.html, rendered.text):
            assert (heading in body) == (state in states), (state, body)
    total = render(Template.ORDER_CONFIRMATION, context, "en_GB", TIMEZONE).text
    assert f"Order total: €{context['order']['total_minor'] / 100:.2f}" in total


def test_an_order_confirmation_explains_launch_date_queue_place_and_payment_terms() -> None:
    context = make_context(Template.ORDER_CONFIRMATION, STATES)
    rendered = render(Template.ORDER_CONFIRMATION, context, "en_GB", TIMEZONE)

    for body in (rendered.text, rendered.html):
        assert f"In stock and ships now; expected delivery: 3 July 2026 {DASH} 6 July 2026." in body
        assert "Launches on 10 September 2026." in body
        assert "Ships from 10 September 2026." in body
        assert "deposit of €10.00 paid" in body
        assert "the balance of €49.99 will be charged when it is dispatched" in body
        assert f"Expected delivery: 20 July 2026 {DASH} 27 July 2026" in body
        assert "You are number 3 in line." in body
        assert "nothing has been charged yet. €38.46 is authorized on your card" in body
        assert "Payment: paid in full." not in body  # a ready line needs no payment note
    assert "You are number 12 in line." not in rendered.text  # only backorders show the queue


@pytest.mark.parametrize(("template", "state"), CASES, ids=CASE_IDS)
def test_a_customer_name_is_escaped_in_html_and_left_readable_in_text(
    template: Template, state: str
) -> None:
    name = "<script>alert(1)</script>"
    context = make_context(template, state, customer_name=name, line_name="Dice & <Tokens>")
    rendered = render(template, context, "en_GB", TIMEZONE)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script" not in rendered.html
    assert "<Tokens>" not in rendered.html
    assert "Dice &amp; &lt;Tokens&gt;" in rendered.html
    assert f"Hello {name}," in rendered.text
    assert "Dice & <Tokens>" in rendered.text
    assert "&lt;" not in rendered.text
    assert "&amp;" not in rendered.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("template", "state"), CASES, ids=CASE_IDS)
def test_every_template_renders_when_every_optional_value_is_absent(
    template: Template, state: str, locale: str
) -> None:
    rendered = render(template, make_context(template, state, known=False), locale, TIMEZONE)

    assert_fully_rendered(rendered)


@pytest.mark.parametrize(
    ("template", "state", "expected"),
    [
        (Template.ORDER_CONFIRMATION, "BACKORDER", "Expected delivery: date to be confirmed"),
        (Template.PREORDER_RELEASED, "PRE_ORDER", "Expected delivery: date to be confirmed"),
        (Template.ORDER_PREPARING, "BACKORDER", "Expected delivery: date to be confirmed"),
        (Template.DELIVERY_REMINDER, "PRE_ORDER", "Expected delivery: date to be confirmed"),
        (Template.DELIVERY_DELAYED, "BACKORDER", "New delivery date: date to be confirmed"),
        (Template.AVAILABILITY_ALERT, "BACKORDER", "Expected delivery: date to be confirmed"),
    ],
)
def test_an_unknown_window_says_date_to_be_confirmed(
    template: Template, state: str, expected: str
) -> None:
    rendered = render(template, make_context(template, state, known=False), "en_GB", TIMEZONE)

    assert expected in rendered.text
    assert UNKNOWN in rendered.html


def test_absent_optional_values_leave_out_what_they_would_have_said() -> None:
    confirmation = render(
        Template.ORDER_CONFIRMATION,
        make_context(Template.ORDER_CONFIRMATION, STATES, known=False),
        "en_GB",
        TIMEZONE,
    )
    dispatched = render(
        Template.DISPATCHED,
        make_context(Template.DISPATCHED, STATES, known=False),
        "en_GB",
        TIMEZONE,
    )
    delayed = render(
        Template.DELIVERY_DELAYED,
        make_context(Template.DELIVERY_DELAYED, "PRE_ORDER", known=False),
        "en_GB",
        TIMEZONE,
    )
    cancelled = render(
        Template.CANCELLATION,
        make_context(Template.CANCELLATION, "READY", known=False),
        "en_GB",
        TIMEZONE,
    )

    for body in (confirmation.text, confirmation.html):
        assert "Ships from" not in body
        assert "in line" not in body
        assert "Launch date to be confirmed." in body
        assert "In stock and ships now." in body  # no window promised for the ready line
    for body in (dispatched.text, dispatched.html):
        assert "Tracking number" not in body
        assert "Track your parcel" not in body
        assert "Carrier" not in body
    for body in (delayed.text, delayed.html):
        assert "Why:" not in body
        assert "days later than planned" not in body  # no number of days without a new date
        assert "Accept the new date" not in body
    for body in (cancelled.text, cancelled.html):
        assert "Reason:" not in body


@pytest.mark.parametrize("state", STATES)
def test_a_delay_asking_for_consent_offers_accept_and_cancel_in_html_and_text(state: str) -> None:
    context = make_context(Template.DELIVERY_DELAYED, state)
    rendered = render(Template.DELIVERY_DELAYED, context, "en_GB", TIMEZONE)

    html_accept = ACCEPT_URL.replace("&", "&amp;")
    html_cancel = CANCEL_URL.replace("&", "&amp;")
    assert f'href="{html_accept}"' in rendered.html
    assert f'href="{html_cancel}"' in rendered.html
    assert f"Accept the new date: {ACCEPT_URL}" in rendered.text
    assert f"Cancel this item: {CANCEL_URL}" in rendered.text
    assert "please choose" in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "If we have not heard from you within 7 days" in body
        assert "take the new date as accepted" in body
        assert "Our supplier&#39;s shipment" in body or "Our supplier's shipment" in body
        assert "We apologize" in body


def test_a_delay_without_consent_shows_neither_answer_link() -> None:
    for urls in ({}, {"accept_url": ACCEPT_URL, "cancel_url": CANCEL_URL}):
        context = make_context(Template.DELIVERY_DELAYED, "BACKORDER", consent_requested=False)
        context |= {"accept_url": None, "cancel_url": None} | urls
        rendered = render(Template.DELIVERY_DELAYED, context, "en_GB", TIMEZONE)

        assert_fully_rendered(rendered)
        for body in (rendered.html, rendered.text):
            assert "answer=accept" not in body
            assert "answer=cancel" not in body
            assert "Accept the new date" not in body
            assert "You do not need to do anything" in body
        assert "please choose" not in rendered.subject


@pytest.mark.parametrize(
    ("state", "settlement"),
    [
        ("READY", "we will cancel this item with a full refund of €25.00."),
        ("PRE_ORDER", "we will cancel this item with a full refund of €10.00."),
        ("BACKORDER", "we will cancel this item and release the authorization on your card"),
    ],
)
def test_a_delay_says_an_unanswered_request_cancels_and_refunds_the_line(
    state: str, settlement: str
) -> None:
    context = make_context(Template.DELIVERY_DELAYED, state, no_answer_policy="CANCEL")
    rendered = render(Template.DELIVERY_DELAYED, context, "en_GB", TIMEZONE)

    assert f"If we have not heard from you within 7 days, {settlement}" in rendered.text
    assert "take the new date as accepted" not in rendered.text


@pytest.mark.parametrize(("template", "state"), CASES, ids=CASE_IDS)
def test_the_unsubscribe_link_is_only_in_delivery_reminders(template: Template, state: str) -> None:
    rendered = render(template, make_context(template, state), "en_GB", TIMEZONE)

    reminder = template is Template.DELIVERY_REMINDER
    html_url = UNSUBSCRIBE_URL.replace("&", "&amp;")
    assert ("Unsubscribe from reminders" in rendered.html) == reminder
    assert ("Unsubscribe from reminders" in rendered.text) == reminder
    assert (f'href="{html_url}"' in rendered.html) == reminder
    assert (UNSUBSCRIBE_URL in rendered.text) == reminder


def test_dates_come_out_in_the_customers_language() -> None:
    context = make_context(Template.ORDER_CONFIRMATION, STATES)
    german = render(Template.ORDER_CONFIRMATION, context, "de_DE", TIMEZONE)
    english = render(Template.ORDER_CONFIRMATION, context, "en_GB", TIMEZONE)

    for body in (german.text, german.html):
        assert f"3. Juli 2026 {DASH} 6. Juli 2026" in body
        assert "10. September 2026" in body
        assert "July" not in body
    for body in (english.text, english.html):
        assert f"3 July 2026 {DASH} 6 July 2026" in body
    # placed at 09:30 UTC: 11:30 in Amsterdam (summer time)
    assert "Placed: 1 Jul 2026, 11:30:00" in english.text


def test_money_is_formatted_in_the_customers_locale() -> None:
    context = make_context(Template.ORDER_CONFIRMATION, STATES)
    assert context["order"]["total_minor"] == 12345
    english = render(Template.ORDER_CONFIRMATION, context, "en_GB", TIMEZONE)
    german = render(Template.ORDER_CONFIRMATION, context, "de_DE", TIMEZONE)

    assert "€123.45" in english.text
    assert "€123.45" in english.html
    assert "123,45\xa0€" in german.text
    assert "€123.45" not in german.text


def test_the_html_is_a_self_contained_email_layout() -> None:
    for template, state in CASES:
        html = render(template, make_context(template, state), "en_GB", TIMEZONE).html
        assert html.startswith("<!DOCTYPE html>")
        assert "max-width:600px" in html
        for external in ("<script", "<link", "<img", "<style", "src="):
            assert external not in html, (template, external)


def test_buttons_are_links_and_the_text_version_writes_them_out() -> None:
    dispatched = render(
        Template.DISPATCHED, make_context(Template.DISPATCHED, "READY"), "en_GB", TIMEZONE
    )
    alert = render(
        Template.ALERT_CONFIRMATION,
        make_context(Template.ALERT_CONFIRMATION, "ANY"),
        "en_GB",
        TIMEZONE,
    )
    opened = render(
        Template.AVAILABILITY_ALERT,
        make_context(Template.AVAILABILITY_ALERT, "PRE_ORDER"),
        "en_GB",
        TIMEZONE,
    )

    assert f'href="{TRACKING_URL}"' in dispatched.html
    assert "Track your parcel" in dispatched.html
    assert f"Track your parcel: {TRACKING_URL}" in dispatched.text
    assert "Tracking number: JJD000390007" in dispatched.text
    assert f'href="{CONFIRM_URL}"' in alert.html
    assert CONFIRM_URL in alert.text
    assert "ignore this e-mail" in alert.text
    assert f"Pre-order now: {PRODUCT_URL}" in opened.text
    assert "It launches on 10 September 2026" in opened.text
    assert "we will tell other customers in 30 minutes" in opened.text
    assert "Good news: pre-orders for" in opened.subject


def test_a_cancellation_says_how_the_money_is_settled() -> None:
    refunded = render(
        Template.CANCELLATION, make_context(Template.CANCELLATION, "PRE_ORDER"), "en_GB", TIMEZONE
    )
    voided = render(
        Template.CANCELLATION, make_context(Template.CANCELLATION, "BACKORDER"), "en_GB", TIMEZONE
    )
    nothing = render(
        Template.CANCELLATION,
        make_context(Template.CANCELLATION, "BACKORDER", voided=False),
        "en_GB",
        TIMEZONE,
    )

    assert "We have refunded €10.00" in refunded.text
    assert "authorization" not in refunded.text
    assert "the authorization on your card was released" in voided.text
    assert "refunded" not in voided.text
    assert "Nothing was charged for this item, so there is nothing to refund." in nothing.text


def test_every_template_has_a_subject_an_html_and_a_text_file_on_its_layout() -> None:
    for template in Template:
        subject = (TEMPLATES / f"{template.value}.subject.j2").read_text()
        html = (TEMPLATES / f"{template.value}.html.j2").read_text()
        text = (TEMPLATES / f"{template.value}.txt.j2").read_text()
        assert len(subject.strip().splitlines()) == 1, template
        assert html.startswith('{% extends "_layout.html.j2" %}'), template
        assert text.startswith('{% extends "_layout.txt.j2" %}'), template


def test_an_alert_without_customer_name_or_button_label_still_reads_well() -> None:
    context = make_context(Template.AVAILABILITY_ALERT, "READY", customer_name="")
    context["opened"]["button_label"] = ""
    context["product"]["url"] = None
    rendered = render(Template.AVAILABILITY_ALERT, context, "en_GB", TIMEZONE)

    assert_fully_rendered(rendered)
    assert "Hello,\n" in rendered.text
    assert f"Order now: {STORE_URL}\n" in rendered.text  # no product page: the store
    assert f'href="{STORE_URL}"' in rendered.html
    assert "is in stock now" in rendered.text


@pytest.mark.parametrize(
    ("days_to_go", "expected"),
    [(7, "expected in about 7 days"), (1, "expected in about 1 day"), (0, "expected soon")],
)
def test_a_reminder_counts_the_days_to_go(days_to_go: int, expected: str) -> None:
    context = make_context(Template.DELIVERY_REMINDER, "PRE_ORDER", days_to_go=days_to_go)
    rendered = render(Template.DELIVERY_REMINDER, context, "en_GB", TIMEZONE)

    assert expected in rendered.subject
    assert expected in rendered.text
    assert expected in rendered.html
