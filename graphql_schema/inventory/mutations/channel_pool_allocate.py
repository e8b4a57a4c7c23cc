"""allocateChannelPool: hold READY stock for one channel, a fixed quantity or a share (ops)."""

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


@strawberry.input(description="Give quantity or sharePercent; 0 releases the hold.")
class AllocateChannelPoolInput:
    sku: str
    channel: str
    quantity: int | None = None
    share_percent: float | None = None


@strawberry.type
class AllocateChannelPoolPayload:
    product: Product | None
    user_errors: list[CatalogError]


async def allocate_channel_pool(
    info: Info[Context, Any], input: AllocateChannelPoolInput
) -> AllocateChannelPoolPayload:
    actor = await require_ops(info)
    result = await inventory.allocate_channel_pool(
        info.context.services,
        actor,
        input.sku,
        input.channel,
        quantity=input.quantity,
        share_percent=input.share_percent,
    )
    return AllocateChannelPoolPayload(
        product=await changed_product(info, result.value),
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=allocate_channel_pool,
    description="Hold READY stock for one channel (a fixed quantity or a share).",
)
