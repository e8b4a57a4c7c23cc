"""Dispatch: a shipment leaves with the carrier (``dispatchShipment``), or an order's lines do
(``dispatchOrderLines``, a wrapper that opens and advances their shipments first).

For the lines it ships: stock leaves the location (the one given, else the one with the
most), the units leave their pools (and RESERVED when ring-fenced), what is still due is
captured through the gateway journal (``app.domain.payments``), the lines are SHIPPED with a
``line.shipped`` event each, an order with nothing left open is COMPLETED, and ``settle``
follows. A dispatch that would leave fewer units on hand than are ring-fenced for waiting
lines is refused (INSUFFICIENT_STOCK), never left to the database's check at COMMIT.

A declined capture: the journal refunds what the attempt took, the whole dispatch is rolled
back, and then, in a transaction of its own, the shipment goes ON_HOLD (PAYMENT_FAILED) with
an event: ops see it in ``shipments(filter: {status: ON_HOLD})``. The answer is the shipment
on hold and a PAYMENT_DECLINED error.

Lock order: the orders' rows, the shipment rows, the pool rows, then (``dispatchOrderLines``
opening shipments for lines in none) the line rows, then the stock rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from app.domain.estimates import PromiseCause
from app.domain.events import Event, EventKind, line_event, order_event, shipment_event
from app.domain.lines import LineStatus, OrderStatus, shippable
from app.domain.shipments import HoldReason, ShipmentStatus, transition_problem
from app.domain.text import lookup_key, required_text
from app.services import policy, shipments
from app.services.allocation import settle
from app.services.container import Services
from app.services.error_codes import FulfilmentErrorCode as E
from app.services.orders.payments import (
    GatewayJournal,
    LineCharge,
    PaymentDeclined,
    capture_on_dispatch,
)
from app.services.results import Actor, Changed, Result, ServiceError
from app.services.shipment_opening import open_shipments
from app.services.shipments import Held
from app.storage import inventory as inventory_store
from app.storage import ledger
from app.storage import orders as order_store
from app.storage import shipments as store
from app.storage.allocation import lock_pools


@dataclass(frozen=True)
class Parcel:
    """How a dispatch travels, as the customer's dispatch e-mail shows it."""

    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None

    def problem(self, required: bool = False) -> tuple[str, str] | None:
        """(field, message) of the first bad value (``required``: a shipment's dispatch
        needs a carrier and a tracking number)."""
        for name, value, limit in (
            ("carrier", self.carrier, 64),
            ("trackingNumber", self.tracking_number, 64),
            ("trackingUrl", self.tracking_url, 500),
        ):
            if value is None and required and name != "trackingUrl":
                return name, "Required to dispatch a shipment."
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


class _Declined(Exception):
    """A capture was declined: what to put on hold once the dispatch is rolled back."""

    def __init__(self, message: str, shipment_ids: Sequence[int], loose: Sequence[int]) -> None:
        super().__init__(message)
        self.message = message
        self.shipment_ids = list(shipment_ids)
        self.loose = list(loose)  # lines that had no shipment yet (dispatchOrderLines)


def _checked(parcel: Parcel, location: str | None, required: bool) -> Result[Any] | None:
    problem = parcel.problem(required)
    if problem is not None:
        return Result.fail(E.INVALID, problem[1], "input", problem[0])
    if location is not None and not lookup_key(location):  # names no location
        return Result.fail(E.UNKNOWN_LOCATION, f"No location {location!r}.", "input", "location")
    return None


# ---------------------------------------------------------------- dispatchShipment


async def dispatch_shipment(
    services: Services,
    actor: Actor,
    shipment_id: int,
    parcel: Parcel,
    location: str | None = None,
) -> Result[int]:
    """AWAITING_SHIPMENT → DISPATCHED with a carrier and tracking number."""
    if refused := _checked(parcel, location, required=True):
        return refused
    journal = GatewayJournal(services.gateway)
    try:

        async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
            return await _dispatch_held(conn, services, actor, held, parcel, location, journal)

        return await shipments.locked(services, actor, shipment_id, move)
    except _Declined as declined:
        await journal.compensate()
        await _hold_declined(services, actor, None, declined)
        return Result(
            shipment_id,
            errors=[
                ServiceError(
                    ("input",),
                    E.PAYMENT_DECLINED,
                    f"Capture failed: {declined.message}. The shipment is on hold "
                    "(PAYMENT_FAILED).",
                )
            ],
        )
    except BaseException:
        await journal.compensate()
        raise


async def _dispatch_held(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    held: Held,
    parcel: Parcel,
    location: str | None,
    journal: GatewayJournal,
) -> Result[int]:
    if problem := transition_problem(held.status, ShipmentStatus.DISPATCHED, held.held_from):
        return shipments.invalid(problem)
    today = services.today()
    product_ids = sorted(
        {line["product_id"] for line in await store.lines_in(conn, [held.id], today)}
    )
    await lock_pools(conn, product_ids)
    lines = await store.lines_in(conn, [held.id], today)  # again, under the pool locks
    if not lines:
        return Result.fail(E.NOT_DISPATCHABLE, "The shipment has no line left.", "input", "id")
    if blocked := [line for line in lines if not _can_ship(line)]:
        return Result.fail(
            E.NOT_DISPATCHABLE,
            f"Line {blocked[0]['id']} cannot ship: it is {blocked[0]['status'].lower()}.",
            "input",
            "id",
        )
    try:
        refused = await ship(conn, services, actor, held.orders, lines, location, parcel, journal)
    except PaymentDeclined as exc:
        raise _Declined(str(exc), [held.id], []) from exc
    if refused is not None:
        return refused
    await _dispatched(conn, services, actor, [held], lines, parcel)
    return Result(held.id)


def _can_ship(line: Any) -> bool:
    return shippable(line["status"], bool(line["released"]), line["paused_at"] is not None)


async def _dispatched(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    held: Sequence[Held],
    lines: Sequence[Any],
    parcel: Parcel,
) -> None:
    await store.set_dispatched(
        conn,
        [h.id for h in held],
        parcel.carrier,
        parcel.tracking_number,
        parcel.tracking_url,
        services.now(),
    )
    events: list[Event] = []
    for h in held:
        orders: dict[uuid.UUID, list[int]] = {}
        for line in lines:
            if line["shipment_id"] == h.id:
                orders.setdefault(line["order_id"], []).append(int(line["id"]))
        events += shipments.events_for(
            h,
            orders,
            EventKind.SHIPMENT_DISPATCHED,
            actor,
            {"status": ShipmentStatus.DISPATCHED.value, **parcel.payload()},
            {"status": ShipmentStatus.AWAITING_SHIPMENT.value},
        )
    await ledger.append(conn, events)


async def ship(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    orders: Mapping[uuid.UUID, Any],
    lines: Sequence[Any],
    location: str | None,
    parcel: Parcel,
    journal: GatewayJournal,
) -> Result[Any] | None:
    """Ship ``lines`` (the caller holds their orders' rows and the SKUs' pool rows); the
    refusal, or None once shipped. ``PaymentDeclined`` when a capture is declined."""
    movements: list[Event] = []
    for line in lines:
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
        await inventory_store.set_on_hand(conn, line["product_id"], stock["location_code"], after)
        order = orders[line["order_id"]]
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
    await inventory_store.release_by_kind(conn, _pool_units(lines))
    product_ids = sorted({line["product_id"] for line in lines})
    # READY sold beyond what is on hand (stock counted down after the sale) must not ship
    # units ring-fenced for waiting lines
    if short := await store.ring_fence_shortfalls(conn, product_ids):
        first = short[0]
        return Result.fail(
            E.INSUFFICIENT_STOCK,
            f"Not enough {first['sku']} on hand: shipping would leave {first['on_hand']} "
            f"units for the {first['reserved']} ring-fenced for waiting lines.",
            "input",
            "location",
        )
    await order_store.mark_shipped(conn, [line["id"] for line in lines])
    by_order: dict[uuid.UUID, list[Any]] = {}
    for line in lines:
        by_order.setdefault(line["order_id"], []).append(line)
    for order_id, mine in by_order.items():
        await capture_on_dispatch(
            conn,
            journal,
            order_id,
            [LineCharge(x["id"], x["quantity"] * x["unit_price_minor"]) for x in mine],
            orders[order_id]["currency"],
            actor.name,
        )
    events: list[Event] = [
        *movements,
        *(
            line_event(
                EventKind.LINE_SHIPPED,
                line["order_id"],
                line["id"],
                actor.name,
                {"status": LineStatus.SHIPPED, **parcel.payload()},
                {"status": line["status"]},
            )
            for line in lines
        ),
    ]
    for order_id in by_order:
        left = await order_store.lines_left(
            conn, order_id, LineStatus.SHIPPED, LineStatus.CANCELLED
        )
        if left == 0:
            await order_store.set_order_status(conn, order_id, OrderStatus.COMPLETED)
            events.append(
                order_event(
                    EventKind.ORDER_COMPLETED,
                    order_id,
                    actor.name,
                    {"status": OrderStatus.COMPLETED},
                    {"status": orders[order_id]["status"]},
                )
            )
    await ledger.append(conn, events)
    await settle(conn, services, product_ids, PromiseCause.DISPATCH, actor.name)
    return None


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


async def _hold_declined(
    services: Services, actor: Actor, order_id: uuid.UUID | None, declined: _Declined
) -> list[int]:
    """After a declined capture rolled the dispatch back: its shipments (and, for lines that
    had none, new ones) go ON_HOLD with PAYMENT_FAILED, in a transaction of their own."""
    note = f"Capture declined: {declined.message}"[:500]
    held_ids: list[int] = []
    for shipment_id in declined.shipment_ids:

        async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
            if held.status is ShipmentStatus.ON_HOLD or held.status not in (
                ShipmentStatus.PICKING,
                ShipmentStatus.PACKED,
                ShipmentStatus.AWAITING_SHIPMENT,
            ):
                return Result(held.id)  # moved meanwhile: nothing to hold
            return await shipments.put_on_hold(
                conn, services, actor, held, HoldReason.PAYMENT_FAILED, note
            )

        result = await shipments.locked(services, actor, shipment_id, move)
        if result.ok and result.value is not None:
            held_ids.append(result.value)
    if declined.loose and order_id is not None:
        async with services.uow() as uow:
            conn = uow.conn
            order = await order_store.lock_order(conn, order_id)
            if order is not None:
                opened = await open_shipments(
                    conn,
                    services,
                    actor,
                    order_ids=[order_id],
                    line_ids=declined.loose,
                    whole_orders=False,
                    consolidate=False,
                )
                for new_id, _number in opened.shipments:
                    rows = await store.lock_shipments(conn, [new_id])
                    held = Held(rows[0], {order_id: order})
                    await shipments.put_on_hold(
                        conn, services, actor, held, HoldReason.PAYMENT_FAILED, note
                    )
                    held_ids.append(new_id)
            await uow.commit()
    return held_ids


# ---------------------------------------------------------------- dispatchOrderLines


async def dispatch_lines(
    services: Services,
    actor: Actor,
    order_id: uuid.UUID,
    line_ids: list[int] | None,
    location: str | None,
    parcel: Parcel | None = None,
) -> Result[Changed]:
    """Ship an order's lines that can ship (those named, or all): the shipments they are in
    (or, in none, new ones) are moved to AWAITING_SHIPMENT and dispatched, in one
    transaction. A line that shares its shipment with lines not named is refused (dispatch
    the shipment), as is one in a shipment on hold. Carrier and tracking are optional here."""
    parcel = parcel or Parcel()
    if refused := _checked(parcel, location, required=False):
        return refused
    journal = GatewayJournal(services.gateway)
    try:
        return await _dispatch_lines(services, actor, order_id, line_ids, location, parcel, journal)
    except _Declined as declined:
        await journal.compensate()
        await _hold_declined(services, actor, order_id, declined)
        return Result.fail(E.PAYMENT_DECLINED, f"Capture failed: {declined.message}", "input")
    except BaseException:
        await journal.compensate()
        raise


def chosen_lines(lines: list[Any], line_ids: list[int] | None) -> list[Any] | None:
    """The order's lines a request names (all when it names none); None when it names a
    line that is not on the order."""
    if not line_ids:
        return lines
    wanted = set(line_ids)
    if not wanted <= {line["id"] for line in lines}:
        return None
    return [line for line in lines if line["id"] in wanted]


@dataclass(frozen=True)
class _Pick:
    ship: list[Any]
    refusal: Result[Any] | None


def _pick(
    chosen: list[Any],
    named: bool,
    today: date,
    open_rows: Mapping[int, Any],
    members: Mapping[int, set[int]],
) -> _Pick:
    """What the wrapper ships: each chosen line that can ship, whose shipment (if any) can
    still be dispatched and holds chosen lines only; a named line that cannot is refused."""
    ids = {line["id"] for line in chosen}
    ship = []
    for line in chosen:
        released = line["release_date"] is None or line["release_date"] <= today
        problem: tuple[E, str] | None = None
        if not shippable(line["status"], released, line["paused_at"] is not None):
            problem = (
                E.NOT_DISPATCHABLE,
                f"Line {line['id']} is {line['status'].lower()} and cannot ship yet.",
            )
        elif line["shipment_id"] is not None:
            row = open_rows.get(line["shipment_id"])
            status = ShipmentStatus(row["status"]) if row else ShipmentStatus.CANCELLED
            held_from = ShipmentStatus(row["held_from"]) if row and row["held_from"] else None
            step = transition_problem(status, ShipmentStatus.DISPATCHED, held_from)
            if status in (ShipmentStatus.PICKING, ShipmentStatus.PACKED):
                step = None  # the wrapper takes it through the warehouse steps
            number = row["number"] if row else line["shipment_id"]
            if step is not None:
                problem = (
                    E.INVALID_TRANSITION,
                    f"Line {line['id']} is in shipment {number}: {step}",
                )
            elif not members.get(line["shipment_id"], set()) <= ids:
                problem = (
                    E.NOT_DISPATCHABLE,
                    f"Line {line['id']} ships with other lines in shipment {number}: dispatch "
                    "the shipment, or name all of its lines.",
                )
        if problem is None:
            ship.append(line)
        elif named:
            return _Pick([], Result.fail(problem[0], problem[1], "input", "lineIds"))
    if not ship:
        return _Pick(
            [], Result.fail(E.NOT_DISPATCHABLE, "Nothing on this order can ship yet.", "input")
        )
    return _Pick(ship, None)


async def _dispatch_lines(
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
        order = await order_store.lock_order(conn, order_id)
        if order is None or not policy.may_manage_order(actor, order["channel_code"]):
            return Result.fail(E.NOT_FOUND, "No such order.", "input", "orderId")
        chosen = chosen_lines(await order_store.order_lines(conn, order_id), line_ids)
        if chosen is None:
            return Result.fail(E.NOT_FOUND, "A line is not on this order.", "input", "lineIds")
        # the shipments of the chosen lines, after the order row
        rows = await store.lock_shipments(
            conn, sorted({line["shipment_id"] for line in chosen if line["shipment_id"]})
        )
        open_rows = {int(r["id"]): r for r in rows}
        members: dict[int, set[int]] = {}
        for line in await store.lines_in(conn, list(open_rows), today):
            members.setdefault(int(line["shipment_id"]), set()).add(int(line["id"]))
        pick = _pick(chosen, bool(line_ids), today, open_rows, members)
        if pick.refusal is not None:
            return pick.refusal
        await lock_pools(conn, sorted({line["product_id"] for line in pick.ship}))
        # again under the pool locks: an allocation taken back meanwhile stops a line
        fresh = {line["id"]: line for line in await order_store.order_lines(conn, order_id)}
        again = _pick([fresh[line["id"]] for line in pick.ship], True, today, open_rows, members)
        if again.refusal is not None:
            return again.refusal
        loose = [line["id"] for line in pick.ship if line["shipment_id"] is None]
        opened = await open_shipments(
            conn,
            services,
            actor,
            order_ids=[order_id],
            line_ids=loose,
            whole_orders=False,
            consolidate=False,
        )
        new_rows = await store.lock_shipments(conn, [i for i, _n in opened.shipments])
        lines = await store.lines_by_id(conn, [line["id"] for line in pick.ship], today)
        if any(line["shipment_id"] is None for line in lines):
            return Result.fail(
                E.NOT_DISPATCHABLE, "A line changed meanwhile: try again.", "input", "lineIds"
            )
        held = [Held(r, {order_id: order}) for r in [*rows, *new_rows]]
        held = [h for h in held if any(line["shipment_id"] == h.id for line in lines)]
        await _advanced(conn, actor, held, lines)
        try:
            refused = await ship(
                conn, services, actor, {order_id: order}, lines, location, parcel, journal
            )
        except PaymentDeclined as exc:
            raise _Declined(str(exc), [r["id"] for r in rows], loose) from exc
        if refused is not None:
            return refused
        await _dispatched(conn, services, actor, held, lines, parcel)
        await uow.commit()
    return Result(Changed(order_id, len(lines)))


async def _advanced(
    conn: asyncpg.Connection, actor: Actor, held: Sequence[Held], lines: Sequence[Any]
) -> None:
    """The wrapper takes shipments through the warehouse steps to AWAITING_SHIPMENT."""
    events: list[Event] = []
    for h in held:
        if h.status is ShipmentStatus.AWAITING_SHIPMENT:
            continue
        await store.set_status(conn, h.id, ShipmentStatus.AWAITING_SHIPMENT.value)
        orders: dict[uuid.UUID, list[int]] = {}
        for line in lines:
            if line["shipment_id"] == h.id:
                orders.setdefault(line["order_id"], []).append(int(line["id"]))
        events += [
            shipment_event(
                EventKind.SHIPMENT_ADVANCED,
                h.id,
                order_id,
                actor.name,
                {
                    "number": h.row["number"],
                    "status": ShipmentStatus.AWAITING_SHIPMENT.value,
                    "lineIds": ids,
                    "by": "dispatchOrderLines",
                },
                {"status": h.status.value},
            )
            for order_id, ids in orders.items()
        ]
    await ledger.append(conn, events)
