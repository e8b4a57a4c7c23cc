"""pauseOrderLine: pause one waiting line, keeping its place (ops and the order's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from graphql_schema.context import Context
from graphql_schema.errors import QueueError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_line
from graphql_schema.orders.types import Order, OrderLine
from graphql_schema.queue.mutations.pausing import set_paused


@strawberry.input
class PauseOrderLineInput:
    order_id: strawberry.ID
    line_id: strawberry.ID


@strawberry.type
class PauseOrderLinePayload:
    order: Order | None
    line: OrderLine | None
    user_errors: list[QueueError]


async def pause_order_line(
    info: Info[Context, Any], input: PauseOrderLineInput
) -> PauseOrderLinePayload:
    order_id, line_id, result = await set_paused(info, input.order_id, input.line_id, True)
    if not result.ok or line_id is None:
        return PauseOrderLinePayload(
            order=None, line=None, user_errors=user_errors(QueueError, input_errors(result.errors))
        )
    order, line = await changed_line(info, order_id, line_id)
    return PauseOrderLinePayload(order=order, line=line, user_errors=[])


FIELD = strawberry.mutation(
    resolver=pause_order_line,
    description="Pause one waiting line: it keeps its place in the queue.",
)
