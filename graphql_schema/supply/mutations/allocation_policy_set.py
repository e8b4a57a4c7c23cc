"""setAllocationPolicy: FIFO, or PRIORITY-tagged lines first, when units arrive (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import supply
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import SupplyError, user_errors
from graphql_schema.products.types import Product, product_by_sku
from graphql_schema.supply.types import AllocationPolicy


@strawberry.input
class SetAllocationPolicyInput:
    sku: str
    policy: AllocationPolicy


@strawberry.type
class SetAllocationPolicyPayload:
    product: Product | None
    policy: AllocationPolicy | None
    user_errors: list[SupplyError]


async def set_allocation_policy(
    info: Info[Context, Any], input: SetAllocationPolicyInput
) -> SetAllocationPolicyPayload:
    actor = await require_ops(info)
    result = await supply.set_allocation_policy(
        info.context.services, actor, input.sku, input.policy.value
    )
    if result.value is None:
        return SetAllocationPolicyPayload(
            product=None, policy=None, user_errors=user_errors(SupplyError, result.errors)
        )
    return SetAllocationPolicyPayload(
        product=await product_by_sku(info, input.sku),
        policy=AllocationPolicy(result.value),
        user_errors=[],
    )


FIELD = strawberry.mutation(
    resolver=set_allocation_policy,
    description="FIFO, or PRIORITY-tagged lines first, when units arrive.",
)
