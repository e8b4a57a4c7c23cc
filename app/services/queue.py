"""The waiting queue after placement: pause and resume, the customer's answer to a delay (and
the store's policy when there is none), and the pre-order release on launch day.

Every use case here that touches a SKU's queue locks the order row, then the SKU's pool rows
(the global lock order), changes the lines, and ends with ``settle``: free units go to the
next eligible lines in queue order, READY is recomputed, promises follow.
"""

from __future__ import annotations

import uuid

from app.domain.estimates import PromiseCause
from app.domain.events import EventKind, line_event
from app.domain.lines import DelayConsent, pausable, resumable
from app.services import policy
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import QueueErrorCode as E
from app.services.notifications import links
from app.services.notifications.content import DELAY_LINK_EXTRA_DAYS
from app.services.orders.cancellation import cancel
from app.services.orders.reads import token_matches
from app.services.results import Actor, Changed, Result, ServiceError
from app.services.shipment_opening import open_shipments
from app.storage import catalog as catalog_store
from app.storage import ledger
from app.storage import notifications as notification_store
from app.storage import orders as store
from app.storage.allocation import lock_pools, unallocate

# ---------------------------------------------------------------- pause / resume


async def set_paused(
    services: Services, actor: Actor, order_id: uuid.UUID, line_id: int | None, paused: bool
) -> Result[Changed]:
    """Pause: the line keeps its place in the queue but is skipped by allocation; its
    ring-fenced units go to the next in line unless ``OMS_PAUSE_KEEPS_ALLOCATION``, and it
    leaves its shipment if it was in one. Resume: it is served again at its original position
    for the next units, and ships (a shipment is opened) once it has them all."""
    async with services.uow() as uow:
        conn = uow.conn
        order = await store.lock_order(conn, order_id)
        if order is None or not policy.may_manage_order(actor, order["channel_code"]):
            return Result.fail(E.NOT_FOUND, "No such order or line.", "input", "id")
        lines = await store.order_lines(conn, order_id, line_id)
        if line_id is not None and not lines:
            return Result.fail(E.NOT_FOUND, "No such order or line.", "input", "id")
        can = pausable if paused else resumable
        targets = [
            line
            for line in lines
            if can(line["state"], line["status"], line["paused_at"] is not None)
        ]
        if not targets:
            code = E.NOTHING_TO_PAUSE if paused else E.NOTHING_TO_RESUME
            what = "waiting lines to pause" if paused else "paused lines to resume"
            return Result.fail(code, f"No {what}.", "input", "lineId" if line_id else "id")
        product_ids = sorted({line["product_id"] for line in targets})
        await lock_pools(conn, product_ids)
        ids = [line["id"] for line in targets]
        await store.set_paused(conn, ids, services.now() if paused else None)
        await ledger.append(
            conn,
            [
                line_event(
                    EventKind.LINE_PAUSED if paused else EventKind.LINE_RESUMED,
                    order_id,
                    line["id"],
                    actor.name,
                    {"paused": paused},
                    {"paused": not paused, "allocated": line["allocated"]},
                )
                for line in targets
            ],
        )
        if paused and not services.settings.pause_keeps_allocation:
            # every target: ``allocated`` was read before the pool locks and a receipt may
            # have allocated to the line since (the statement reads it afresh, skips 0)
            await unallocate(conn, ids, PromiseCause.PAUSE, actor.name)
        await settle(
            conn,
            services,
            product_ids,
            PromiseCause.PAUSE if paused else PromiseCause.RESUME,
            actor.name,
        )
        if not paused:  # a resumed line that kept its units may ship again
            await open_shipments(conn, services, actor, order_ids=[order_id])
        await uow.commit()
    return Result(Changed(order_id, len(targets)))


# ---------------------------------------------------------------- delay consent


async def respond_to_delay(
    services: Services,
    actor: Actor | None,
    line_id: int,
    decision: str,
    order_token: str | None = None,
) -> Result[Changed]:
    """The customer's answer to a delay beyond the threshold: ACCEPT keeps the line (its
    place and its payment); CANCEL cancels it and refunds or voids through the ledger."""
    return await _answer(services, actor, line_id, decision, order_token, None)


async def respond_by_link(
    services: Services, actor: Actor | None, token: str, decision: str | None
) -> Result[Changed]:
    """The answer a delay e-mail's link carries (signed, single use, expiring): the line and
    the decision are the link's; a ``decision`` given besides must match it."""
    opened = await links.read(
        services,
        links.Purpose.DELAY,
        token,
        services.settings.delay_consent_wait_days + DELAY_LINK_EXTRA_DAYS,
    )
    data = opened.data or {}
    line_id, chosen, jti = data.get("l"), data.get("d"), data.get("j")
    if not isinstance(line_id, int) or chosen not in ("ACCEPT", "CANCEL") or not jti:
        code = E.LINK_EXPIRED if opened.problem == "EXPIRED" else E.INVALID_LINK
        message = "This link has expired." if code is E.LINK_EXPIRED else "Not a valid link."
        return Result.fail(code, message, "input", "linkToken")
    if decision is not None and decision != chosen:
        return Result.fail(E.INVALID, "The link is for the other answer.", "input", "decision")
    return await _answer(services, actor, line_id, str(chosen), None, str(jti))


async def _answer(
    services: Services,
    actor: Actor | None,
    line_id: int,
    decision: str,
    order_token: str | None,
    link_id: str | None,
) -> Result[Changed]:
    if decision not in ("ACCEPT", "CANCEL"):
        return Result.fail(E.INVALID, "ACCEPT or CANCEL.", "input", "decision")
    field = "linkToken" if link_id else "orderLineId"
    async with services.uow() as uow:
        conn = uow.conn
        row = await store.line_for_consent(conn, line_id)
        proof = link_id is not None or (row is not None and token_matches(row, order_token))
        if row is None or not policy.may_answer_delay(actor, row["channel_code"], proof):
            return Result.fail(E.NOT_FOUND, "No such order line.", "input", field)
        if row["delay_consent"] != DelayConsent.REQUESTED:
            return Result.fail(
                E.NO_DELAY_PENDING, "This line has no delay waiting for an answer.", "input", field
            )
        # a link answers once: the first use is recorded with the answer (for CANCEL, just
        # before the cancellation, which runs in its own transaction)
        if link_id is not None and not await notification_store.use_token(
            conn, link_id, links.Purpose.DELAY.value
        ):
            return Result.fail(E.LINK_USED, "This link was used already.", "input", field)
        if decision == "ACCEPT":
            await store.set_delay_consent(conn, [line_id], DelayConsent.ACCEPTED)
            await ledger.append(
                conn,
                [
                    line_event(
                        EventKind.LINE_DELAY_ACCEPTED,
                        row["order_id"],
                        line_id,
                        _name(actor),
                        {"delayConsent": DelayConsent.ACCEPTED, "byLink": link_id is not None},
                        {"delayConsent": DelayConsent.REQUESTED},
                    )
                ],
            )
            await uow.commit()
            return Result(Changed(row["order_id"], 1, line_id))
        await uow.commit()
    result = await cancel(
        services,
        actor or CUSTOMER,
        row["order_id"],
        line_id,
        "customer declined the delay",
        delay_consent=DelayConsent.CANCELLED,
        as_owner=True,
    )
    if not result.ok:
        return Result(
            errors=[ServiceError(e.field, E(e.code.value), e.message) for e in result.errors]
        )
    return Result(Changed(row["order_id"], 1, line_id))


CUSTOMER = Actor("customer", frozenset())
"""Who acts when a customer answers with the order token and no API key."""


def _name(actor: Actor | None) -> str:
    return (actor or CUSTOMER).name


async def expire_delay_consents(services: Services, actor: Actor) -> int:
    """Unanswered delays follow the store's policy (``OMS_DELAY_NO_ANSWER_POLICY``), recorded
    on the line and in its events. A delay that is gone again (the promise is back within the
    threshold of the first one) is accepted whatever the policy: nothing to cancel for."""
    policy_setting = services.settings.delay_no_answer_policy
    async with services.uow() as uow:
        conn = uow.conn
        rows = await store.expired_consents(
            conn, services.now(), services.settings.delay_consent_days
        )
        accept = [r for r in rows if policy_setting == "ACCEPT" or not r["still_delayed"]]
        if accept:
            await store.set_delay_consent(
                conn, [r["id"] for r in accept], DelayConsent.DEFAULT_ACCEPTED
            )
            await ledger.append(
                conn,
                [
                    line_event(
                        EventKind.LINE_DELAY_ACCEPTED,
                        row["order_id"],
                        row["id"],
                        actor.name,
                        {
                            "delayConsent": DelayConsent.DEFAULT_ACCEPTED,
                            "policy": "no answer"
                            if row["still_delayed"]
                            else "no answer; the delay is gone",
                        },
                        {"delayConsent": DelayConsent.REQUESTED},
                    )
                    for row in accept
                ],
            )
        await uow.commit()
    done = len(accept)
    for row in rows:
        if policy_setting == "ACCEPT" or not row["still_delayed"]:
            continue
        result = await cancel(
            services,
            actor,
            row["order_id"],
            row["id"],
            "no answer to the delay: store policy cancels",
            delay_consent=DelayConsent.DEFAULT_CANCELLED,
            as_owner=True,
        )
        done += 1 if result.ok else 0
    return done


# ---------------------------------------------------------------- pre-order release


async def release_preorders(services: Services, actor: Actor) -> list[str]:
    """At the launch date (store time zone) the waiting pre-orders become allocatable: units
    received before the launch (held for them) go to them FIFO, and only then is the SKU
    released for READY sales. Safe with several replicas (``SKIP LOCKED``)."""
    async with services.uow() as uow:
        conn = uow.conn
        rows = await catalog_store.releasable_products(conn, services.today())
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        await lock_pools(conn, ids)
        await settle(conn, services, ids, PromiseCause.RELEASE, actor.name)
        await catalog_store.mark_released(conn, ids)
        await store.record_release(conn, ids, actor.name)
        await uow.commit()
    return [r["sku"] for r in rows]
