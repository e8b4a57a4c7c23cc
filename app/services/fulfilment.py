"""Fulfilment by order: ``dispatchOrderLines`` and ``confirmDelivery``, the wrappers kept
from before shipments. Dispatch ships through shipments (``app.services.shipment_dispatch``:
the lines' shipments are opened if they have none, taken to AWAITING_SHIPMENT and
dispatched); a delivery date marks the lines delivered (what promise accuracy counts) and a
dispatched shipment whose lines are all delivered DELIVERED.

Lock order: the order row, the lines' shipment rows, then (dispatch) the SKUs' pool rows, the
line rows it opens shipments for and the stock rows shipped from.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from app.domain.dates import date_problem
from app.domain.lines import LineStatus
from app.services import policy, shipments
from app.services.container import Services
from app.services.error_codes import FulfilmentErrorCode as E
from app.services.results import Actor, Changed, Result
from app.services.shipment_dispatch import Parcel, chosen_lines, dispatch_lines
from app.storage import orders as store

__all__ = ["Parcel", "confirm_delivery", "dispatch"]


async def _order_lines(
    conn: asyncpg.Connection, actor: Actor, order_id: uuid.UUID
) -> tuple[Any, list[Any]] | None:
    order = await store.lock_order(conn, order_id)
    if order is None or not policy.may_manage_order(actor, order["channel_code"]):
        return None
    return order, await store.order_lines(conn, order_id)


async def dispatch(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_ids: list[int] | None,
    location: str | None,
    parcel: Parcel | None = None,
) -> Result[Changed]:
    """Ship READY lines and fully allocated released lines (those named, or every one that
    can ship): stock leaves the location, the units leave their pools, and what is due at
    dispatch is captured (a deposit's balance, an authorization). A declined capture gives
    back what was taken and ships nothing; the shipments go ON_HOLD (PAYMENT_FAILED)."""
    return await dispatch_lines(services, actor, order_id, line_ids, location, parcel)


async def confirm_delivery(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_ids: list[int] | None,
    delivered_on: date,
) -> Result[Changed]:
    if problem := date_problem(
        delivered_on, services.today(), future=False, what="A delivery date"
    ):
        return Result.fail(E.INVALID_DATE, problem, "input", "deliveredOn")
    async with services.uow() as uow:
        conn = uow.conn
        found = await _order_lines(conn, actor, order_id)
        if found is None:
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "orderId")
        _order, lines = found
        chosen = chosen_lines(lines, line_ids)
        if chosen is None:
            return Result.fail(E.NOT_FOUND, "A line is not on this order.", "input", "lineIds")
        targets = [
            line
            for line in chosen
            if line["status"] == LineStatus.SHIPPED and line["delivered_on"] is None
        ]
        if not targets or (line_ids and len(targets) != len(chosen)):
            return Result.fail(
                E.NOT_DELIVERABLE,
                "Only shipped, undelivered lines can be delivered.",
                "input",
                "lineIds",
            )
        for line in targets:
            if delivered_on < line["shipped_at"].astimezone(services.store_tz).date():
                return Result.fail(
                    E.INVALID_DATE, "Delivered before it was shipped.", "input", "deliveredOn"
                )
        # the lines' shipments after the order row; each DELIVERED once all its lines are
        await shipments.deliver_shipments_of(conn, services, actor, found[0], targets, delivered_on)
        await uow.commit()
    return Result(Changed(order_id, len(targets)))
