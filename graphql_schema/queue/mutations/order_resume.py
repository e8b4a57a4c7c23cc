"""resumeOrder: resume an order's paused lines at their places (ops and its channel)."""

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
class ResumeOrderInput:
    id: strawberry.ID


@strawberry.type
class ResumeOrderPayload:
    order: Order | None
    user_errors: list[QueueError]


async def resume_order(info: Info[Context, Any], input: ResumeOrderInput) -> ResumeOrderPayload:
    order_id, _, result = await set_paused(info, input.id, None, False)
    return ResumeOrderPayload(
        order=await changed_order(info, order_id) if result.ok else None,
        user_errors=user_errors(QueueError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=resume_order,
    description="Resume an order's paused lines at their original places.",
)
