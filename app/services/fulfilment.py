"""Fulfilment: dispatch (stock leaves, units leave their pools, what is due is captured) and
delivery (the date that feeds promise accuracy).

Lock order: the order row, the SKUs' pool rows, then the stock rows shipped from.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from app.domain.dates import date_problem
from app.domain.estimates import PromiseCause
from app.domain.events import Event, EventKind, line_event, order_event
from app.domain.lines import LineStatus, OrderStatus, shippable
from app.domain.text import lookup_key, required_text
from app.services import policy
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import FulfilmentErrorCode as E
from app.services.orders.payments import (
    GatewayJournal,
    LineCharge,
    PaymentDeclined,
    capture_on_dispatch,
)
from app.services.results import Actor, Changed, Result
from app.storage import inventory as inventory_store
from app.storage import ledger
from app.storage import orders as store
from app.storage.allocation import lock_pools


def _chosen(lines: list[Any], line_ids: list[int] | None) -> list[Any] | None:
    """The order's lines a request names (all when it names none); None when it names a
    line that is not on the order."""
    if not line_ids:
        return lines
    wanted = set(line_ids)
    if not wanted <= {line["id"] for line in lines}:
        return None
    return [line for line in lines if line["id"] in wanted]


async def _order_lines(
    conn: asyncpg.Connection, actor: Actor, order_id: uuid.UUID
) -> tuple[Any, list[Any]] | None:
    order = await store.lock_order(conn, order_id)
    if order is None or not policy.may_manage_order(actor, order["channel_code"]):
        return None
    return order, await store.order_lines(conn, order_id)


@dataclass(frozen=True)
class Parcel:
    """How a dispatch travels, as the customer's dispatch e-mail shows it."""

    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None

    def problem(self) -> tuple[str, str] | None:
        """(field, message) of the first bad value."""
        for name, value, limit in (
            ("carrier", self.carrier, 64),
            ("trackingNumber", self.tracking_number, 64),
            ("trackingUrl", self.tracking_url, 500),
        ):
            if value is not None and not required_text(value, limit, one_line=True):
                return name, f"At most {limit} characters of text."
        url = self.tracking_url
        if url is not None and not url.startswith(("https://", "http://")):
            return "trackingUrl", "An http(s) URL."
        return None

    def payload(self) -> dict[str, str]:
        found = {
            "carrier": self.carrier,
            "trackingNumber": self.tracking_number,
            "trackingUrl": self.tracking_url,
        }
        return {k: v for k, v in found.items() if v is not None}


async def dispatch(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_ids: list[int] | None,
    location: str | None,
    parcel: Parcel | None = None,
) -> Result[Changed]:
    """Ship READY lines and fully allocated released lines: stock leaves the location, the
    units leave their pools, and what is due at dispatch is captured (a deposit's balance,
    an authorization). If the dispatch fails after a capture (a later capture declined, any
    error), the captures already taken are refunded, as at placement."""
    parcel = parcel or Parcel()
    problem = parcel.problem()
    if problem is not None:
        return Result.fail(E.INVALID, problem[1], "input", problem[0])
    if location is not None and not lookup_key(location):  # names no location
        return Result.fail(E.UNKNOWN_LOCATION, f"No location {location!r}.", "input", "location")
    journal = GatewayJournal(services.gateway)
    try:
        return await _dispatch(services, actor, order_id, line_ids, location, parcel, journal)
    except PaymentDeclined as exc:
        await journal.compensate()
        return Result.fail(E.PAYMENT_DECLINED, f"Capture failed: {exc}", "input")
    except BaseException:
        await journal.compensate()
        raise


async def _dispatch(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_ids: list[int] | None,
    location: str | None,
    parcel: Parcel,
    journal: GatewayJournal,
) -> Result[Changed]:
    today = services.today()
    async with services.uow() as uow:
        conn = uow.conn
        found = await _order_lines(conn, actor, order_id)
        if found is None:
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "orderId")
        order, lines = found
        chosen = _chosen(lines, line_ids)
        if chosen is None:
            return Result.fail(E.NOT_FOUND, "A line is not on this order.", "input", "lineIds")

        def can_ship(line: Any) -> bool:
            released = line["release_date"] is None or line["release_date"] <= today
            return shippable(line["status"], released, line["paused_at"] is not None)

        blocked = [line for line in chosen if not can_ship(line)]
        if line_ids and blocked:
            return Result.fail(
                E.NOT_DISPATCHABLE,
                f"Line {blocked[0]['id']} is {blocked[0]['status'].lower()} and cannot ship yet.",
                "input",
                "lineIds",
            )
        ship = [line for line in chosen if can_ship(line)]
        if not ship:
            return Result.fail(E.NOT_DISPATCHABLE, "Nothing on this order can ship yet.", "input")
        product_ids = sorted({line["product_id"] for line in ship})
        await lock_pools(conn, product_ids)
        movements: list[Event] = []
        for line in ship:
            stock = await inventory_store.stock_to_ship(
                conn, line["product_id"], location, line["quantity"]
            )
            if stock is None:
                where = f" at {location}" if location else " at any one location"
                return Result.fail(
                    E.INSUFFICIENT_STOCK,
                    f"Not enough {line['sku']} on hand{where} to ship line {line['id']}.",
                    "input",
                    "location",
                )
            after = stock["on_hand"] - line["quantity"]
            await inventory_store.set_on_hand(
                conn, line["product_id"], stock["location_code"], after
            )
            movements.append(
                ledger.stock_movement(
                    line["sku"],
                    stock["location_code"],
                    -line["quantity"],
                    after,
                    "SHIPMENT",
                    f"order {order['number']} line {line['id']}",
                    actor.name,
                )
            )
        # a shipped line leaves the pool it was drawn from and, when ring-fenced, RESERVED
        await inventory_store.release_by_kind(conn, _pool_units(ship))
        await store.mark_shipped(conn, [line["id"] for line in ship])
        await capture_on_dispatch(
            conn,
            journal,
            order_id,
            [LineCharge(line["id"], line["quantity"] * line["unit_price_minor"]) for line in ship],
            order["currency"],
            actor.name,
        )
        events: list[Event] = [
            *movements,
            *(
                line_event(
                    EventKind.LINE_SHIPPED,
                    order_id,
                    line["id"],
                    actor.name,
                    {"status": LineStatus.SHIPPED, **parcel.payload()},
                    {"status": line["status"]},
                )
                for line in ship
            ),
        ]
        if await store.lines_left(conn, order_id, LineStatus.SHIPPED, LineStatus.CANCELLED) == 0:
            await store.set_order_status(conn, order_id, OrderStatus.COMPLETED)
            events.append(
                order_event(
                    EventKind.ORDER_COMPLETED,
                    order_id,
                    actor.name,
                    {"status": OrderStatus.COMPLETED},
                    {"status": order["status"]},
                )
            )
        await ledger.append(conn, events)
        await settle(conn, services, product_ids, PromiseCause.DISPATCH, actor.name)
        await uow.commit()
    return Result(Changed(order_id, len(ship)))


def _pool_units(lines: Sequence[Any]) -> list[tuple[uuid.UUID, str, str | None, int]]:
    units = [
        (line["product_id"], line["pool_kind"], line["pool_channel"], line["quantity"])
        for line in lines
    ]
    units += [
        (line["product_id"], "RESERVED", None, line["allocated"])
        for line in lines
        if line["allocated"]
    ]
    return units


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
        chosen = _chosen(lines, line_ids)
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
        await store.mark_delivered(conn, [line["id"] for line in targets], delivered_on)
        await ledger.append(
            conn,
            [
                line_event(
                    EventKind.LINE_DELIVERED,
                    order_id,
                    line["id"],
                    actor.name,
                    {"deliveredOn": delivered_on.isoformat()},
                )
                for line in targets
            ],
        )
        await uow.commit()
    return Result(Changed(order_id, len(targets)))
