"""Opening shipments for lines that can ship and are in none (``app.domain.shipments``).

Where it runs (never in placement, the hot path):

- at the end of every transaction that allocates units (``app.services.allocation.settle``:
  a receipt, the launch-day release, a resume, a cancellation handing units on, a stock
  change), for the orders whose lines it made shippable: it holds the SKUs' pool rows and
  locks the lines it ships, in id order;
- at a resume (``app.services.queue``) for the resumed order;
- in ``dispatchOrderLines`` for the lines it ships;
- in the ``OPEN_SHIPMENTS`` scheduled job for everything else (READY lines, lines whose
  shipment was cancelled, ship-together orders that became complete without an allocation),
  which also cancels shipments left without lines.

Set-based: one statement reads the candidate orders, one every open line of them, one locks
the lines to ship and one writes every shipment with its lines and events. A consolidating
channel merges one customer's waiting lines that can ship together into one shipment; the
customer's estimate of each line then follows the latest line of it, re-promised as a delay
(cause CONSOLIDATION, the usual consent rules) when that moves it later.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import asyncpg

from app.domain.consolidation import Destination
from app.domain.estimates import PromiseCause
from app.domain.shipments import (
    OpenLine,
    PlannedShipment,
    Window,
    dispatch_deadline,
    follow_latest,
    plan_shipments,
)
from app.services import promises
from app.services.container import Services
from app.services.results import Actor
from app.storage import ledger
from app.storage import shipments as store
from app.storage.shipments import NewShipment

BATCH = 500
CARRIER_SERVICE = "carrierService"
CONSOLIDATION_NOTE = "Your items travel together in one parcel, which leaves with the last of them."


@dataclass(frozen=True)
class Opened:
    shipments: list[tuple[int, str]] = field(default_factory=list)  # (id, number)
    last_order: uuid.UUID | None = None  # the last candidate order looked at (paging)
    candidates: int = 0
    repromised: int = 0


def address_of(row: Any) -> dict[str, Any]:
    """Where a shipment goes: the order's address with its region and postal code (its
    carrier service is a column of its own)."""
    found = ledger.json_of(row["address"])
    address = {k: v for k, v in found.items() if k != CARRIER_SERVICE and v not in (None, "")}
    if row["region"]:
        address["region"] = row["region"]
    if row["postal_code"]:
        address["postalCode"] = row["postal_code"]
    return address


def carrier_service_of(row: Any) -> str | None:
    value = ledger.json_of(row["address"]).get(CARRIER_SERVICE)
    return str(value) if value else None


def default_cutoff(services: Services) -> time:
    """``OMS_DEFAULT_CUTOFF_TIME`` (HH:MM, validated by the settings)."""
    return time.fromisoformat(services.settings.default_cutoff_time)


def _open_line(row: Any) -> OpenLine:
    return OpenLine(
        line_id=int(row["id"]),
        order_id=row["order_id"],
        state=row["state"],
        status=row["status"],
        released=bool(row["released"]),
        paused=bool(row["paused"]),
        in_shipment=row["shipment_id"] is not None,
        placed_at=row["placed_at"],
        ship_together=bool(row["ship_together"]),
        consolidates=bool(row["auto_consolidate"]),
        destination=Destination.of(
            row["customer_email"], row["channel_code"], address_of(row), carrier_service_of(row)
        ),
    )


async def open_shipments(
    conn: asyncpg.Connection,
    services: Services,
    actor: Actor | str,
    *,
    product_ids: Sequence[uuid.UUID] | None = None,
    order_ids: Sequence[uuid.UUID] | None = None,
    line_ids: Sequence[int] | None = None,
    status: str | None = None,
    after: uuid.UUID | None = None,
    whole_orders: bool = True,
    consolidate: bool = True,
    limit: int = BATCH,
) -> Opened:
    """Open shipments, in the caller's transaction, for the lines that can ship and are in
    none, of up to ``limit`` candidate orders: those with such a line of ``product_ids``, of
    ``order_ids``, among ``line_ids`` or in ``status`` when given (``after``: ascending order
    ids, for paging). ``line_ids`` opens only those lines (a dispatch by lines: no
    consolidation, ship-together waived)."""
    name = actor if isinstance(actor, str) else actor.name
    today = services.today()
    seeds = await store.orders_to_open(
        conn,
        today,
        product_ids=product_ids,
        order_ids=order_ids,
        line_ids=line_ids,
        status=status,
        after=after,
        limit=limit,
    )
    if not seeds:
        return Opened()
    rows = await store.open_candidates(conn, today, seeds, consolidate)
    if line_ids is not None:
        wanted = set(line_ids)
        rows = [r for r in rows if r["id"] in wanted]
    lines = [_open_line(r) for r in rows]
    now = services.now()
    planned = plan_shipments(lines, now, whole_orders=whole_orders, consolidate=consolidate)
    ids = [i for p in planned for i in p.line_ids]
    locked = await store.lock_unshipped(conn, ids)
    if len(locked) < len(ids):
        # another transaction shipped, cancelled, paused or opened some meanwhile: plan again
        # without them (a ship-together order that lost one waits for the next opening)
        gone = set(ids) - locked
        lost_orders = {x.order_id for x in lines if x.line_id in gone}
        lines = [
            x
            for x in lines
            if x.line_id not in gone and not (x.ship_together and x.order_id in lost_orders)
        ]
        planned = plan_shipments(lines, now, whole_orders=whole_orders, consolidate=consolidate)
    if not planned:
        return Opened(last_order=seeds[-1], candidates=len(seeds))
    by_id = {int(r["id"]): r for r in rows}
    created = await store.insert_shipments(
        conn, [_new(services, p, by_id) for p in planned], now, name
    )
    repromised = await follow_latest_window(conn, services, planned, by_id, name)
    return Opened(created, seeds[-1], len(seeds), repromised)


def _new(services: Services, planned: PlannedShipment, rows: dict[int, Any]) -> NewShipment:
    first = rows[planned.line_ids[0]]
    cutoff = first["cutoff_time"] if first["cutoff_time"] is not None else default_cutoff(services)
    return NewShipment(
        order_id=planned.order_ids[0],
        channel_code=first["channel_code"],
        customer_email=first["customer_email"],
        kind=planned.kind.value,
        address=address_of(first),
        region=first["region"],
        carrier_service=carrier_service_of(first),
        ready_at=planned.ready_at,
        dispatch_deadline=dispatch_deadline(
            planned.ready_at, int(first["sla_hours"]), cutoff, services.settings.store_timezone
        ),
        lines=tuple((i, rows[i]["order_id"]) for i in planned.line_ids),
    )


async def follow_latest_window(
    conn: asyncpg.Connection,
    services: Services,
    planned: Sequence[PlannedShipment],
    rows: dict[int, Any],
    actor: str,
) -> int:
    """The customer's estimate of every line of a shipment follows its latest line."""
    moves: list[promises.Move] = []
    for shipment in planned:
        windows = {
            i: Window(
                rows[i]["promised_earliest"],
                rows[i]["promised_latest"],
                rows[i]["promise_confidence"] or "NONE",
            )
            for i in shipment.line_ids
            if rows[i]["promised_at"] is not None
        }
        for line_id, target in follow_latest(windows).items():
            moves.append(
                promises.Move(rows[line_id], target.earliest, target.latest, target.confidence)
            )
    if not moves:
        return 0
    result = await promises.move(
        conn, services, moves, PromiseCause.CONSOLIDATION, actor, CONSOLIDATION_NOTE
    )
    return result.lines


async def open_after_allocation(
    conn: asyncpg.Connection,
    services: Services,
    product_ids: Sequence[uuid.UUID],
    actor: str,
) -> int:
    """The shipments of lines an allocation just made shippable (and of their orders and,
    consolidating, their customers' other waiting lines): called by ``settle`` while it holds
    the SKUs' pool rows. How many were opened."""
    opened = 0
    after: uuid.UUID | None = None
    while True:
        batch = await open_shipments(
            conn, services, actor, product_ids=product_ids, status="ALLOCATED", after=after
        )
        opened += len(batch.shipments)
        if batch.candidates < BATCH:
            return opened
        after = batch.last_order


async def open_all(services: Services, actor: Actor) -> dict[str, int]:
    """The ``OPEN_SHIPMENTS`` job: shipments for every line that can ship and is in none, a
    batch of orders per transaction; then shipments left without lines are cancelled."""
    opened = repromised = 0
    after: uuid.UUID | None = None
    while True:
        async with services.uow() as uow:
            batch = await open_shipments(uow.conn, services, actor, after=after)
            await uow.commit()
        opened += len(batch.shipments)
        repromised += batch.repromised
        if batch.candidates < BATCH:
            break
        after = batch.last_order
    closed = 0
    while True:
        async with services.uow() as uow:
            done = await store.close_empty(uow.conn, actor.name, services.now(), BATCH)
            await uow.commit()
        closed += done
        if done < BATCH:
            break
    found = {"opened": opened, "repromised": repromised, "closedEmpty": closed}
    return {k: v for k, v in found.items() if v}
