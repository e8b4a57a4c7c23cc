"""What each message says: the template context of one notification, read when it is sent
(an order's lines, windows, place in line and payments as they are then; a delay's old and new
window from its event).

Every template gets ``store``, ``customer`` and ``unsubscribe_url``; order messages add
``order`` and ``lines`` (the lines the message is about); each template adds its own keys
(see the templates and ``tests/unit/test_email_templates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from app.domain.availability import PaymentTerms
from app.domain.notifications import NON_TRANSACTIONAL, Template
from app.domain.payments import PaymentKind, amount_due, totals
from app.services.container import Services
from app.services.notifications import links
from app.storage import notifications as store
from app.storage.ledger import json_of
from app.storage.payments import entries_by_line


class Unsendable(Exception):
    """The message cannot be written any more (its order or alert is gone)."""


@dataclass(frozen=True)
class Content:
    context: dict[str, Any]
    unsubscribe_url: str | None


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


async def build(services: Services, conn: asyncpg.Connection, row: Any) -> Content:
    template = Template(row["template"])
    settings = services.settings
    unsubscribe = None
    if template in NON_TRANSACTIONAL:
        token = await links.sign(services, links.Purpose.UNSUBSCRIBE, {"e": row["recipient"]})
        unsubscribe = links.url(services, "unsubscribe", token=token)
    context: dict[str, Any] = {
        "store": {
            "name": settings.store_name,
            "url": settings.store_url,
            "support_email": settings.support_email,
        },
        "customer": {"name": "", "email": row["recipient"]},
        "unsubscribe_url": unsubscribe,
    }
    payload = json_of(row["payload"])
    if template in (Template.ALERT_CONFIRMATION, Template.AVAILABILITY_ALERT):
        context.update(await _alert(services, template, payload, row))
        return Content(context, unsubscribe)
    if row["order_id"] is None:
        raise Unsendable("the message has no order")
    order = await store.message_order(conn, row["order_id"])
    if order is None:
        raise Unsendable("the order is gone")
    all_lines = await store.message_lines(conn, order["id"])
    entries = await entries_by_line(conn, [line["id"] for line in all_lines])
    shown = [_line(line, entries[line["id"]]) for line in all_lines]
    wanted = set(row["line_ids"] or ())
    lines = [line for line in shown if line["id"] in wanted] if wanted else shown
    context["customer"] = {"name": order["customer_name"], "email": order["customer_email"]}
    context["order"] = {
        "number": order["number"],
        "placed_at": order["placed_at"],
        "currency": order["currency"],
        "total_minor": order["total_minor"],
        "channel": order["channel_code"],
        "url": None,
    }
    context["lines"] = lines
    event: dict[str, Any] = payload.get("event") or {}
    before: dict[str, Any] = payload.get("before") or {}
    match template:
        case Template.ORDER_CONFIRMATION:
            for state, key in (
                ("READY", "ready_lines"),
                ("PRE_ORDER", "preorder_lines"),
                ("BACKORDER", "backorder_lines"),
            ):
                context[key] = [line for line in lines if line["state"] == state]
        case Template.PREORDER_RELEASED:
            context["launch_date"] = next(
                (line["release_date"] for line in lines if line["release_date"]),
                services.today(),
            )
        case Template.DELIVERY_REMINDER:
            context["days_to_go"] = int(event.get("daysToGo") or 0)
        case Template.DELIVERY_DELAYED:
            context.update(await _delay(services, lines, event, before))
        case Template.DISPATCHED:
            context["carrier"] = event.get("carrier")
            context["tracking_number"] = event.get("trackingNumber")
            context["tracking_url"] = event.get("trackingUrl")
        case Template.BALANCE_CAPTURED:
            context["amount_minor"] = int(event.get("amountMinor") or 0)
            context["paid_minor"] = sum(line["payment"]["paid_minor"] for line in shown)
        case Template.CANCELLATION:
            chosen = [entries[line["id"]] for line in lines]
            context["reason"] = event.get("reason")
            context["refund_minor"] = sum(
                e.amount_minor for es in chosen for e in es if e.kind is PaymentKind.REFUND
            )
            context["voided"] = any(e.kind is PaymentKind.VOID for es in chosen for e in es)
    return Content(context, unsubscribe)


def _line(row: Any, entries: list[Any]) -> dict[str, Any]:
    total = int(row["quantity"]) * int(row["unit_price_minor"])
    sums = totals(entries, amount_due(total, entries, row["status"] == "CANCELLED"))
    terms = row["payment_terms"]
    release = row["release_date"]
    earliest, latest = row["promised_earliest"], row["promised_latest"]
    ships_from = None
    if row["state"] == "PRE_ORDER":
        ships_from = max(d for d in (release, earliest) if d) if (release or earliest) else None
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "quantity": row["quantity"],
        "state": row["state"],
        "status": row["status"],
        "unit_price_minor": row["unit_price_minor"],
        "total_minor": total,
        "earliest": earliest,
        "latest": latest,
        "release_date": release,
        "ships_from": ships_from,
        "place_in_line": row["place_in_line"],
        "payment": {
            "terms": terms if terms in PaymentTerms.__members__ else PaymentTerms.FULL.value,
            "paid_minor": sums.captured - sums.refunded,
            "authorized_minor": sums.authorized,
            "due_minor": sums.due,
        },
    }


async def _delay(
    services: Services,
    lines: list[dict[str, Any]],
    event: dict[str, Any],
    before: dict[str, Any],
) -> dict[str, Any]:
    if not lines:
        raise Unsendable("the delayed line is gone")
    line = lines[0]
    consent = bool(event.get("consentRequested"))
    accept_url = cancel_url = None
    if consent:
        for decision in ("ACCEPT", "CANCEL"):
            token = await links.sign(
                services, links.Purpose.DELAY, {"l": line["id"], "d": decision}
            )
            link = links.url(services, "delay", decision=decision, token=token)
            if decision == "ACCEPT":
                accept_url = link
            else:
                cancel_url = link
    return {
        "line": line,
        "previous": {
            "earliest": _day(before.get("earliest")),
            "latest": _day(before.get("latest")),
        },
        "current": {"earliest": _day(event.get("earliest")), "latest": _day(event.get("latest"))},
        "reason": event.get("note") or event.get("reason"),
        "delayed_days": int(event.get("delayedDays") or 0),
        "consent_requested": consent,
        "accept_url": accept_url,
        "cancel_url": cancel_url,
        "answer_within_days": services.settings.delay_consent_wait_days,
        "no_answer_policy": services.settings.delay_no_answer_policy,
    }


async def _alert(
    services: Services, template: Template, event: dict[str, Any], row: Any
) -> dict[str, Any]:
    data: dict[str, Any] = event.get("event") or {}
    product = {
        "sku": data.get("sku", ""),
        "name": data.get("name") or data.get("sku", ""),
        "url": data.get("productUrl"),
    }
    if template is Template.ALERT_CONFIRMATION:
        token = await links.sign(services, links.Purpose.ALERT, {"a": row["alert_id"]})
        return {
            "product": {"sku": product["sku"], "name": product["name"]},
            "confirm_url": links.url(services, "alerts/confirm", token=token),
            "expires_days": ALERT_CONFIRM_DAYS,
        }
    return {
        "product": product,
        "opened": {
            "state": data.get("state", "IN_STOCK"),
            "button_label": data.get("buttonLabel", ""),
            "message": data.get("message"),
            "release_date": _day(data.get("releaseDate")),
            "earliest": _day(data.get("earliest")),
            "latest": _day(data.get("latest")),
        },
        "hold_minutes": services.settings.alert_hold_minutes,
    }


ALERT_CONFIRM_DAYS = 7
DELAY_LINK_EXTRA_DAYS = 30
"""A delay link stays valid this long past the answer window (the answer itself is refused
once the delay no longer waits for one)."""
