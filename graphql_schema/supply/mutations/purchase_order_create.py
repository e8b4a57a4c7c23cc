"""createPurchaseOrder: open supply that promises are made from (ops)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import supply
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import SupplyError, user_errors
from graphql_schema.supply.mutations.common import changed_supply
from graphql_schema.supply.types import Supply


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


@strawberry.type
class CreatePurchaseOrderPayload:
    supply: Supply | None
    user_errors: list[SupplyError]


async def create_purchase_order(
    info: Info[Context, Any], input: CreatePurchaseOrderInput
) -> CreatePurchaseOrderPayload:
    actor = await require_ops(info)
    result = await supply.create_purchase_order(
        info.context.services,
        actor,
        supply.PurchaseOrderInput(
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
    return CreatePurchaseOrderPayload(
        supply=changed_supply(info, result.value),
        user_errors=user_errors(SupplyError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=create_purchase_order,
    description="Book a purchase order: open supply promises are made from.",
)
