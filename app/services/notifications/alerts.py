""" "Notify me": availability alerts on a SOLD_OUT page, with double opt-in.

1. ``request_alert`` (the storefront, no key needed): a PENDING alert for a SKU that is
   SOLD_OUT right now (the PDP's own rule, for one unit on the caller's channel), and an
   ``alert.requested`` event, from which the relay sends the confirmation e-mail with a signed,
   single-use link. A repeat of an open alert is that alert (no second e-mail); an address
   has at most ``MAX_OPEN_ALERTS`` open alerts.
2. ``confirm_alert`` (the link): PENDING → CONFIRMED. Only confirmed alerts are ever sent.
3. ``release_alerts`` (the RELEASE_AVAILABILITY_ALERTS job): for each SKU with confirmed
   alerts that is no longer SOLD_OUT, the first alerts in sign-up order, no more than the
   units that can be sold less those still held for customers alerted before
   (``OMS_ALERT_HOLD_MINUTES``), become NOTIFIED with an ``alert.released`` event each that
   says what opened (in stock, pre-order or backorder, with its message and dates).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.domain.availability import AvailabilityState
from app.domain.contact import normalise_email
from app.domain.events import Event, EventKind, Subject
from app.domain.notifications import alerts_to_send
from app.domain.text import lookup_key
from app.services import policy
from app.services.availability import Availability, product_availability
from app.services.container import Services
from app.services.error_codes import NotificationErrorCode as E
from app.services.notifications import links
from app.services.notifications.content import ALERT_CONFIRM_DAYS
from app.services.reference import ReferenceData, load_reference
from app.services.results import Actor, Result
from app.storage import alerts as store
from app.storage import ledger
from app.storage.inventory import SkuRecord, fetch_records
from app.storage.notifications import use_token

MAX_OPEN_ALERTS = 20
"""Open (PENDING or CONFIRMED) alerts per address: an anonymous caller cannot grow the table
(or an inbox) without bound."""
RELEASE_SKUS = 100
"""SKUs one run of the job looks at; the next run takes the next ones (by product id)."""
QUEUE_BATCH = 1000
"""Alerts of one SKU one run sends at most (uncapped pre-orders or backorders)."""
CURSOR_KEY = "availability-alerts-cursor"
CUSTOMER = "customer"


class AvailabilityAlertStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the customer's confirmation (double opt-in)
    CONFIRMED = "CONFIRMED"  # in the SKU's queue, in sign-up order
    NOTIFIED = "NOTIFIED"  # its alert went out
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class AlertView:
    """An alert as the API shows it (never its address)."""

    id: int
    sku: str
    status: AvailabilityAlertStatus
    channel: str | None
    opened_state: str | None
    created_at: datetime
    confirmed_at: datetime | None
    notified_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> AlertView:
        return cls(
            id=int(row["id"]),
            sku=row["sku"],
            status=AvailabilityAlertStatus(row["status"]),
            channel=row["channel"],
            opened_state=row["opened_state"],
            created_at=row["created_at"],
            confirmed_at=row["confirmed_at"],
            notified_at=row["notified_at"],
        )


async def _reference_with(services: Services, channel: str | None) -> ReferenceData:
    """The reference data; read afresh when it does not know ``channel`` (added since)."""
    reference = await load_reference(services)
    if channel is not None and channel not in reference.channels:
        reference = await load_reference(services, fresh=True)
    return reference


async def request_alert(
    services: Services, actor: Actor | None, sku: str, email: str, channel: str | None
) -> Result[AlertView]:
    """Sign ``email`` up for an alert when ``sku`` can be ordered again (double opt-in: the
    alert is PENDING until the link in the confirmation e-mail is used)."""
    address = normalise_email(email)
    if address is None:
        return Result.fail(E.INVALID_EMAIL, "Not a valid e-mail address.", "input", "email")
    async with services.read() as conn:
        record = (await fetch_records(conn, [sku])).get(sku) if lookup_key(sku) else None
    if record is None:
        return Result.fail(E.NOT_FOUND, f"No product with SKU {sku!r}.", "input", "sku")
    reference = await _reference_with(services, channel)
    if channel is not None and channel not in reference.channels:
        return Result.fail(E.UNKNOWN_CHANNEL, f"No channel {channel!r}.", "input", "channel")
    answer = await _availability(services, record, channel, reference)
    if answer is None or answer.resolution.state is not AvailabilityState.SOLD_OUT:
        return Result.fail(
            E.NOT_SOLD_OUT,
            "This product can be ordered now: no alert is needed.",
            "input",
            "sku",
        )
    now = services.now()
    name = actor.name if actor is not None else CUSTOMER
    async with services.uow() as uow:
        conn = uow.conn
        await store.lock_email(conn, address)
        existing = await store.open_alert(conn, record.product_id, address)
        if existing is not None:
            if existing["status"] != AvailabilityAlertStatus.PENDING or not _link_expired(
                existing, now
            ):
                return Result(AlertView.from_row(existing))  # a repeat: nothing new
            # asked again after the confirmation link expired: a new link (a new sign-up)
            row = await store.renew_request(conn, int(existing["id"]), now)
            if row is None:  # confirmed meanwhile (by a link sent late): that alert it is
                found = await store.open_alert(conn, record.product_id, address)
                return Result(AlertView.from_row(found or existing))
        else:
            if await store.count_open(conn, address) >= MAX_OPEN_ALERTS:
                return Result.fail(
                    E.TOO_MANY_ALERTS,
                    f"At most {MAX_OPEN_ALERTS} open alerts per e-mail address.",
                    "input",
                    "email",
                )
            row, created = await store.create_alert(conn, record.product_id, address, channel, now)
            if not created:
                return Result(AlertView.from_row(row))
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.ALERT_REQUESTED,
                    Subject.ALERT,
                    str(row["id"]),
                    name,
                    {
                        "email": address,
                        "sku": row["sku"],
                        "name": row["name"],
                        "channel": row["channel"],
                    },
                    product_id=record.product_id,
                )
            ],
        )
        await uow.commit()
    return Result(AlertView.from_row(row))


def _link_expired(row: Any, now: datetime) -> bool:
    created: datetime = row["created_at"]
    return created + timedelta(days=ALERT_CONFIRM_DAYS) <= now


async def confirm_alert(services: Services, token: str) -> Result[AlertView]:
    """The link of the confirmation e-mail (signed, single use, ``ALERT_CONFIRM_DAYS``):
    the alert joins its SKU's queue."""
    opened = await links.read(services, links.Purpose.ALERT, token, ALERT_CONFIRM_DAYS)
    data = opened.data or {}
    alert_id, jti = data.get("a"), data.get("j")
    if (
        not isinstance(alert_id, int)
        or isinstance(alert_id, bool)
        or not isinstance(jti, str)
        or not jti
    ):
        if opened.problem == "EXPIRED":
            return Result.fail(E.LINK_EXPIRED, "This link has expired.", "input", "token")
        return Result.fail(E.INVALID_LINK, "Not a valid link.", "input", "token")
    now = services.now()
    async with services.uow() as uow:
        conn = uow.conn
        row = await store.alert_for_update(conn, alert_id)
        if row is None:
            return Result.fail(E.NOT_FOUND, "This alert no longer exists.", "input", "token")
        if row["status"] != AvailabilityAlertStatus.PENDING:
            return Result.fail(E.LINK_USED, "This alert was confirmed already.", "input", "token")
        if not await use_token(conn, jti, links.Purpose.ALERT.value):
            return Result.fail(E.LINK_USED, "This link was used already.", "input", "token")
        confirmed = await store.confirm(conn, alert_id, now)
        if confirmed is None:  # pragma: no cover - the row is locked and PENDING
            return Result.fail(E.LINK_USED, "This alert was confirmed already.", "input", "token")
        await ledger.append(
            conn,
            [
                Event(
                    EventKind.ALERT_CONFIRMED,
                    Subject.ALERT,
                    str(alert_id),
                    CUSTOMER,
                    {"email": confirmed["email"], "sku": confirmed["sku"]},
                    product_id=confirmed["product_id"],
                )
            ],
        )
        await uow.commit()
    return Result(AlertView.from_row(confirmed))


async def by_ids(services: Services, actor: Actor | None, ids: Sequence[int]) -> dict[int, Any]:
    """Alerts by id, for ops only (anyone else: none)."""
    if not policy.is_ops(actor) or not ids:
        return {}
    async with services.read() as conn:
        rows = await store.alerts_by_ids(conn, ids)
    return {int(r["id"]): AlertView.from_row(r) for r in rows}


# ---------------------------------------------------------------- the job


async def _availability(
    services: Services, record: SkuRecord, channel: str | None, reference: ReferenceData
) -> Availability | None:
    """The PDP answer for one unit on ``channel`` (None: the default view), with the default
    region; None when the channel is unknown."""
    result = await product_availability(
        services, record, record.snapshot.sku, 1, channel, None, reference
    )
    return result.value


def sellable(answer: Availability) -> int | None:
    """Units that can be sold now in the state that opened (None: no limit)."""
    res = answer.resolution
    if res.state is AvailabilityState.IN_STOCK:
        return res.available_quantity
    return res.cap_remaining


def _opened(answer: Availability, record: SkuRecord) -> dict[str, Any]:
    window = answer.delivery.window
    release = record.snapshot.release_date
    return {
        "state": answer.resolution.state.value,
        "buttonLabel": answer.resolution.button_label,
        "message": answer.message,
        "releaseDate": release.isoformat() if release else None,
        "earliest": window.earliest.isoformat() if window else None,
        "latest": window.latest.isoformat() if window else None,
        "productUrl": None,
    }


async def release_alerts(services: Services, actor: Actor) -> int:
    """Send the alerts whose SKU opened (up to ``RELEASE_SKUS`` SKUs a run); how many."""
    now = services.now()
    held_until = now + timedelta(minutes=services.settings.alert_hold_minutes)
    reference = await load_reference(services)
    cached = services.cache.get(CURSOR_KEY)
    after = cached if isinstance(cached, uuid.UUID) else None
    async with services.uow() as uow:
        conn = uow.conn
        skus = await store.skus_waiting(conn, after, RELEASE_SKUS)
        if not skus and after is not None:  # past the last SKU: from the first again
            skus = await store.skus_waiting(conn, None, RELEASE_SKUS)
        records = await fetch_records(conn, [r["sku"] for r in skus])
        events: list[Event] = []
        for waiting in skus:
            record = records.get(waiting["sku"])
            if record is None:
                continue
            answers: dict[str | None, Availability] = {}
            for code in waiting["channels"]:
                channel = code or None
                answer = await _availability(services, record, channel, reference)
                if answer is not None and answer.resolution.state is not AvailabilityState.SOLD_OUT:
                    answers[channel] = answer
            if not answers:
                continue  # still sold out everywhere its alerts look
            outstanding = await store.count_in_hold(conn, record.product_id, now)
            queue = await store.confirmed_queue(conn, record.product_id, QUEUE_BATCH)
            groups: dict[str | None, list[Any]] = {}  # by channel, first sign-up first
            for alert in queue:
                groups.setdefault(alert["channel"], []).append(alert)
            for channel, alerts in groups.items():
                answer = answers.get(channel)
                if answer is None:
                    continue
                count = alerts_to_send(sellable(answer), outstanding, len(alerts))
                chosen = alerts[:count]
                state = answer.resolution.state.value
                ids = set(
                    await store.mark_notified(
                        conn, [a["id"] for a in chosen], now, held_until, state
                    )
                )
                outstanding += len(ids)
                opened = _opened(answer, record)
                events.extend(
                    Event(
                        EventKind.ALERT_RELEASED,
                        Subject.ALERT,
                        str(alert["id"]),
                        actor.name,
                        {
                            "email": alert["email"],
                            "sku": waiting["sku"],
                            "name": waiting["name"],
                            **opened,
                        },
                        product_id=record.product_id,
                    )
                    for alert in chosen
                    if alert["id"] in ids
                )
        await ledger.append(conn, events)
        await uow.commit()
    following = skus[-1]["product_id"] if len(skus) == RELEASE_SKUS else None
    services.cache.put(CURSOR_KEY, following, 7 * 86400)
    return len(events)
