"""Cancelling a whole order or one line: units go back to the pool they came from (ready stock
to ATP, a pre-order place back under the cap, a backorder leaves its queue), ring-fenced
units go to the next in line, and captured money is refunded, authorizations voided.

Lock order: the order row (FOR NO KEY UPDATE), then every pool row of the order's SKUs in
the global order, before any gateway call; the releases and READY recompute then lock
nothing new, and no refund precedes a deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from asyncpg.exceptions import DeadlockDetectedError

from app.domain.availability import PoolKind
from app.domain.estimates import PromiseCause
from app.domain.events import Event, EventKind, line_event, order_event
from app.domain.lines import LineStatus, OrderStatus, cancellable
from app.domain.text import MAX_TEXT, clean_text
from app.services import policy
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import OrderErrorCode as E
from app.services.orders.payments import reverse_on_cancel
from app.services.orders.placement import POOL_LOCK_ORDER
from app.services.results import Actor, Result
from app.storage import inventory as inventory_store
from app.storage import ledger
from app.storage import orders as store
from app.storage.allocation import lock_pools, unallocate


@dataclass(frozen=True)
class Cancelled:
    order_id: uuid.UUID
    lines: int


async def cancel(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_id: int | None,
    reason: str | None,
    *,
    delay_consent: str | None = None,
    as_owner: bool = False,
) -> Result[Cancelled]:
    """Cancel a whole order or one line; retried when PostgreSQL resolves a deadlock with an
    admin write by aborting us (always before any gateway call).

    ``delay_consent`` records, on the cancelled lines, that the customer (or the store's
    no-answer policy) declined a delay; ``as_owner`` is for callers that already checked the
    caller may act on the order (a customer with the order token)."""
    for attempt in range(3):
        try:
            return await _cancel_once(
                services, actor, order_id, line_id, reason, delay_consent, as_owner
            )
        except DeadlockDetectedError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _cancel_once(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_id: int | None,
    reason: str | None,
    delay_consent: str | None,
    as_owner: bool,
) -> Result[Cancelled]:
    if not clean_text(reason):
        return Result.fail(E.INVALID, f"At most {MAX_TEXT} characters, no NUL bytes.", "reason")
    async with services.uow() as uow:
        conn = uow.conn
        order = await store.lock_order(conn, order_id)
        if order is None or not (as_owner or policy.may_manage_order(actor, order["channel_code"])):
            return Result.fail(E.NOT_FOUND, "No such order.", "id")
        lines = await store.order_lines(conn, order_id, line_id)
        if line_id is not None and not lines:
            return Result.fail(E.NOT_FOUND, "No such line on this order.", "lineId")
        open_lines = [line for line in lines if cancellable(line["status"])]
        if not open_lines:
            return Result.fail(
                E.NOT_CANCELLABLE,
                "Nothing left to cancel on this order.",
                "id" if line_id is None else "lineId",
            )
        product_ids = sorted({line["product_id"] for line in open_lines})
        await lock_pools(conn, product_ids)
        line_ids = [line["id"] for line in open_lines]
        # Ring-fenced units first go back to free stock; ``settle`` below hands them on.
        # Every open line: ``allocated`` was read before the pool locks, and a receipt may
        # have allocated to it since (the statement reads it afresh and skips 0).
        await unallocate(conn, line_ids, PromiseCause.CANCELLATION, actor.name)
        # An answer to a delay (or the no-answer policy) cancels only while the delay still
        # waits for one: the customer may have accepted it since it was checked.
        if await store.cancel_lines(conn, line_ids, delay_consent) != len(line_ids):
            return Result.fail(
                E.NO_DELAY_PENDING,
                "This line has no delay waiting for an answer.",
                "input",
                "orderLineId",
            )
        events: list[Event] = [
            line_event(
                EventKind.LINE_CANCELLED,
                order_id,
                line["id"],
                actor.name,
                {"status": LineStatus.CANCELLED, "reason": reason},
                {"status": line["status"], "quantity": line["quantity"], "pool": line["pool_kind"]},
            )
            for line in open_lines
        ]
        if await store.lines_left(conn, order_id, LineStatus.CANCELLED) == 0:
            await store.set_order_status(conn, order_id, OrderStatus.CANCELLED)
            events.append(
                order_event(
                    EventKind.ORDER_CANCELLED,
                    order_id,
                    actor.name,
                    {"status": OrderStatus.CANCELLED, "reason": reason},
                    {"status": order["status"]},
                )
            )
        await ledger.append(conn, events)
        # the money follows the lines: refunds and voids, recorded after the cancellation
        await reverse_on_cancel(
            conn, services.gateway, order_id, line_ids, order["currency"], reason, actor.name
        )
        releases: dict[int, int] = {}
        lock_key: dict[int, tuple[str, int]] = {}
        for line in open_lines:
            releases[line["pool_id"]] = releases.get(line["pool_id"], 0) + line["quantity"]
            lock_key[line["pool_id"]] = (line["sku"], POOL_LOCK_ORDER[PoolKind(line["pool_kind"])])
        # Same lock order as placement (SKU, then CHANNEL, READY, PRE_ORDER, BACKORDER).
        for pool_id in sorted(releases, key=lambda pid: lock_key[pid]):
            if not await inventory_store.release(conn, pool_id, releases[pool_id]):
                raise RuntimeError(f"pool {pool_id} would go below zero: ledger drift")
        # Freed units go to the next in line before anything re-opens for sale; READY and the
        # channel holds are recomputed, the SKUs' promises follow, caches are told.
        await settle(conn, services, product_ids, PromiseCause.CANCELLATION, actor.name)
        await uow.commit()
    return Result(Cancelled(order_id, len(open_lines)))
