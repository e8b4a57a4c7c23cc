"""The e-mail relay: from the event ledger to customers' inboxes, safe with several replicas.

1. ``derive``: follow the ledger (the transactional outbox: every event was written in the
   transaction that caused it) from the relay's cursor and record the messages each event
   causes (``app.domain.notifications.messages_for``); one relay at a time holds the cursor,
   and a message exists once per (group, recipient, template) however often it is derived.
2. ``send_due``: claim due messages (``SKIP LOCKED``, a lease), render and send them with
   the services' mailer, then record SENT, a retry (back-off with jitter) or DEAD after
   ``OMS_MAIL_MAX_ATTEMPTS``. A permanent refusal (5xx) is DEAD at once.
3. A claim whose lease ran out (the relay died between claiming and recording the outcome)
   becomes UNCONFIRMED: it may have reached the customer, so it is never sent again on its
   own; ``retryNotification`` sends it again with the same Message-ID.

At most once per (event, recipient, template): the one window left is a relay that dies after
the SMTP server accepted a message and before SENT is committed; that message is UNCONFIRMED,
and a resend by ops carries the same Message-ID, which mail systems use to spot duplicates.

The consent clock of a delay starts when its message is SENT (``starts_consent``), not when the
delay was computed: a customer who was never told is never cancelled for not answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.domain.events import Event, EventKind, Subject
from app.domain.notifications import NotificationStatus, Template, messages_for, retry_delay
from app.metrics import MAIL_BACKLOG, MAIL_OUTCOMES
from app.services.container import Services
from app.services.notifications.content import Unsendable, build
from app.services.notifications.mailer import SendFailed, compose
from app.services.notifications.render import render
from app.storage import ledger
from app.storage import notifications as store
from app.storage.notifications import NewNotification

log = logging.getLogger(__name__)

CURSOR = "notifications"
BATCH = 500
SEND_BATCH = 50
ACTOR = "system:mail-relay"


@dataclass(frozen=True)
class RelayRun:
    derived: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    suppressed: int = 0
    unconfirmed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v}


async def derive(services: Services) -> int:
    """Record the messages of every event after the cursor; the number recorded."""
    recorded = 0
    while True:
        async with services.uow() as uow:
            conn = uow.conn
            position = await store.take_cursor(conn, CURSOR)
            if position is None:
                return recorded  # another relay is deriving
            rows = await ledger.read_stream(conn, position, BATCH)
            if not rows:
                return recorded
            planned = await _plan(conn, rows)
            await store.insert_notifications(conn, planned, _domain(services), services.now())
            await store.move_cursor(conn, CURSOR, ledger.position_of(rows[-1]))
            await uow.commit()
        recorded += len(planned)
        if len(rows) < BATCH:
            return recorded


async def _plan(conn: Any, rows: Sequence[Any]) -> list[NewNotification]:
    orders = {r["order_id"] for r in rows if r["order_id"] is not None}
    lines = {r["line_id"] for r in rows if r["line_id"] is not None}
    emails, states = await store.recipients(conn, list(orders), list(lines))
    planned: dict[tuple[str, str, str], NewNotification] = {}
    for row in rows:
        payload = ledger.json_of(row["payload"])
        for message in messages_for(row["kind"], payload, states.get(row["line_id"])):
            recipient, alert_id = _recipient(row, payload, emails)
            if not recipient:
                continue
            line_ids = (
                (int(row["line_id"]),)
                if row["line_id"] is not None
                else tuple(int(i) for i in payload.get("lineIds") or ())
            )
            group = (
                f"t{row['tx']}:{row['order_id']}"
                if message.grouped and row["order_id"] is not None
                else f"e{row['id']}"
            )
            key = (group, recipient, message.template.value)
            same = planned.get(key)
            if same is not None:  # another line of the same message
                planned[key] = NewNotification(
                    **{**same.__dict__, "line_ids": tuple(sorted({*same.line_ids, *line_ids}))}
                )
                continue
            before = ledger.json_of(row["before"]) or None
            planned[key] = NewNotification(
                group_key=group,
                event_id=int(row["id"]),
                kind=row["kind"],
                template=message.template.value,
                recipient=recipient,
                transactional=message.transactional,
                order_id=row["order_id"],
                line_ids=line_ids,
                alert_id=alert_id,
                payload={"event": payload, "before": before},
                starts_consent=message.starts_consent,
            )
    return list(planned.values())


def _recipient(row: Any, payload: dict[str, Any], emails: dict[Any, str]) -> tuple[str, int | None]:
    if row["subject"] == Subject.ALERT:
        return str(payload.get("email") or ""), int(row["subject_id"])
    return emails.get(row["order_id"], ""), None


def _domain(services: Services) -> str:
    sender = services.settings.mail_from
    return sender.rsplit("@", 1)[-1] if "@" in sender else "oms.local"


async def send_due(services: Services, limit: int = SEND_BATCH) -> RelayRun:
    """Send what is due now, one batch; what happened to each."""
    now = services.now()
    lease = now + timedelta(seconds=services.settings.mail_lease_seconds)
    async with services.uow() as uow:
        claimed = await store.claim_due(uow.conn, now, lease, limit)
        await uow.commit()
    if not claimed:
        return RelayRun()
    outcomes: dict[str, int] = {}
    allowed = await _reminders_allowed(services, claimed)
    finished: set[int] = set()
    try:
        async with services.mailer.session() as session:
            for row in claimed:
                finished.add(row["id"])
                outcome = await _send_one(services, session, row, allowed)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    except SendFailed as exc:  # the server could not be reached: the other claims wait
        for row in claimed:
            if row["id"] not in finished:
                outcome = await _failed(services, row, exc)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return RelayRun(**outcomes)


async def _reminders_allowed(services: Services, rows: Sequence[Any]) -> dict[str, bool]:
    optional = [r["recipient"] for r in rows if not r["transactional"]]
    if not optional:
        return {}
    async with services.read() as conn:
        return await store.reminders_allowed(conn, optional)


async def _send_one(services: Services, session: Any, row: Any, allowed: dict[str, bool]) -> str:
    now = services.now()
    if not row["transactional"] and not allowed.get(row["recipient"], True):
        async with services.uow() as uow:
            await store.mark_failed(
                uow.conn, row["id"], NotificationStatus.SUPPRESSED, now, "unsubscribed"
            )
            await uow.commit()
        MAIL_OUTCOMES.labels("suppressed").inc()
        return "suppressed"
    try:
        async with services.read() as conn:
            content = await build(services, conn, row)
        settings = services.settings
        rendered = render(
            Template(row["template"]), content.context, settings.locale, settings.store_timezone
        )
        message = compose(
            settings,
            rendered,
            to=row["recipient"],
            message_id=row["message_id"],
            sent_at=now,
            unsubscribe_url=content.unsubscribe_url,
        )
        await session.send(message)
    except Unsendable as exc:
        await _failed(services, row, SendFailed(str(exc), permanent=True))
        return "dead"
    except SendFailed as exc:
        return await _failed(services, row, exc)
    except Exception as exc:  # a template or data error: retried, then dead, never lost
        log.exception("a message could not be written", extra={"notification": row["id"]})
        return await _failed(services, row, SendFailed(f"{type(exc).__name__}: {exc}", False))
    await _sent(services, row, rendered.subject)
    return "sent"


async def _sent(services: Services, row: Any, subject: str) -> None:
    now = services.now()
    async with services.uow() as uow:
        conn = uow.conn
        if not await store.mark_sent(conn, row["id"], now, subject):
            return  # its lease ran out meanwhile: ops own it now
        payload: dict[str, Any] = {"template": row["template"], "to": row["recipient"]}
        if row["starts_consent"]:
            due = now + timedelta(days=services.settings.delay_consent_wait_days)
            started = await store.start_consent_clock(conn, list(row["line_ids"]), due)
            if started:
                payload["consentDueAt"] = due.isoformat()
                payload["consentLines"] = started
        await ledger.append(conn, [_event(EventKind.NOTIFICATION_SENT, row, payload)])
        await uow.commit()
    MAIL_OUTCOMES.labels("sent").inc()


async def _failed(services: Services, row: Any, error: SendFailed) -> str:
    now = services.now()
    settings = services.settings
    dead = error.permanent or row["attempts"] >= settings.mail_max_attempts
    status = NotificationStatus.DEAD if dead else NotificationStatus.PENDING
    delay = retry_delay(
        row["attempts"],
        settings.mail_retry_base_seconds,
        settings.mail_retry_max_seconds,
        random.random(),
    )
    async with services.uow() as uow:
        changed = await store.mark_failed(
            uow.conn, row["id"], status, now + timedelta(seconds=delay), str(error)
        )
        if changed and dead:
            await ledger.append(
                uow.conn,
                [
                    _event(
                        EventKind.NOTIFICATION_DEAD,
                        row,
                        {"template": row["template"], "error": str(error)[:500]},
                    )
                ],
            )
        await uow.commit()
    outcome = "dead" if dead else "retrying"
    MAIL_OUTCOMES.labels(outcome).inc()
    log.warning(
        "a message was not sent",
        extra={"notification": row["id"], "outcome": outcome, "error": str(error)[:200]},
    )
    return outcome


def _event(kind: EventKind, row: Any, payload: dict[str, Any]) -> Event:
    return Event(
        kind,
        Subject.NOTIFICATION,
        str(row["id"]),
        ACTOR,
        payload,
        order_id=row["order_id"],
    )


async def expire_leases(services: Services) -> int:
    async with services.uow() as uow:
        rows = await store.expire_leases(uow.conn, services.now())
        if rows:
            await ledger.append(
                uow.conn,
                [
                    _event(
                        EventKind.NOTIFICATION_UNCONFIRMED,
                        row,
                        {"template": row["template"], "lineIds": list(row["line_ids"])},
                    )
                    for row in rows
                ],
            )
        await uow.commit()
    if rows:
        MAIL_OUTCOMES.labels("unconfirmed").inc(len(rows))
    return len(rows)


async def run_once(services: Services) -> RelayRun:
    """One round: leases that ran out, new messages from the ledger, then every due batch."""
    unconfirmed = await expire_leases(services)
    derived = await derive(services)
    totals: dict[str, int] = {"derived": derived, "unconfirmed": unconfirmed}
    while True:
        run = await send_due(services)
        for key, value in run.__dict__.items():
            totals[key] = totals.get(key, 0) + value
        if run.sent + run.retrying + run.dead + run.suppressed < SEND_BATCH:
            break
    async with services.read() as conn:
        counts = await store.status_counts(conn)
    for status in ("PENDING", "DEAD", "UNCONFIRMED"):
        MAIL_BACKLOG.labels(status).set(counts.get(status, 0))
    return RelayRun(**totals)


async def run_forever(
    services: Services, poll_seconds: float, wake: asyncio.Event, stopping: asyncio.Event
) -> None:
    """The relay loop of one replica: woken by new events (NOTIFY), and every ``poll_seconds``
    (a retry coming due, a NOTIFY lost). Errors are logged and retried, never fatal."""
    while not stopping.is_set():
        wake.clear()
        try:
            await run_once(services)
        except Exception:
            log.exception("the mail relay failed a round; it tries again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_either(wake, stopping), poll_seconds)


async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
