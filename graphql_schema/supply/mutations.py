"""Supply mutations (ops): purchase orders, production runs, ETA changes, cancellations,
goods receipts, the allocation policy, and running a scheduled job now."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import scheduler, shipping
from app.services import supply as supply_service
from app.services.error_codes import SupplyErrorCode
from app.services.results import Result, ServiceError
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.inventory.types import to_user_errors
from graphql_schema.relay import global_id, parse_global_id
from graphql_schema.supply.types import (
    AllocationPolicy,
    AllocationPolicyPayload,
    CarrierService,
    CarrierServicePayload,
    GoodsReceipt,
    ReceiptAllocation,
    ReceiveGoodsPayload,
    ScheduledJob,
    ScheduledJobPayload,
    Supply,
    SupplyPayload,
)


@strawberry.input
class SupplierInput:
    code: str
    name: str | None = None


@strawberry.input
class CreatePurchaseOrderInput:
    sku: str
    quantity: int
    location: str
    supplier: SupplierInput
    supplier_lead_time_days: int | None = strawberry.field(
        default=None, description="Stored on the supplier; the default expected date uses it."
    )
    expected_on: date | None = strawberry.field(
        default=None, description="Default: today + the supplier's lead time."
    )
    reference: str | None = None


@strawberry.input
class ScheduleProductionRunInput:
    sku: str
    start_on: date
    units_per_day: int
    run_days: int
    location: str
    reference: str | None = None


@strawberry.input
class UpdateSupplyEtaInput:
    id: strawberry.ID
    expected_on: date
    reason: str


@strawberry.input
class CancelSupplyInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class ReceiveGoodsInput:
    sku: str
    quantity: int
    location: str
    reference: str = strawberry.field(description="The goods receipt (GRN) number.")
    supply_id: strawberry.ID | None = None


@strawberry.input
class SetCarrierServiceInput:
    region: str
    code: str
    name: str
    transit_min_days: int
    transit_max_days: int


@strawberry.input
class SetAllocationPolicyInput:
    sku: str
    policy: AllocationPolicy


def _supply_id(value: str) -> int:
    try:
        number = int(parse_global_id("Supply", value))
    except (ValueError, PublicError):
        return -1
    return number if 0 < number < 2**63 else -1


def _supply_payload(result: Result[Any]) -> SupplyPayload:
    return SupplyPayload(
        supply=Supply.from_row(result.value) if result.value is not None else None,
        user_errors=to_user_errors(result.errors),
    )


def _bad_id(field: str) -> SupplyPayload:
    return SupplyPayload(
        supply=None,
        user_errors=to_user_errors(
            [ServiceError(("input", field), SupplyErrorCode.SUPPLY_NOT_FOUND, "No such supply.")]
        ),
    )


@strawberry.type
class SupplyMutations:
    @strawberry.mutation(description="Book a purchase order: open supply promises are made from.")
    async def create_purchase_order(
        self, info: Info[Context, Any], input: CreatePurchaseOrderInput
    ) -> SupplyPayload:
        actor = await require_ops(info)
        result = await supply_service.create_purchase_order(
            info.context.services,
            actor,
            supply_service.PurchaseOrderInput(
                sku=input.sku,
                quantity=input.quantity,
                location=input.location,
                supplier_code=input.supplier.code,
                supplier_name=input.supplier.name,
                supplier_lead_time_days=input.supplier_lead_time_days,
                expected_on=input.expected_on,
                reference=input.reference,
            ),
        )
        return _supply_payload(result)

    @strawberry.mutation(description="Schedule a production run: units per day from its start.")
    async def schedule_production_run(
        self, info: Info[Context, Any], input: ScheduleProductionRunInput
    ) -> SupplyPayload:
        actor = await require_ops(info)
        result = await supply_service.schedule_production_run(
            info.context.services,
            actor,
            supply_service.ProductionRunInput(
                sku=input.sku,
                start_on=input.start_on,
                units_per_day=input.units_per_day,
                run_days=input.run_days,
                location=input.location,
                reference=input.reference,
            ),
        )
        return _supply_payload(result)

    @strawberry.mutation(
        description="Move a supply's expected date (a slip or a pull-in) with a reason; the "
        "waiting lines are re-promised and told when their window moves later."
    )
    async def update_supply_eta(
        self, info: Info[Context, Any], input: UpdateSupplyEtaInput
    ) -> SupplyPayload:
        actor = await require_ops(info)
        supply_id = _supply_id(input.id)
        if supply_id < 0:
            return _bad_id("id")
        result = await supply_service.update_supply_eta(
            info.context.services, actor, supply_id, input.expected_on, input.reason
        )
        return _supply_payload(result)

    @strawberry.mutation(description="Cancel open supply with a reason; promises follow.")
    async def cancel_supply(
        self, info: Info[Context, Any], input: CancelSupplyInput
    ) -> SupplyPayload:
        actor = await require_ops(info)
        supply_id = _supply_id(input.id)
        if supply_id < 0:
            return _bad_id("id")
        result = await supply_service.cancel_supply(
            info.context.services, actor, supply_id, input.reason
        )
        return _supply_payload(result)

    @strawberry.mutation(
        description="Book a goods receipt: units go FIFO to waiting backorders and released "
        "pre-orders (ring-fenced) before anything re-opens as READY stock."
    )
    async def receive_goods(
        self, info: Info[Context, Any], input: ReceiveGoodsInput
    ) -> ReceiveGoodsPayload:
        actor = await require_ops(info)
        supply_id = None
        if input.supply_id is not None:
            supply_id = _supply_id(input.supply_id)
            if supply_id < 0:
                return ReceiveGoodsPayload(
                    receipt=None,
                    user_errors=to_user_errors(
                        [
                            ServiceError(
                                ("input", "supplyId"),
                                SupplyErrorCode.SUPPLY_NOT_FOUND,
                                "No such supply.",
                            )
                        ]
                    ),
                )
        result = await supply_service.receive_goods(
            info.context.services,
            actor,
            supply_service.ReceiptInput(
                sku=input.sku,
                quantity=input.quantity,
                location=input.location,
                reference=input.reference,
                supply_id=supply_id,
            ),
        )
        receipt = result.value
        if receipt is None:
            return ReceiveGoodsPayload(receipt=None, user_errors=to_user_errors(result.errors))
        return ReceiveGoodsPayload(
            receipt=GoodsReceipt(
                id=global_id("GoodsReceipt", str(receipt.id)),
                sku=receipt.sku,
                quantity=receipt.quantity,
                allocated=receipt.allocated,
                held_for_launch=receipt.held_for_launch,
                to_stock=receipt.to_stock,
                supply_id=(
                    global_id("Supply", str(receipt.supply_id)) if receipt.supply_id else None
                ),
                allocations=[
                    ReceiptAllocation(
                        order_number=a["number"],
                        order_id=global_id("Order", str(a["order_id"])),
                        line_id=global_id("OrderLine", str(a["line_id"])),
                        quantity=a["quantity"],
                        line_allocated=a["allocated"],
                        line_quantity=a["line_quantity"],
                        fully_allocated=a["allocated"] == a["line_quantity"],
                    )
                    for a in receipt.allocations
                ],
            ),
            user_errors=[],
        )

    @strawberry.mutation(description="FIFO, or PRIORITY-tagged lines first, when units arrive.")
    async def set_allocation_policy(
        self, info: Info[Context, Any], input: SetAllocationPolicyInput
    ) -> AllocationPolicyPayload:
        actor = await require_ops(info)
        result = await supply_service.set_allocation_policy(
            info.context.services, actor, input.sku, input.policy.value
        )
        return AllocationPolicyPayload(
            sku=input.sku,
            policy=AllocationPolicy(result.value) if result.value else None,
            user_errors=to_user_errors(result.errors),
        )

    @strawberry.mutation(description="Create or change a carrier service and its transit days.")
    async def set_carrier_service(
        self, info: Info[Context, Any], input: SetCarrierServiceInput
    ) -> CarrierServicePayload:
        actor = await require_ops(info)
        result = await shipping.set_carrier_service(
            info.context.services,
            actor,
            input.region,
            input.code,
            input.name,
            input.transit_min_days,
            input.transit_max_days,
        )
        return CarrierServicePayload(
            carrier_service=CarrierService.from_row(result.value) if result.value else None,
            user_errors=to_user_errors(result.errors),
        )

    @strawberry.mutation(
        description="Run a scheduled job now (it also runs every OMS_SCHEDULER_SECONDS)."
    )
    async def run_scheduled_job(
        self, info: Info[Context, Any], job: ScheduledJob
    ) -> ScheduledJobPayload:
        actor = await require_ops(info)
        ran, result = await scheduler.run_job(
            info.context.services, scheduler.Job(job.value), actor
        )
        return ScheduledJobPayload(job=job, ran=ran, result=result)
