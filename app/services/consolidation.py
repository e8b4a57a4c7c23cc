"""consolidateShipments: one customer's waiting pre-order and backorder shipments (and the
released lines that are in no shipment yet) merged into one shipment, all or nothing.

What is looked at: the open PRE_ORDER and BACKORDER shipments holding lines of the orders
given (``orderIds``), or of the customer's open orders with a line of the SKU given
(``customerEmail`` and ``sku``: then only shipments holding a line of that SKU), and those
orders' pre-order and backorder lines of that kind that have not shipped and are in no
shipment. The rules are the domain's (``app.domain.consolidation.plan``): every shipment must
still be PICKING, every line in no shipment must be allocated in full, released and not
paused, and all of them must go to the same customer, channel, address and carrier service as
the shipment that survives (the earliest dispatch deadline; it keeps it). Any that cannot is a
``userError`` with its reason and nothing changes.

The merge: the others are CANCELLED (their ``shipment_lines`` stay: their history) with a
``shipment.consolidated`` event, their lines and the loose ones move to the survivor, which
goes on the work list of its latest line's kind and gets a ``shipment.consolidated`` event
per order. The customer's estimate of every line then follows the latest line of the
shipment: a line that moves later is re-promised as a delay (cause CONSOLIDATION, the usual
consent rules), by the same function automatic consolidation uses
(``app.services.shipment_opening``).

Locks (``app.storage.consolidation``): the order rows in id order, the shipment rows in id
order, then the loose line rows in id order; a shipment or line that another transaction
opened meanwhile (shipments open without the order's row) makes the transaction run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.consolidation import (
    Destination,
    LooseLine,
    Merge,
    OpenShipment,
    Problem,
    plan,
)
from app.domain.contact import normalise_email
from app.domain.events import Event, EventKind
from app.domain.shipments import FulfilmentKind, PlannedShipment, ShipmentStatus
from app.domain.text import lookup_key
from app.services import policy
from app.services.container import Services
from app.services.error_codes import FulfilmentErrorCode as E
from app.services.results import Actor, Result, ServiceError
from app.services.shipment_opening import address_of, carrier_service_of, follow_latest_window
from app.services.shipments import Held, current_orders, events_for
from app.storage import consolidation as store
from app.storage import ledger
from app.storage import shipments as shipment_store

MAX_ORDERS = 50
RETRIES = 3


@dataclass(frozen=True)
class Consolidated:
    shipment_id: int  # the survivor
    shipments_saved: int
    lines_moved: int
    repromised: int


class _ScopeMoved(Exception):
    """A shipment or line of the scope changed between reading it and locking it (an
    allocation opened a shipment meanwhile): the transaction runs again."""


@dataclass(frozen=True)
class _Request:
    order_ids: tuple[uuid.UUID, ...] | None  # the orderIds form, in input order
    email: str | None  # the customerEmail form
    sku: str | None


def _invalid(message: str, *field: str) -> Result[Consolidated]:
    return Result.fail(E.INVALID, message, "input", *field)


def _request(
    order_ids: Sequence[uuid.UUID | None] | None, customer_email: str | None, sku: str | None
) -> _Request | Result[Consolidated]:
    by_customer = customer_email is not None or sku is not None
    if (order_ids is None) == (not by_customer):
        return _invalid("Give either orderIds, or customerEmail and sku.")
    if order_ids is not None:
        if not order_ids:
            return _invalid("Name at least one order.", "orderIds")
        if len(order_ids) > MAX_ORDERS:
            return _invalid(f"At most {MAX_ORDERS} orders at once.", "orderIds")
        unknown = [i for i, order_id in enumerate(order_ids) if order_id is None]
        if unknown:
            return Result(errors=[_not_found(i) for i in unknown])
        return _Request(tuple(o for o in order_ids if o is not None), None, None)
    if customer_email is None or sku is None:
        missing = "sku" if sku is None else "customerEmail"
        return _invalid("customerEmail and sku go together.", missing)
    email = normalise_email(customer_email)
    if email is None:
        return _invalid("A valid e-mail address is needed.", "customerEmail")
    return _Request(None, email, sku)


def _not_found(index: int) -> ServiceError:
    return ServiceError(("input", "orderIds", str(index)), E.NOT_FOUND, "No such order.")


async def consolidate(
    services: Services,
    actor: Actor,
    order_ids: Sequence[uuid.UUID | None] | None,
    customer_email: str | None,
    sku: str | None,
) -> Result[Consolidated]:
    """Merge the customer's waiting shipments (see the module); ``order_ids`` holds None for
    an ID that names no order."""
    request = _request(order_ids, customer_email, sku)
    if isinstance(request, Result):
        return request
    for attempt in range(RETRIES):
        try:
            async with services.uow() as uow:
                result = await _consolidate(uow.conn, services, actor, request)
                if result.ok:
                    await uow.commit()
                return result
        except _ScopeMoved:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _consolidate(
    conn: asyncpg.Connection, services: Services, actor: Actor, request: _Request
) -> Result[Consolidated]:
    today = services.today()
    if request.order_ids is not None:
        given = list(dict.fromkeys(request.order_ids))
    elif request.email is not None and lookup_key(request.sku):
        assert request.sku is not None
        # another channel's orders are not the caller's to see: left out, as if none
        given = [
            row["id"]
            for row in await store.customer_orders(conn, request.email, request.sku)
            if policy.may_manage_order(actor, row["channel_code"])
        ]
    else:
        given = []
    sku = request.sku
    # the orders, then the shipments, then the loose lines, each in id order
    shipment_ids = await store.waiting_shipments(conn, given, sku) if given else []
    involved = sorted(set(given) | set(await store.orders_of(conn, shipment_ids)))
    orders = {row["id"]: row for row in await shipment_store.lock_orders(conn, involved)}
    if request.order_ids is not None:
        refused = [
            _not_found(i)
            for i, order_id in enumerate(request.order_ids)
            if order_id not in orders
            or not policy.may_manage_order(actor, orders[order_id]["channel_code"])
        ]
        if refused:
            return Result(errors=refused)
    if await store.waiting_shipments(conn, given, sku) != shipment_ids:
        raise _ScopeMoved
    if not set(await store.orders_of(conn, shipment_ids)) <= set(orders):
        raise _ScopeMoved
    shipment_rows = await shipment_store.lock_shipments(conn, shipment_ids)
    loose_ids = [int(r["id"]) for r in await store.loose_lines(conn, given, sku, today)]
    if await store.lock_lines(conn, loose_ids) != sorted(loose_ids):
        raise _ScopeMoved
    loose_rows = await store.loose_lines(conn, given, sku, today)
    if [int(r["id"]) for r in loose_rows] != loose_ids:
        raise _ScopeMoved
    held_lines = await shipment_store.lines_in(conn, shipment_ids, today)

    outcome = plan(
        [_shipment(row, held_lines) for row in shipment_rows],
        [_loose(row) for row in loose_rows],
    )
    if not isinstance(outcome, Merge):
        return Result(
            errors=[
                ServiceError(
                    _field(request, p, shipment_rows, held_lines, loose_rows),
                    E(p.reason.value),
                    p.message,
                )
                for p in outcome
            ]
        )
    return Result(await _merge(conn, services, actor, outcome, shipment_rows, loose_rows))


def _shipment(row: Any, lines: Sequence[Any]) -> OpenShipment:
    return OpenShipment(
        id=int(row["id"]),
        number=row["number"],
        status=ShipmentStatus(row["status"]),
        deadline=row["dispatch_deadline"],
        destination=Destination.of(
            row["customer_email"],
            row["channel_code"],
            ledger.json_of(row["address"]),
            row["carrier_service"],
        ),
        line_states=tuple(line["state"] for line in lines if line["shipment_id"] == row["id"]),
    )


def _loose(row: Any) -> LooseLine:
    sub = f".{row['sub_no']}" if row["sub_no"] else ""
    return LooseLine(
        id=int(row["id"]),
        label=f"line {row['line_no']}{sub} of {row['number']} ({row['sku']})",
        state=row["state"],
        quantity=int(row["quantity"]),
        allocated=int(row["allocated"]),
        released=bool(row["released"]),
        paused=bool(row["paused"]),
        destination=Destination.of(
            row["customer_email"], row["channel_code"], address_of(row), carrier_service_of(row)
        ),
    )


def _field(
    request: _Request,
    problem: Problem,
    shipment_rows: Sequence[Any],
    held_lines: Sequence[Any],
    loose_rows: Sequence[Any],
) -> tuple[str, ...]:
    """The input field a refused shipment or line comes from: its order in ``orderIds`` (a
    shipment's own order, else the first of its lines' orders there), or the customer's
    e-mail (the other form)."""
    if request.order_ids is None:
        return ("input", "customerEmail")
    orders: list[uuid.UUID] = []
    if problem.shipment_id is not None:
        orders += [r["order_id"] for r in shipment_rows if r["id"] == problem.shipment_id]
        orders += [r["order_id"] for r in held_lines if r["shipment_id"] == problem.shipment_id]
    if problem.line_id is not None:
        orders += [r["order_id"] for r in loose_rows if r["id"] == problem.line_id]
    for order_id in orders:
        if order_id in request.order_ids:
            return ("input", "orderIds", str(request.order_ids.index(order_id)))
    return ("input", "orderIds")


CONSOLIDATED = EventKind.SHIPMENTS_CONSOLIDATED


async def _merge(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    merge: Merge,
    shipment_rows: Sequence[Any],
    loose_rows: Sequence[Any],
) -> Consolidated:
    today, now = services.today(), services.now()
    rows = {int(r["id"]): r for r in shipment_rows}
    survivor = Held(rows[merge.survivor], {})
    merged = [Held(rows[i], {}) for i in merge.cancelled]
    events: list[Event] = []
    numbers = [m.row["number"] for m in merged]
    for held in merged:
        events += events_for(
            held,
            await current_orders(conn, held, today),
            CONSOLIDATED,
            actor,
            {"status": ShipmentStatus.CANCELLED.value, "into": survivor.row["number"]},
            {"status": held.status.value},
        )
    moved = await store.merge(
        conn, merge.survivor, merge.cancelled, merge.added_lines, merge.kind.value, now
    )
    events += events_for(
        survivor,
        await current_orders(conn, survivor, today),
        CONSOLIDATED,
        actor,
        {
            "kind": merge.kind.value,
            "merged": numbers,
            "addedLineIds": list(merge.added_lines),
            "shipmentsSaved": merge.shipments_saved,
        },
        {"kind": survivor.row["kind"]},
    )
    await ledger.append(conn, events)
    promised = await store.promises_in(conn, merge.survivor)
    lines = {int(r["id"]): r for r in promised}
    repromised = await follow_latest_window(
        conn,
        services,
        [
            PlannedShipment(
                FulfilmentKind(merge.kind),
                tuple(sorted(lines)),
                tuple(dict.fromkeys(r["order_id"] for r in promised)),
                survivor.row["ready_at"],
            )
        ],
        lines,
        actor.name,
    )
    return Consolidated(merge.survivor, merge.shipments_saved, len(moved), repromised)
