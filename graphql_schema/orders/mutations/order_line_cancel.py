"""cancelOrderLine: cancel one line (or sub-line) of an order (ops and the order's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.orders import cancellation
from app.services.results import Result
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import OrderError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_line, line_key, no_order, order_key
from graphql_schema.orders.types import Order, OrderLine


@strawberry.input
class CancelOrderLineInput:
    order_id: strawberry.ID
    line_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class CancelOrderLinePayload:
    order: Order | None
    line: OrderLine | None
    user_errors: list[OrderError]


async def cancel_order_line(
    info: Info[Context, Any], input: CancelOrderLineInput
) -> CancelOrderLinePayload:
    actor = await require_order_manager(info)
    order_id = order_key(input.order_id)
    line_id = line_key(input.line_id)
    result: Result[Any] = (
        Result(errors=no_order("orderId"))
        if order_id is None
        else await cancellation.cancel(
            info.context.services, actor, order_id, line_id, input.reason
        )
    )
    if not result.ok or order_id is None:
        return CancelOrderLinePayload(
            order=None, line=None, user_errors=user_errors(OrderError, input_errors(result.errors))
        )
    order, line = await changed_line(info, order_id, line_id)
    return CancelOrderLinePayload(order=order, line=line, user_errors=[])


FIELD = strawberry.mutation(
    resolver=cancel_order_line, description="Cancel one line (or sub-line) of an order."
)
