"""adjustStock: add or remove on-hand stock at a location, with a reason (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import inventory
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors
from graphql_schema.inventory.changed import changed_product
from graphql_schema.inventory.mutations.reasons import StockReason
from graphql_schema.products.types import Product


@strawberry.input
class AdjustStockInput:
    sku: str
    location: str
    delta: int
    reason: StockReason
    note: str | None = None
    release_reserved: bool = strawberry.field(
        default=False,
        description="Allow on hand to drop below the units ring-fenced for waiting orders: "
        "the lines served last give theirs back, keep their place at the head of the queue "
        "and are re-promised. False: such a change is refused with BELOW_RESERVED.",
    )


@strawberry.type
class AdjustStockPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def adjust_stock(info: Info[Context, Any], input: AdjustStockInput) -> AdjustStockPayload:
    actor = await require_ops(info)
    result = await inventory.change_stock(
        info.context.services,
        actor,
        input.sku,
        input.location,
        delta=input.delta,
        reason=input.reason.value,
        note=input.note,
        release_reserved=input.release_reserved,
    )
    return AdjustStockPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=adjust_stock, description="Add or remove on-hand stock at a location, with a reason."
)
