"""cancelOrder: cancel every open line; refunds and voids in the payment ledger (ops and the
order's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.orders import cancellation
from app.services.results import Result
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import OrderError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_order, no_order, order_key
from graphql_schema.orders.types import Order


@strawberry.input
class CancelOrderInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.type
class CancelOrderPayload:
    order: Order | None
    user_errors: list[OrderError]


async def cancel_order(info: Info[Context, Any], input: CancelOrderInput) -> CancelOrderPayload:
    actor = await require_order_manager(info)
    order_id = order_key(input.id)
    result: Result[Any] = (
        Result(errors=no_order("id"))
        if order_id is None
        else await cancellation.cancel(info.context.services, actor, order_id, None, input.reason)
    )
    return CancelOrderPayload(
        order=await changed_order(info, order_id) if result.ok and order_id else None,
        user_errors=user_errors(OrderError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=cancel_order, description="Cancel every open line; refunds or voids in the ledger."
)
