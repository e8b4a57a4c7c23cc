"""Order types: orders, lines with queue positions, shipment groups, payments, events."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.domain.lines import ShipsWhen, awaits_supply, ships_when
from app.domain.payments import PaymentTotals
from app.services.orders.reads import line_payment_totals, order_payment_totals
from app.services.promises import live_estimate
from graphql_schema.context import Context
from graphql_schema.errors import UserError
from graphql_schema.inventory.types import (
    DeliveryEstimate,
    EstimateConfidence,
    PaymentTermsKind,
    PoolKind,
)
from graphql_schema.relay import global_id
from graphql_schema.scalars import Long


@strawberry.enum(description="Which commitment a line is: ready stock, pre-order or backorder.")
class LineState(Enum):
    READY = "READY"
    PRE_ORDER = "PRE_ORDER"
    BACKORDER = "BACKORDER"


@strawberry.enum
class LineStatus(Enum):
    RESERVED = "RESERVED"
    WAITING = "WAITING"
    ALLOCATED = "ALLOCATED"
    CANCELLED = "CANCELLED"
    SHIPPED = "SHIPPED"


@strawberry.enum
class OrderStatus(Enum):
    PLACED = "PLACED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


@strawberry.enum
class PaymentEntryKind(Enum):
    AUTHORIZE = "AUTHORIZE"
    CAPTURE = "CAPTURE"
    REFUND = "REFUND"
    VOID = "VOID"
    REAUTHORIZE = "REAUTHORIZE"


@strawberry.type
class Money:
    amount_minor: Long
    currency: str


@strawberry.type
class Customer:
    email: str
    name: str


@strawberry.type
class PaymentSummary:
    captured: Money
    authorized: Money = strawberry.field(description="Authorized and not voided or captured.")
    refunded: Money
    voided: Money
    due_at_dispatch: Money = strawberry.field(description="Balance still to be taken.")


def _summary(t: PaymentTotals, currency: str) -> PaymentSummary:
    def money(amount: int) -> Money:
        return Money(amount_minor=Long(amount), currency=currency)

    return PaymentSummary(
        captured=money(t.captured),
        authorized=money(t.authorized),
        refunded=money(t.refunded),
        voided=money(t.voided),
        due_at_dispatch=money(t.due),
    )


@strawberry.type
class PaymentEntry:
    kind: PaymentEntryKind
    amount: Money
    gateway: str
    reference: str
    line_id: strawberry.ID | None
    expires_at: datetime | None
    note: str | None
    created_at: datetime


@strawberry.type(description="Who changed what, when: the order's audit trail.")
class OrderEvent:
    action: str
    actor: str
    line_id: strawberry.ID | None
    before: JSON | None
    after: JSON | None
    at: datetime


@strawberry.enum(description="A customer's answer to a delay beyond the store's threshold.")
class DelayConsent(Enum):
    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    CANCELLED = "CANCELLED"
    DEFAULT_ACCEPTED = "DEFAULT_ACCEPTED"
    DEFAULT_CANCELLED = "DEFAULT_CANCELLED"


@strawberry.type(description="One promise made to a line: the first, and every change.")
class PromiseChange:
    earliest: date | None
    latest: date | None
    confidence: EstimateConfidence
    cause: str = strawberry.field(
        description="PLACED, RECEIPT, SUPPLY_SLIPPED, SUPPLY_PULLED_IN, SUPPLY_ADDED, "
        "SUPPLY_CANCELLED, PAUSE, RESUME, CANCELLATION, RELEASE, STOCK_CHANGE, DISPATCH, ..."
    )
    delayed_days: int = strawberry.field(description="Days later than the promise before.")
    reason: str | None
    at: datetime


@strawberry.type
class OrderLine:
    id: strawberry.ID
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

    @strawberry.field
    async def payment_summary(self, info: Info[Context, Any]) -> PaymentSummary:
        entries = await info.context.loaders.payments_by_order.load(self._order_id)
        return _summary(line_payment_totals(self._row, entries), self._currency)

    @strawberry.field(
        description="The current promise: when this line should arrive (null for lines "
        "that are not waiting: READY lines ship now, see the order's shipment groups)."
    )
    async def delivery_estimate(self, info: Info[Context, Any]) -> DeliveryEstimate | None:
        row = self._row
        if not awaits_supply(row["state"], row["status"]):
            return None
        if row["promised_at"] is not None:
            history = await info.context.loaders.promises_by_line.load(self._db_id)
            reason = history[-1]["reason"] if history else None
            return DeliveryEstimate(
                earliest=row["promised_earliest"],
                latest=row["promised_latest"],
                reason=reason,
                confidence=EstimateConfidence(row["promise_confidence"]),
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
            confidence=EstimateConfidence(est.confidence.value),
        )

    @strawberry.field(description="The first promise and every change since, with its cause.")
    async def promise_history(self, info: Info[Context, Any]) -> list[PromiseChange]:
        rows = await info.context.loaders.promises_by_line.load(self._db_id)
        return [
            PromiseChange(
                earliest=r["earliest"],
                latest=r["latest"],
                confidence=EstimateConfidence(r["confidence"]),
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
            state=LineState(row["state"]),
            status=LineStatus(row["status"]),
            queue_position=row["queue_position"],
            units_ahead=row["units_ahead"],
            reserved_pool=PoolKind(row["pool_kind"]),
            reserved_channel=row["pool_channel"],
            payment_terms=PaymentTermsKind(row["payment_terms"]),
            shipment_group=row["shipment_group"],
            unit_price=Money(amount_minor=Long(row["unit_price_minor"]), currency=currency),
            queued_at=row["queued_at"],
            allocated_quantity=row["allocated"],
            paused=row["paused_at"] is not None,
            delay_consent=DelayConsent(row["delay_consent"]) if row["delay_consent"] else None,
            consent_due_at=row["consent_due_at"],
            shipped_at=row["shipped_at"],
            delivered_on=row["delivered_on"],
            _db_id=row["id"],
            _order_id=row["order_id"],
            _currency=currency,
            _row=row,
        )


SHIPS_WHEN = {
    ShipsWhen.NOW: "now",
    ShipsWhen.AT_RELEASE: "at release",
    ShipsWhen.WHEN_BACK_IN_STOCK: "when back in stock",
    ShipsWhen.TOGETHER_WHEN_COMPLETE: "together, when complete",
}


@strawberry.type
class ShipmentGroup:
    number: int
    states: list[LineState]
    ships_when: str = strawberry.field(
        description='"now", "at release", "when back in stock", or "together, when complete".'
    )
    lines: list[OrderLine]


@strawberry.type
class Order:
    id: strawberry.ID
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
        lines = [line for line in await self._lines(info) if line.status != LineStatus.CANCELLED]
        groups: dict[int, list[OrderLine]] = {}
        for line in lines:
            groups.setdefault(line.shipment_group, []).append(line)
        result = []
        for number in sorted(groups):
            members = groups[number]
            states = sorted({m.state for m in members}, key=lambda s: list(LineState).index(s))
            when = SHIPS_WHEN[ships_when(s.value for s in states)]
            result.append(
                ShipmentGroup(number=number, states=states, ships_when=when, lines=members)
            )
        return result

    @strawberry.field
    async def payments(self, info: Info[Context, Any]) -> list[PaymentEntry]:
        rows = await info.context.loaders.payments_by_order.load(self._db_id)
        return [
            PaymentEntry(
                kind=PaymentEntryKind(r["kind"]),
                amount=Money(amount_minor=Long(int(r["amount_minor"])), currency=r["currency"]),
                gateway=r["gateway"],
                reference=r["reference"],
                line_id=global_id("OrderLine", str(r["line_id"])) if r["line_id"] else None,
                expires_at=r["expires_at"],
                note=r["note"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    @strawberry.field
    async def payment_summary(self, info: Info[Context, Any]) -> PaymentSummary:
        rows = await info.context.loaders.payments_by_order.load(self._db_id)
        lines = await info.context.loaders.lines_by_order.load(self._db_id)
        return _summary(order_payment_totals(lines, rows), self._currency)

    @strawberry.field
    async def events(self, info: Info[Context, Any]) -> list[OrderEvent]:
        rows = await info.context.loaders.events_by_order.load(self._db_id)
        return [
            OrderEvent(
                action=r["kind"],
                actor=r["actor"],
                line_id=global_id("OrderLine", str(r["line_id"])) if r["line_id"] else None,
                before=_json(r["before"]),
                after=_json(r["payload"]),
                at=r["created_at"],
            )
            for r in rows
        ]

    @classmethod
    def from_row(cls, row: Any) -> Order:
        return cls(
            id=global_id("Order", str(row["id"])),
            number=row["number"],
            channel=row["channel_code"],
            status=OrderStatus(row["status"]),
            tags=list(row["tags"]),
            customer=Customer(email=row["customer_email"], name=row["customer_name"]),
            region=row["region"],
            postal_code=row["postal_code"],
            ship_together=row["ship_together"],
            placed_at=row["placed_at"],
            total=Money(amount_minor=Long(int(row["total_minor"])), currency=row["currency"]),
            _db_id=row["id"],
            _currency=row["currency"],
        )


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


@strawberry.type
class PlaceOrderPayload:
    order: Order | None
    order_token: str | None = strawberry.field(
        description="Shown once: lets the customer's storefront read this order."
    )
    replayed: bool = strawberry.field(
        description="True when this is the stored result of an earlier request with the key."
    )
    user_errors: list[UserError]


@strawberry.type
class OrderPayload:
    order: Order | None
    user_errors: list[UserError]
