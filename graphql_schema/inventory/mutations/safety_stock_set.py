"""setSafetyStock: units never sold as READY (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import inventory
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors
from graphql_schema.inventory.changed import changed_product
from graphql_schema.products.types import Product


@strawberry.input
class SetSafetyStockInput:
    sku: str
    quantity: int


@strawberry.type
class SetSafetyStockPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def set_safety_stock(
    info: Info[Context, Any], input: SetSafetyStockInput
) -> SetSafetyStockPayload:
    actor = await require_ops(info)
    result = await inventory.set_safety_stock(
        info.context.services, actor, input.sku, input.quantity
    )
    return SetSafetyStockPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(resolver=set_safety_stock, description="Units never sold as READY.")
