"""tagOrder: add or remove tags by hand (ops and the order's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.orders import admin
from app.services.results import Result
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import OrderError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_order, no_order, order_key
from graphql_schema.orders.types import Order


@strawberry.input
class TagOrderInput:
    id: strawberry.ID
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class TagOrderPayload:
    order: Order | None
    user_errors: list[OrderError]


async def tag_order(info: Info[Context, Any], input: TagOrderInput) -> TagOrderPayload:
    actor = await require_order_manager(info)
    order_id = order_key(input.id)
    result: Result[Any] = (
        Result(errors=no_order("id"))
        if order_id is None
        else await admin.tag_order(
            info.context.services, actor, order_id, list(input.add), list(input.remove)
        )
    )
    return TagOrderPayload(
        order=await changed_order(info, order_id) if result.ok and order_id else None,
        user_errors=user_errors(OrderError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=tag_order,
    description="Add or remove tags by hand (PRIORITY, LIMITED_RUN, own tags; upper-cased).",
)
