"""Supply types: purchase orders, production runs, goods receipts, available-to-promise."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graphql_schema.context import Context
from graphql_schema.errors import UserError
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


@strawberry.type(description="A change of a supply record, with who, when and why.")
class SupplyChange:
    action: str
    actor: str
    before: JSON | None
    after: JSON | None
    at: datetime


@strawberry.type(description="Inbound supply: a purchase order or a production run.")
class Supply:
    id: strawberry.ID
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

    @strawberry.field(description="Created, every ETA change (with reason), receipts, cancel.")
    async def history(self, info: Info[Context, Any]) -> list[SupplyChange]:
        rows = await info.context.loaders.supply_history.load(self._db_id)
        return [
            SupplyChange(
                action=r["kind"],
                actor=r["actor"],
                before=_json(r["before"]),
                after=_json(r["payload"]),
                at=r["created_at"],
            )
            for r in rows
        ]

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


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


@strawberry.type
class SupplyPayload:
    supply: Supply | None
    user_errors: list[UserError]


@strawberry.type(description="Units of a receipt ring-fenced for one waiting line.")
class ReceiptAllocation:
    order_number: str
    order_id: strawberry.ID
    line_id: strawberry.ID
    quantity: int
    line_allocated: int = strawberry.field(description="The line's ring-fenced units now.")
    line_quantity: int
    fully_allocated: bool


@strawberry.type(description="A goods receipt (GRN) and where its units went.")
class GoodsReceipt:
    id: strawberry.ID
    sku: str
    quantity: int
    allocated: int = strawberry.field(description="Ring-fenced for waiting lines, FIFO.")
    held_for_launch: int = strawberry.field(
        description="Received before the launch: held for the pre-orders, not sold as READY."
    )
    to_stock: int = strawberry.field(description="What was left: re-opened as READY stock.")
    supply_id: strawberry.ID | None
    allocations: list[ReceiptAllocation]


@strawberry.type
class ReceiveGoodsPayload:
    receipt: GoodsReceipt | None
    user_errors: list[UserError]


@strawberry.type(description="By this date, this many units (cumulative) can be promised.")
class PromiseDate:
    date: date
    quantity: int


@strawberry.type
class AvailableToPromise:
    sku: str
    channel: str | None
    entries: list[PromiseDate]
    user_errors: list[UserError]


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


@strawberry.type
class AllocationPolicyPayload:
    sku: str
    policy: AllocationPolicy | None
    user_errors: list[UserError]


@strawberry.enum
class ScheduledJob(Enum):
    RELEASE_PREORDERS = "RELEASE_PREORDERS"
    PROMISE_NEW_LINES = "PROMISE_NEW_LINES"
    EXPIRE_DELAY_CONSENTS = "EXPIRE_DELAY_CONSENTS"
    RENEW_AUTHORIZATIONS = "RENEW_AUTHORIZATIONS"


@strawberry.type
class ScheduledJobPayload:
    job: ScheduledJob
    ran: bool = strawberry.field(description="False when another replica was running it.")
    result: JSON | None


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


@strawberry.type
class CarrierServicePayload:
    carrier_service: CarrierService | None
    user_errors: list[UserError]
