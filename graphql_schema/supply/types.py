"""Supply types: purchase orders, production runs, goods receipts, available-to-promise."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.services.supply import Receipt
from graphql_schema.auth import require_internal
from graphql_schema.context import Context
from graphql_schema.node import Node, register
from graphql_schema.orders.types import Event, Order, OrderLine, line_number, line_of
from graphql_schema.products.types import Product, product_by_sku
from graphql_schema.relay import global_id


@strawberry.enum
class SupplyKind(Enum):
    PURCHASE_ORDER = "PURCHASE_ORDER"
    PRODUCTION_RUN = "PRODUCTION_RUN"


@strawberry.enum
class SupplyStatus(Enum):
    OPEN = "OPEN"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"


@strawberry.enum(description="Who is served first when units arrive.")
class AllocationPolicy(Enum):
    FIFO = "FIFO"
    PRIORITY_FIRST = "PRIORITY_FIRST"


@strawberry.type
class Supplier:
    code: str
    name: str | None
    receipts: int
    on_time_receipts: int
    on_time_rate: float | None = strawberry.field(
        description="Share of receipts on or before their first expected date; null = no history."
    )


@strawberry.type(description="Inbound supply: a purchase order or a production run.")
class Supply(Node):
    kind: SupplyKind
    sku: str
    location: str
    supplier: Supplier | None
    reference: str
    quantity: int
    received_quantity: int
    remaining_quantity: int
    expected_on: date = strawberry.field(
        description="Purchase order: expected arrival. Production run: scheduled start."
    )
    original_expected_on: date
    supplier_lead_time_days: int | None
    units_per_day: int | None
    run_days: int | None
    status: SupplyStatus
    slips: int = strawberry.field(description="How often the expected date moved later.")
    created_at: datetime
    _db_id: strawberry.Private[int]

    @strawberry.field(description="The product it brings.")
    async def product(self, info: Info[Context, Any]) -> Product | None:
        return await product_by_sku(info, self.sku)

    @strawberry.field(description="Created, every ETA change (with reason), receipts, cancel.")
    async def history(self, info: Info[Context, Any]) -> list[Event]:
        rows = await info.context.loaders.supply_history.load(self._db_id)
        return [Event.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: Any) -> Supply:
        supplier = None
        if row["supplier_code"] is not None:
            receipts = int(row["supplier_receipts"] or 0)
            on_time = int(row["supplier_on_time_receipts"] or 0)
            supplier = Supplier(
                code=row["supplier_code"],
                name=row["supplier_name"],
                receipts=receipts,
                on_time_receipts=on_time,
                on_time_rate=(on_time / receipts) if receipts else None,
            )
        return cls(
            id=global_id("Supply", str(row["id"])),
            kind=SupplyKind(row["kind"]),
            sku=row["sku"],
            location=row["location_code"],
            supplier=supplier,
            reference=row["reference"],
            quantity=row["quantity"],
            received_quantity=row["received_quantity"],
            remaining_quantity=max(0, row["quantity"] - row["received_quantity"]),
            expected_on=row["expected_on"],
            original_expected_on=row["original_expected_on"],
            supplier_lead_time_days=row["lead_time_days"],
            units_per_day=row["units_per_day"],
            run_days=row["run_days"],
            status=SupplyStatus(row["status"]),
            slips=row["slips"],
            created_at=row["created_at"],
            _db_id=row["id"],
        )


async def supply_by_id(info: Info[Context, Any], supply_id: int) -> Supply | None:
    row = await info.context.loaders.supply_by_id.load(supply_id)
    return Supply.from_row(row) if row else None


@strawberry.type(description="Units of a receipt ring-fenced for one waiting line.")
class ReceiptAllocation:
    order_number: str
    quantity: int
    line_allocated: int = strawberry.field(description="The line's ring-fenced units now.")
    line_quantity: int
    fully_allocated: bool
    _order_id: strawberry.Private[Any]
    _line_id: strawberry.Private[int]

    @strawberry.field
    async def order(self, info: Info[Context, Any]) -> Order:
        row = await info.context.loaders.order_by_id.load(self._order_id)
        return Order.from_row(row)

    @strawberry.field
    async def line(self, info: Info[Context, Any]) -> OrderLine | None:
        return await line_of(info, self._order_id, self._line_id)


@strawberry.type(description="A goods receipt (GRN) and where its units went.")
class GoodsReceipt(Node):
    sku: str
    quantity: int
    allocated: int = strawberry.field(description="Ring-fenced for waiting lines, FIFO.")
    held_for_launch: int = strawberry.field(
        description="Received before the launch: held for the pre-orders, not sold as READY."
    )
    to_stock: int = strawberry.field(description="What was left: re-opened as READY stock.")
    allocations: list[ReceiptAllocation]
    _supply_id: strawberry.Private[int | None]

    @strawberry.field(description="The purchase order or production run it was booked against.")
    async def supply(self, info: Info[Context, Any]) -> Supply | None:
        if self._supply_id is None:
            return None
        return await supply_by_id(info, self._supply_id)

    @classmethod
    def from_receipt(cls, receipt: Receipt) -> GoodsReceipt:
        return cls(
            id=global_id("GoodsReceipt", str(receipt.id)),
            sku=receipt.sku,
            quantity=receipt.quantity,
            allocated=receipt.allocated,
            held_for_launch=receipt.held_for_launch,
            to_stock=receipt.to_stock,
            allocations=[
                ReceiptAllocation(
                    order_number=a["number"],
                    quantity=a["quantity"],
                    line_allocated=a["allocated"],
                    line_quantity=a["line_quantity"],
                    fully_allocated=a["allocated"] == a["line_quantity"],
                    _order_id=a["order_id"],
                    _line_id=a["line_id"],
                )
                for a in receipt.allocations
            ],
            _supply_id=receipt.supply_id,
        )


async def _supply_node(info: Info[Context, Any], key: str) -> Supply | None:
    await require_internal(info)
    supply_id = line_number(key)
    return await supply_by_id(info, supply_id) if supply_id is not None else None


async def _receipt_node(info: Info[Context, Any], key: str) -> GoodsReceipt | None:
    await require_internal(info)
    receipt_id = line_number(key)
    if receipt_id is None:
        return None
    receipt = await info.context.loaders.receipt_by_id.load(receipt_id)
    return GoodsReceipt.from_receipt(receipt) if receipt else None


register("Supply", _supply_node)
register("GoodsReceipt", _receipt_node)


@strawberry.type(description="By this date, this many units (cumulative) can be promised.")
class PromiseDate:
    date: date
    quantity: int


@strawberry.type
class AvailableToPromise:
    sku: str
    channel: str | None
    entries: list[PromiseDate]


@strawberry.type(description="Delivered lines against their FIRST promise (target < 5 %).")
class PromiseAccuracy:
    sku: str | None
    delivered_lines: int
    on_time_lines: int = strawberry.field(description="Delivered inside the first window.")
    average_deviation_percent: float = strawberry.field(
        description="Days outside the first window, as % of the promised wait, averaged."
    )
    target_percent: float
    meets_target: bool


@strawberry.type(description="Transit days of a carrier service in a region.")
class CarrierService:
    region: str
    code: str
    name: str
    transit_min_days: int
    transit_max_days: int

    @classmethod
    def from_row(cls, row: Any) -> CarrierService:
        return cls(
            region=row["region_code"],
            code=row["code"],
            name=row["name"],
            transit_min_days=row["transit_min_days"],
            transit_max_days=row["transit_max_days"],
        )
