"""Order types: orders, lines with queue positions, shipment groups, payments, and the events
of the ledger (an order's history, a supply record's history)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.domain.estimates import Confidence
from app.domain.events import Subject
from app.domain.lines import LineState as DomainLineState
from app.domain.lines import awaits_supply, ships_when
from app.domain.payments import PaymentTotals
from app.services import policy
from app.services.availability import in_stock_line_estimate
from app.services.orders.reads import line_payment_totals, order_payment_totals, token_matches
from app.services.promises import live_estimate
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.enums import (
    DelayConsent,
    EstimateConfidence,
    EventKind,
    EventSubject,
    LineState,
    LineStatus,
    OrderStatus,
    PaymentEntryKind,
    PaymentTermsKind,
    PoolKind,
    PromiseCause,
    ShipsWhen,
)
from graphql_schema.inventory.types import DeliveryEstimate
from graphql_schema.money import Money, money
from graphql_schema.node import Node, register
from graphql_schema.relay import global_id

if TYPE_CHECKING:
    from graphql_schema.fulfilment.types import Shipment

ShipmentRef = Annotated["Shipment", strawberry.lazy("graphql_schema.fulfilment.types")]


@strawberry.type
class Customer:
    email: str
    name: str


@strawberry.type(description="What was paid and what is still due, from the payment ledger.")
class PaymentSummary:
    captured: Money
    authorized: Money = strawberry.field(description="Authorized and not voided.")
    refunded: Money
    voided: Money
    due_at_dispatch: Money = strawberry.field(description="Balance still to be taken.")


def _summary(t: PaymentTotals, currency: str) -> PaymentSummary:
    return PaymentSummary(
        captured=money(t.captured, currency),
        authorized=money(t.authorized, currency),
        refunded=money(t.refunded, currency),
        voided=money(t.voided, currency),
        due_at_dispatch=money(t.due, currency),
    )


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


async def line_of(info: Info[Context, Any], order_id: Any, line_id: int) -> OrderLine | None:
    """One line of an order the caller already reads (batched per order)."""
    loaders = info.context.loaders
    order = await loaders.order_by_id.load(order_id)
    if order is None:
        return None
    for row in await loaders.lines_by_order.load(order_id):
        if row["id"] == line_id:
            return OrderLine.from_row(row, order["currency"])
    return None


@strawberry.type(description="A step in the payment ledger.")
class PaymentEntry:
    kind: PaymentEntryKind
    amount: Money
    gateway: str
    reference: str
    expires_at: datetime | None
    note: str | None
    created_at: datetime
    _order_id: strawberry.Private[Any]
    _line_id: strawberry.Private[int | None]

    @strawberry.field(description="The line it pays for.")
    async def line(self, info: Info[Context, Any]) -> OrderLine | None:
        if self._line_id is None:
            return None
        return await line_of(info, self._order_id, self._line_id)


@strawberry.type(
    description="One change, as the event ledger records it: an order's history, a supply "
    "record's history, the stream live subscriptions follow."
)
class Event(Node):
    kind: EventKind
    subject: EventSubject
    subject_key: str = strawberry.field(
        description="What the subject is: an order or line's global ID, a SKU code, a supply "
        "record's number, a customer's e-mail."
    )
    before: JSON | None = strawberry.field(description="What the change replaced, if kept.")
    payload: JSON | None = strawberry.field(description="What the change made.")
    at: datetime
    _actor: strawberry.Private[str]
    _order_id: strawberry.Private[Any]
    _line_id: strawberry.Private[int | None]

    @strawberry.field(
        description="Who made the change: `system`, `customer`, or an API key as "
        "`key:<prefix>:<name>`. Keys are shown to ops and to the order's channel; anyone else "
        "sees its own key, and `store` for the others."
    )
    async def actor(self, info: Info[Context, Any]) -> str:
        viewer = await current_actor(info)
        channel = None
        if self._order_id is not None and not policy.is_ops(viewer):  # ops: no look-up
            row = await info.context.loaders.order_by_id.load(self._order_id)
            channel = row["channel_code"] if row else ""
        return policy.actor_shown_to(viewer, self._actor, channel)

    @strawberry.field(description="The order it belongs to (order and line events).")
    async def order(self, info: Info[Context, Any]) -> Order | None:
        if self._order_id is None:
            return None
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row) if row else None

    @strawberry.field(description="The line it is about (line events).")
    async def line(self, info: Info[Context, Any]) -> OrderLine | None:
        if self._line_id is None:
            return None
        return await line_of(info, self._order_id, self._line_id)

    @classmethod
    def from_row(cls, row: Any) -> Event:
        subject = Subject(row["subject"])
        key = row["subject_id"]
        if subject is Subject.ORDER:
            key = global_id("Order", key)
        elif subject is Subject.LINE:
            key = global_id("OrderLine", key)
        elif subject is Subject.SHIPMENT:
            key = global_id("Shipment", key)
        elif subject is Subject.NOTIFICATION:
            key = global_id("Notification", key)
        return cls(
            id=global_id("Event", str(row["id"])),
            kind=row["kind"],
            subject=subject,
            subject_key=key,
            before=_json(row["before"]),
            payload=_json(row["payload"]),
            at=row["created_at"],
            _actor=row["actor"],
            _order_id=row["order_id"],
            _line_id=row["line_id"],
        )


@strawberry.type(description="One promise made to a line: the first, and every change.")
class PromiseChange:
    earliest: date | None
    latest: date | None
    confidence: EstimateConfidence
    cause: PromiseCause
    delayed_days: int = strawberry.field(description="Days later than the promise before.")
    reason: str | None
    at: datetime


@strawberry.type(description="A line of an order: one commitment, in one state.")
class OrderLine(Node):
    line_number: int
    sub_number: int = strawberry.field(description="A line split over states has sub-lines.")
    sku: str
    quantity: int
    state: LineState
    status: LineStatus
    queue_position: int | None = strawberry.field(
        description="1 = next to be served for this SKU; null when not waiting."
    )
    units_ahead: int | None
    reserved_pool: PoolKind
    reserved_channel: str | None
    payment_terms: PaymentTermsKind
    shipment_group: int
    unit_price: Money
    queued_at: datetime | None
    allocated_quantity: int = strawberry.field(
        description="Units ring-fenced for this line so far (partial allocation is visible)."
    )
    paused: bool = strawberry.field(
        description="Skipped by allocation but keeps its place in the queue."
    )
    delay_consent: DelayConsent | None
    consent_due_at: datetime | None
    shipped_at: datetime | None
    delivered_on: date | None
    _db_id: strawberry.Private[int]
    _order_id: strawberry.Private[Any]
    _currency: strawberry.Private[str]
    _row: strawberry.Private[Any]

    @strawberry.field(description="The order the line belongs to.")
    async def order(self, info: Info[Context, Any]) -> Order:
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row)

    @strawberry.field
    async def payment_summary(self, info: Info[Context, Any]) -> PaymentSummary:
        entries = await info.context.loaders.payments_by_order.load(self._order_id)
        return _summary(line_payment_totals(self._row, entries), self._currency)

    @strawberry.field(
        description="When this line should arrive: for a pre-order or backorder its current "
        "promise; for a READY line the window the PDP showed when it was ordered (handling "
        "and transit for the order's region and carrier service), kept once shipped. Null "
        "for cancelled lines and shipped pre-orders and backorders."
    )
    async def delivery_estimate(self, info: Info[Context, Any]) -> DeliveryEstimate | None:
        row = self._row
        if row["state"] == DomainLineState.READY:
            return await self._in_stock_estimate(info)
        if not awaits_supply(row["state"], row["status"]):
            return None
        if row["promised_at"] is not None:
            history = await info.context.loaders.promises_by_line.load(self._db_id)
            reason = history[-1]["reason"] if history else None
            return DeliveryEstimate(
                earliest=row["promised_earliest"],
                latest=row["promised_latest"],
                reason=reason,
                confidence=Confidence(row["promise_confidence"]),
            )
        record = await info.context.loaders.record_by_sku.load(row["sku"])
        if record is None:
            return None
        reference = await info.context.loaders.reference()
        order = await info.context.loaders.order_by_id.load(self._order_id)
        address = _json(order["address"]) if order is not None else {}
        service = address.get("carrierService") if isinstance(address, dict) else None
        est = live_estimate(
            record,
            int(row["units_ahead"] or 0),
            int(row["quantity"] - row["allocated"]) if row["status"] == "WAITING" else 0,
            reference.transit_or_default(row["region"], service),
            info.context.services,
        )
        return DeliveryEstimate(
            earliest=est.earliest,
            latest=est.latest,
            reason=est.reason,
            confidence=est.confidence,
        )

    async def _in_stock_estimate(self, info: Info[Context, Any]) -> DeliveryEstimate | None:
        order = await info.context.loaders.order_by_id.load(self._order_id)
        if order is None:
            return None
        address = _json(order["address"])
        est = in_stock_line_estimate(
            info.context.services,
            await info.context.loaders.reference(),
            self._row["state"],
            self._row["status"],
            order["placed_at"],
            order["region"],
            address.get("carrierService") if isinstance(address, dict) else None,
        )
        return DeliveryEstimate.from_view(est) if est else None

    @strawberry.field(
        description="The shipment the line is in (open or dispatched); null while it waits for one."
    )
    async def shipment(self, info: Info[Context, Any]) -> ShipmentRef | None:
        from graphql_schema.fulfilment.types import readable_shipment

        shipment_id = self._row["shipment_id"]
        return await readable_shipment(info, int(shipment_id)) if shipment_id else None

    @strawberry.field(description="The first promise and every change since, with its cause.")
    async def promise_history(self, info: Info[Context, Any]) -> list[PromiseChange]:
        rows = await info.context.loaders.promises_by_line.load(self._db_id)
        return [
            PromiseChange(
                earliest=r["earliest"],
                latest=r["latest"],
                confidence=Confidence(r["confidence"]),
                cause=r["cause"],
                delayed_days=r["delayed_days"],
                reason=r["reason"],
                at=r["created_at"],
            )
            for r in rows
        ]

    @classmethod
    def from_row(cls, row: Any, currency: str) -> OrderLine:
        return cls(
            id=global_id("OrderLine", str(row["id"])),
            line_number=row["line_no"],
            sub_number=row["sub_no"],
            sku=row["sku"],
            quantity=row["quantity"],
            state=row["state"],
            status=row["status"],
            queue_position=row["queue_position"],
            units_ahead=row["units_ahead"],
            reserved_pool=row["pool_kind"],
            reserved_channel=row["pool_channel"],
            payment_terms=row["payment_terms"],
            shipment_group=row["shipment_group"],
            unit_price=money(row["unit_price_minor"], currency),
            queued_at=row["queued_at"],
            allocated_quantity=row["allocated"],
            paused=row["paused_at"] is not None,
            delay_consent=row["delay_consent"],
            consent_due_at=row["consent_due_at"],
            shipped_at=row["shipped_at"],
            delivered_on=row["delivered_on"],
            _db_id=row["id"],
            _order_id=row["order_id"],
            _currency=currency,
            _row=row,
        )


@strawberry.type(description="Lines that ship together.")
class ShipmentGroup:
    number: int
    states: list[LineState]
    ships_when: ShipsWhen
    lines: list[OrderLine]


@strawberry.type(description="An order from any channel.")
class Order(Node):
    number: str
    channel: str
    status: OrderStatus
    tags: list[str]
    customer: Customer
    region: str | None
    postal_code: str | None
    ship_together: bool
    placed_at: datetime
    total: Money
    _db_id: strawberry.Private[Any]
    _currency: strawberry.Private[str]

    async def _lines(self, info: Info[Context, Any]) -> list[OrderLine]:
        rows = await info.context.loaders.lines_by_order.load(self._db_id)
        return [OrderLine.from_row(r, self._currency) for r in rows]

    @strawberry.field
    async def lines(self, info: Info[Context, Any]) -> list[OrderLine]:
        return await self._lines(info)

    @strawberry.field(description="Ready goods ship now; the rest later, unless shipTogether.")
    async def shipment_groups(self, info: Info[Context, Any]) -> list[ShipmentGroup]:
        lines = [line for line in await self._lines(info) if line.status != "CANCELLED"]
        groups: dict[int, list[OrderLine]] = {}
        for line in lines:
            groups.setdefault(line.shipment_group, []).append(line)
        order = list(DomainLineState)
        result = []
        for number in sorted(groups):
            members = groups[number]
            states = sorted({DomainLineState(m.state) for m in members}, key=order.index)
            result.append(
                ShipmentGroup(
                    number=number, states=states, ships_when=ships_when(states), lines=members
                )
            )
        return result

    @strawberry.field
    async def payments(self, info: Info[Context, Any]) -> list[PaymentEntry]:
        rows = await info.context.loaders.payments_by_order.load(self._db_id)
        return [
            PaymentEntry(
                kind=r["kind"],
                amount=money(int(r["amount_minor"]), r["currency"]),
                gateway=r["gateway"],
                reference=r["reference"],
                expires_at=r["expires_at"],
                note=r["note"],
                created_at=r["created_at"],
                _order_id=r["order_id"],
                _line_id=r["line_id"],
            )
            for r in rows
        ]

    @strawberry.field
    async def payment_summary(self, info: Info[Context, Any]) -> PaymentSummary:
        rows = await info.context.loaders.payments_by_order.load(self._db_id)
        lines = await info.context.loaders.lines_by_order.load(self._db_id)
        return _summary(order_payment_totals(lines, rows), self._currency)

    @strawberry.field(
        description="The shipments that held its lines, oldest first (cancelled ones "
        "included); shown to ops and the order's channel."
    )
    async def shipments(self, info: Info[Context, Any]) -> list[ShipmentRef]:
        from graphql_schema.fulfilment.types import Shipment

        if not policy.may_manage_order(await current_actor(info), self.channel):
            return []  # a customer with the order token sees its lines, not the warehouse
        rows = await info.context.loaders.shipments_by_order.load(self._db_id)
        return [Shipment.from_row(r) for r in rows]

    @strawberry.field(description="The order's history: every change, oldest first.")
    async def events(self, info: Info[Context, Any]) -> list[Event]:
        rows = await info.context.loaders.events_by_order.load(self._db_id)
        return [Event.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: Any) -> Order:
        return cls(
            id=global_id("Order", str(row["id"])),
            number=row["number"],
            channel=row["channel_code"],
            status=row["status"],
            tags=list(row["tags"]),
            customer=Customer(email=row["customer_email"], name=row["customer_name"]),
            region=row["region"],
            postal_code=row["postal_code"],
            ship_together=row["ship_together"],
            placed_at=row["placed_at"],
            total=money(int(row["total_minor"]), row["currency"]),
            _db_id=row["id"],
            _currency=row["currency"],
        )


# ---------------------------------------------------------------- who may read an order


async def readable_order_row(
    info: Info[Context, Any], order_id: uuid.UUID | None, token: str | None
) -> Any:
    """The order's row when the caller may read it (``policy.may_read_order``), else None:
    the same answer as for an order that does not exist."""
    if order_id is None:
        return None
    row = await info.context.loaders.order_by_id.load(order_id)
    if row is None:
        return None
    actor = await current_actor(info)
    if not policy.may_read_order(actor, row["channel_code"], token_matches(row, token)):
        return None
    return row


def order_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def line_number(value: str) -> int | None:
    """A line's database id from the key inside its global ID (a positive bigint)."""
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


async def _order_node(info: Info[Context, Any], key: str) -> Order | None:
    row = await readable_order_row(info, order_uuid(key), None)
    return Order.from_row(row) if row else None


async def _line_node(info: Info[Context, Any], key: str) -> OrderLine | None:
    line_id = line_number(key)
    if line_id is None:
        return None
    order_id = await info.context.loaders.order_id_by_line.load(line_id)
    if await readable_order_row(info, order_id, None) is None:
        return None
    return await line_of(info, order_id, line_id)


async def _event_node(info: Info[Context, Any], key: str) -> Event | None:
    event_id = line_number(key)  # the same rule: a positive bigint
    if event_id is None:
        return None
    row = await info.context.loaders.event_by_id.load(event_id)
    if row is None:
        return None
    if row["order_id"] is not None:
        if await readable_order_row(info, row["order_id"], None) is None:
            return None
    elif not policy.may_read_internals(await current_actor(info)):
        return None
    return Event.from_row(row)


register("Order", _order_node)
register("OrderLine", _line_node)
register("Event", _event_node)
