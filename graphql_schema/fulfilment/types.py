"""The ``Shipment`` type: lines of one order (or, consolidated, one customer) leaving together,
with its step, work list, dispatch deadline and urgency, carrier and tracking, and history.
What it shows is what the domain and the use cases decided (``app.domain.shipments``)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipments
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.enums import FulfilmentKind, HoldReason, ShipmentStatus, ShipmentUrgency
from graphql_schema.node import Node, register
from graphql_schema.orders.types import Event, Order, OrderLine, line_number, line_of
from graphql_schema.relay import global_id, split_global_id


@strawberry.type(
    description="Lines of one order (or, consolidated, of one customer's orders) that leave "
    "the warehouse together: picked, packed, dispatched with a carrier and delivered."
)
class Shipment(Node):
    number: str = strawberry.field(description="e.g. SH-2026-000123.")
    status: ShipmentStatus
    kind: FulfilmentKind
    held_from: ShipmentStatus | None = strawberry.field(
        description="On hold: the step it goes back to when released."
    )
    hold_reason: HoldReason | None = strawberry.field(description="Why it is (or was) on hold.")
    hold_note: str | None
    channel: str
    region: str | None
    carrier_service: str | None = strawberry.field(
        description="The carrier service the customer chose (null: the region's standard)."
    )
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    ready_at: datetime = strawberry.field(
        description="When it could first be worked: the order's placement for READY lines, "
        "the moment the units were there for the others."
    )
    dispatch_deadline: datetime = strawberry.field(
        description="When it must leave: the channel's SLA from readyAt (from the next day "
        "after the channel's cut-off, store time)."
    )
    packed_at: datetime | None
    dispatched_at: datetime | None
    delivered_on: date | None
    cancelled_at: datetime | None
    _db_id: strawberry.Private[int]
    _order_id: strawberry.Private[Any]
    _row: strawberry.Private[Any]

    @strawberry.field(
        description="How close it is to its dispatch deadline while in the warehouse (null "
        "once dispatched or cancelled)."
    )
    def urgency(self, info: Info[Context, Any]) -> ShipmentUrgency | None:
        return shipments.shipment_urgency(info.context.services, self._row)

    @strawberry.field(description="Its order (a consolidated shipment's first).")
    async def order(self, info: Info[Context, Any]) -> Order:
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row)

    @strawberry.field(description="Every order it holds lines of (more than one: consolidated).")
    async def orders(self, info: Info[Context, Any]) -> list[Order]:
        refs = await info.context.loaders.lines_by_shipment.load(self._db_id)
        ids = list(dict.fromkeys([self._order_id, *(r["order_id"] for r in refs)]))
        rows = await info.context.loaders.order_by_id.load_many(ids)
        return [Order.from_row(r) for r in rows if r is not None]

    @strawberry.field(
        description="The lines it holds (a cancelled shipment: the lines it held; a line that "
        "was cancelled or paused meanwhile has left it)."
    )
    async def lines(self, info: Info[Context, Any]) -> list[OrderLine]:
        refs = await info.context.loaders.lines_by_shipment.load(self._db_id)
        found = await asyncio.gather(*(line_of(info, r["order_id"], r["line_id"]) for r in refs))
        return [line for line in found if line is not None]

    @strawberry.field(description="Its history: every move, oldest first (one per order).")
    async def events(self, info: Info[Context, Any]) -> list[Event]:
        rows = await info.context.loaders.events_by_shipment.load(self._db_id)
        return [Event.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: Any) -> Shipment:
        return cls(
            id=global_id("Shipment", str(row["id"])),
            number=row["number"],
            status=row["status"],
            kind=row["kind"],
            held_from=row["held_from"],
            hold_reason=row["hold_reason"],
            hold_note=row["hold_note"],
            channel=row["channel_code"],
            region=row["region"],
            carrier_service=row["carrier_service"],
            carrier=row["carrier"],
            tracking_number=row["tracking_number"],
            tracking_url=row["tracking_url"],
            ready_at=row["ready_at"],
            dispatch_deadline=row["dispatch_deadline"],
            packed_at=row["packed_at"],
            dispatched_at=row["dispatched_at"],
            delivered_on=row["delivered_on"],
            cancelled_at=row["cancelled_at"],
            _db_id=int(row["id"]),
            _order_id=row["order_id"],
            _row=row,
        )


def shipment_key(value: str) -> int | None:
    """The shipment a global ``Shipment`` ID names; None for anything else."""
    parts = split_global_id(value)
    return line_number(parts[1]) if parts and parts[0] == "Shipment" else None


async def readable_shipment(info: Info[Context, Any], shipment_id: int | None) -> Shipment | None:
    """The shipment when the caller may see it (ops, its channel's key), else None."""
    if shipment_id is None:
        return None
    row = await info.context.loaders.shipment_by_id.load(shipment_id)
    if row is None or not shipments.readable(await current_actor(info), row):
        return None
    return Shipment.from_row(row)


async def changed_shipment(info: Info[Context, Any], shipment_id: int | None) -> Shipment | None:
    """The shipment after a change: the request's loaders forget what they read."""
    info.context.loaders.orders_changed()
    return await readable_shipment(info, shipment_id)


async def _shipment_node(info: Info[Context, Any], key: str) -> Shipment | None:
    return await readable_shipment(info, line_number(key))


register("Shipment", _shipment_node)
