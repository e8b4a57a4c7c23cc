"""Shipments: the warehouse's moves (advance, hold, release, cancel, delivered) and reads.

Dispatch is ``app.services.shipment_dispatch``; opening shipments is
``app.services.shipment_opening`` (re-exported here: ``open_shipments``, ``open_all``). The
state machine is the domain's (``app.domain.shipments``): a move it does not allow is a
``INVALID_TRANSITION`` error with its message, and nothing changes.

Lock order of every move: the rows of the shipment's orders (FOR NO KEY UPDATE, in id order),
then the shipment row (FOR UPDATE), then, for dispatch, the pool rows and the stock rows. Two
moves racing on one shipment queue on its first order row and then on the shipment row; the
second sees the first's result. Every move writes an event per order the shipment holds
lines of (a consolidated shipment spans orders), so it shows in each order's history and
``orderEvents``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from app.domain.dates import date_problem
from app.domain.events import Event, EventKind, line_event, shipment_event
from app.domain.shipments import (
    OPEN,
    HoldReason,
    ShipmentStatus,
    Urgency,
    advance_problem,
    next_step,
    release_problem,
    transition_problem,
    urgency,
)
from app.domain.text import MAX_TEXT, clean_text
from app.domain.work_list import deadline_range
from app.services import policy
from app.services.container import Services
from app.services.error_codes import FulfilmentErrorCode as E
from app.services.results import Actor, Result
from app.services.shipment_opening import open_all, open_shipments
from app.storage import ledger
from app.storage import orders as order_store
from app.storage import shipments as store
from app.storage.shipments import ShipmentFilter

__all__ = [
    "Held",
    "ShipmentFilter",
    "advance",
    "cancel",
    "count_shipments",
    "deliver_shipments_of",
    "hold",
    "list_shipments",
    "load_events",
    "load_line_refs",
    "load_shipments",
    "load_shipments_of_orders",
    "lock_shipment",
    "locked",
    "mark_delivered",
    "open_all",
    "open_shipments",
    "readable",
    "release",
    "shipment_urgency",
]

T = TypeVar("T")
RETRIES = 3


class _OrdersMoved(Exception):
    """Lines of another order joined the shipment between reading its orders and locking it:
    the transaction is rolled back and run again."""


@dataclass(frozen=True)
class Held:
    """A shipment locked for a move, with its orders' rows (locked first)."""

    row: Any
    orders: Mapping[uuid.UUID, Any]

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def status(self) -> ShipmentStatus:
        return ShipmentStatus(self.row["status"])

    @property
    def held_from(self) -> ShipmentStatus | None:
        held = self.row["held_from"]
        return ShipmentStatus(held) if held else None


async def lock_shipment(conn: asyncpg.Connection, actor: Actor, shipment_id: int) -> Held | None:
    """The shipment and its orders locked in the lock order; None when there is none or the
    caller may not manage one of its orders (the same answer: NOT_FOUND)."""
    order_ids = await store.orders_of(conn, shipment_id)
    if not order_ids:
        return None
    orders = await store.lock_orders(conn, order_ids)
    rows = await store.lock_shipments(conn, [shipment_id])
    if not rows:
        return None
    if not set(await store.orders_of(conn, shipment_id)) <= set(order_ids):
        raise _OrdersMoved
    if not all(policy.may_manage_order(actor, o["channel_code"]) for o in orders):
        return None
    return Held(rows[0], {o["id"]: o for o in orders})


async def locked(
    services: Services,
    actor: Actor,
    shipment_id: int,
    move: Callable[[asyncpg.Connection, Held], Awaitable[Result[T]]],
) -> Result[T]:
    """Run ``move`` on the locked shipment in one transaction, committed when it succeeds
    (rolled back on errors); NOT_FOUND when the caller may not see it."""
    for attempt in range(RETRIES):
        try:
            async with services.uow() as uow:
                held = await lock_shipment(uow.conn, actor, shipment_id)
                if held is None:
                    return Result.fail(E.NOT_FOUND, "No such shipment.", "input", "id")
                result = await move(uow.conn, held)
                if result.ok:
                    await uow.commit()
                return result
        except _OrdersMoved:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def invalid(message: str) -> Result[Any]:
    return Result.fail(E.INVALID_TRANSITION, message, "input", "id")


async def current_orders(
    conn: asyncpg.Connection, held: Held, today: date
) -> dict[uuid.UUID, list[int]]:
    """The orders the shipment holds lines of now, with those lines (its own order when it
    holds none): each gets the shipment's events."""
    lines = await store.lines_in(conn, [held.id], today)
    found: dict[uuid.UUID, list[int]] = {}
    for line in lines:
        found.setdefault(line["order_id"], []).append(int(line["id"]))
    return found or {held.row["order_id"]: []}


def events_for(
    held: Held,
    orders: Mapping[uuid.UUID, list[int]],
    kind: EventKind,
    actor: Actor,
    payload: Mapping[str, Any],
    before: Mapping[str, Any] | None = None,
) -> list[Event]:
    return [
        shipment_event(
            kind,
            held.id,
            order_id,
            actor.name,
            {"number": held.row["number"], **payload, "lineIds": line_ids},
            before,
        )
        for order_id, line_ids in sorted(orders.items(), key=lambda kv: min(kv[1] or [0]))
    ]


# ---------------------------------------------------------------- the warehouse's moves


async def advance(services: Services, actor: Actor, shipment_id: int) -> Result[int]:
    """PICKING → PACKED → AWAITING_SHIPMENT."""

    async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
        if problem := advance_problem(held.status):
            return invalid(problem)
        to = next_step(held.status)
        assert to is not None
        await store.set_status(conn, held.id, to.value, at=services.now())
        orders = await current_orders(conn, held, services.today())
        await ledger.append(
            conn,
            events_for(
                held,
                orders,
                EventKind.SHIPMENT_ADVANCED,
                actor,
                {"status": to.value},
                {"status": held.status.value},
            ),
        )
        return Result(held.id)

    return await locked(services, actor, shipment_id, move)


MAX_NOTE = MAX_TEXT


async def hold(
    services: Services, actor: Actor, shipment_id: int, reason: str, note: str | None
) -> Result[int]:
    """Put a shipment on hold, with a reason (and a note), from any step before dispatch."""
    try:
        why = HoldReason(reason)
    except ValueError:
        return Result.fail(E.INVALID, "Not a hold reason.", "input", "reason")
    if not clean_text(note, MAX_NOTE):
        return Result.fail(
            E.INVALID, f"At most {MAX_NOTE} characters, no NUL bytes.", "input", "note"
        )

    async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
        return await put_on_hold(conn, services, actor, held, why, note)

    return await locked(services, actor, shipment_id, move)


async def put_on_hold(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    held: Held,
    reason: HoldReason,
    note: str | None,
) -> Result[int]:
    if problem := transition_problem(held.status, ShipmentStatus.ON_HOLD, held.held_from):
        return invalid(problem)
    await store.set_status(
        conn,
        held.id,
        ShipmentStatus.ON_HOLD.value,
        held_from=held.status.value,
        hold_reason=reason.value,
        hold_note=note,
    )
    orders = await current_orders(conn, held, services.today())
    await ledger.append(
        conn,
        events_for(
            held,
            orders,
            EventKind.SHIPMENT_HELD,
            actor,
            # the note stays on the shipment (ops'): order events reach token holders too
            {"status": ShipmentStatus.ON_HOLD.value, "reason": reason.value},
            {"status": held.status.value},
        ),
    )
    return Result(held.id)


async def release(services: Services, actor: Actor, shipment_id: int) -> Result[int]:
    """Back to the step the shipment was held at."""

    async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
        if problem := release_problem(held.status, held.held_from):
            return invalid(problem)
        back = held.held_from
        assert back is not None
        await store.set_status(conn, held.id, back.value)
        orders = await current_orders(conn, held, services.today())
        await ledger.append(
            conn,
            events_for(
                held,
                orders,
                EventKind.SHIPMENT_RELEASED,
                actor,
                {"status": back.value},
                {"status": ShipmentStatus.ON_HOLD.value, "reason": held.row["hold_reason"]},
            ),
        )
        return Result(held.id)

    return await locked(services, actor, shipment_id, move)


async def cancel(
    services: Services, actor: Actor, shipment_id: int, reason: str | None
) -> Result[int]:
    """Cancel a shipment before dispatch: its lines wait for the next opening (the
    ``OPEN_SHIPMENTS`` job, or the next allocation of their SKU)."""
    if not clean_text(reason, MAX_NOTE):
        return Result.fail(
            E.INVALID, f"At most {MAX_NOTE} characters, no NUL bytes.", "input", "reason"
        )

    async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
        if problem := transition_problem(held.status, ShipmentStatus.CANCELLED, held.held_from):
            return invalid(problem)
        orders = await current_orders(conn, held, services.today())
        await store.release_lines(conn, held.id)
        await store.set_status(conn, held.id, ShipmentStatus.CANCELLED.value, at=services.now())
        await ledger.append(
            conn,
            events_for(
                held,
                orders,
                EventKind.SHIPMENT_CANCELLED,
                actor,
                {"status": ShipmentStatus.CANCELLED.value, "reason": reason},
                {"status": held.status.value},
            ),
        )
        return Result(held.id)

    return await locked(services, actor, shipment_id, move)


async def mark_delivered(
    services: Services, actor: Actor, shipment_id: int, delivered_on: date
) -> Result[int]:
    """DISPATCHED → DELIVERED: the delivery date of every line of it (what promise accuracy
    counts)."""
    today = services.today()
    if problem := date_problem(delivered_on, today, future=False, what="A delivery date"):
        return Result.fail(E.INVALID_DATE, problem, "input", "deliveredOn")

    async def move(conn: asyncpg.Connection, held: Held) -> Result[int]:
        if problem := transition_problem(held.status, ShipmentStatus.DELIVERED, held.held_from):
            return invalid(problem)
        dispatched: datetime | None = held.row["dispatched_at"]
        if (
            dispatched is not None
            and delivered_on < dispatched.astimezone(services.store_tz).date()
        ):
            return Result.fail(
                E.INVALID_DATE, "Delivered before it was dispatched.", "input", "deliveredOn"
            )
        lines = await store.lines_in(conn, [held.id], today)
        await deliver_lines(conn, actor, lines, delivered_on)
        await _delivered(conn, actor, [held], delivered_on, today)
        return Result(held.id)

    return await locked(services, actor, shipment_id, move)


async def deliver_lines(
    conn: asyncpg.Connection, actor: Actor, lines: Sequence[Any], delivered_on: date
) -> list[int]:
    """Record the delivery date of the shipped, undelivered lines among ``lines`` (with a
    ``line.delivered`` event each); their ids."""
    targets = [
        line for line in lines if line["status"] == "SHIPPED" and line["delivered_on"] is None
    ]
    if not targets:
        return []
    await order_store.mark_delivered(conn, [line["id"] for line in targets], delivered_on)
    await ledger.append(
        conn,
        [
            line_event(
                EventKind.LINE_DELIVERED,
                line["order_id"],
                line["id"],
                actor.name,
                {"deliveredOn": delivered_on.isoformat()},
            )
            for line in targets
        ],
    )
    return [int(line["id"]) for line in targets]


async def _delivered(
    conn: asyncpg.Connection,
    actor: Actor,
    shipments: Sequence[Held],
    delivered_on: date,
    today: date,
) -> None:
    await store.set_delivered(conn, [s.id for s in shipments], delivered_on)
    events: list[Event] = []
    for held in shipments:
        orders = await current_orders(conn, held, today)
        events += events_for(
            held,
            orders,
            EventKind.SHIPMENT_DELIVERED,
            actor,
            {"status": ShipmentStatus.DELIVERED.value, "deliveredOn": delivered_on.isoformat()},
            {"status": held.status.value},
        )
    await ledger.append(conn, events)


async def deliver_shipments_of(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor,
    order: Any,
    lines: Sequence[Any],
    delivered_on: date,
) -> None:
    """``confirmDelivery`` by lines (the order's row is locked): their shipments are locked,
    the lines delivered, and a dispatched shipment all of whose lines are now delivered is
    DELIVERED."""
    today = services.today()
    rows = await store.lock_shipments(
        conn, sorted({line["shipment_id"] for line in lines if line["shipment_id"]})
    )
    await deliver_lines(conn, actor, lines, delivered_on)
    held = await store.lines_in(conn, [r["id"] for r in rows], today)
    done = []
    for row in rows:
        mine = [line for line in held if line["shipment_id"] == row["id"]]
        if row["status"] == ShipmentStatus.DISPATCHED and all(
            line["delivered_on"] is not None for line in mine
        ):
            done.append(Held(row, {order["id"]: order}))
    if done:
        await _delivered(conn, actor, done, delivered_on, today)


# ---------------------------------------------------------------- reads


def readable(actor: Actor | None, row: Any) -> bool:
    """Ops and the key of the shipment's channel (its orders' channel) see a shipment."""
    return row is not None and policy.may_manage_order(actor, row["channel_code"])


def shipment_urgency(services: Services, row: Any) -> Urgency | None:
    """How close a shipment still in the warehouse is to its dispatch deadline (None once
    dispatched or cancelled)."""
    if ShipmentStatus(row["status"]) not in OPEN:
        return None
    window = timedelta(hours=services.settings.shipment_risk_hours)
    return urgency(row["dispatch_deadline"], services.now(), window)


def shipment_filter(
    services: Services,
    status: str | None,
    kind: str | None,
    order_id: uuid.UUID | None,
    urgency_: Urgency | None,
) -> ShipmentFilter:
    if urgency_ is None:
        return ShipmentFilter(status, kind, order_id)
    window = timedelta(hours=services.settings.shipment_risk_hours)
    found = deadline_range(urgency_, services.now(), window)
    return ShipmentFilter(status, kind, order_id, found.after, found.until, by_deadline=True)


async def list_shipments(
    services: Services,
    flt: ShipmentFilter,
    limit: int,
    before_id: int | None,
    channel_only: str | None,
) -> list[Any]:
    async with services.read() as conn:
        return await store.list_shipments(conn, flt, limit, before_id, channel_only)


async def count_shipments(services: Services, flt: ShipmentFilter, channel_only: str | None) -> int:
    async with services.read() as conn:
        return await store.count_shipments(conn, flt, channel_only)


async def load_shipments(services: Services, ids: list[int]) -> dict[int, Any]:
    async with services.read() as conn:
        rows = await store.shipments_by_id(conn, ids)
    return {int(r["id"]): r for r in rows}


async def load_line_refs(services: Services, ids: list[int]) -> dict[int, list[Any]]:
    async with services.read() as conn:
        rows = await store.line_refs(conn, ids)
    grouped: dict[int, list[Any]] = {i: [] for i in ids}
    for row in rows:
        grouped[int(row["shipment_id"])].append(row)
    return grouped


async def load_shipments_of_orders(
    services: Services, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    async with services.read() as conn:
        rows = await store.shipments_by_order(conn, order_ids)
    grouped: dict[uuid.UUID, list[Any]] = {i: [] for i in order_ids}
    for row in rows:
        grouped[row["for_order"]].append(row)
    return grouped


async def load_events(services: Services, ids: list[int]) -> dict[int, list[Any]]:
    async with services.read() as conn:
        rows = await store.shipment_events(conn, ids)
    grouped: dict[int, list[Any]] = {i: [] for i in ids}
    for row in rows:
        grouped[int(row["shipment_id"])].append(row)
    return grouped
