"""pauseOrder: pause every waiting line of an order (ops and the order's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from graphql_schema.context import Context
from graphql_schema.errors import QueueError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_order
from graphql_schema.orders.types import Order
from graphql_schema.queue.mutations.pausing import set_paused


@strawberry.input
class PauseOrderInput:
    id: strawberry.ID


@strawberry.type
class PauseOrderPayload:
    order: Order | None
    user_errors: list[QueueError]


async def pause_order(info: Info[Context, Any], input: PauseOrderInput) -> PauseOrderPayload:
    order_id, _, result = await set_paused(info, input.id, None, True)
    return PauseOrderPayload(
        order=await changed_order(info, order_id) if result.ok else None,
        user_errors=user_errors(QueueError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=pause_order,
    description="Pause every waiting line of an order: skipped by allocation, its place in "
    "the queue kept; ring-fenced units go to the next in line.",
)
