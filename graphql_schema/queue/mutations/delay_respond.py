"""respondToDelay: the customer's answer to a delay beyond the store's threshold (the
customer with the order token, ops, or the order's channel)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import queue
from graphql_schema.auth import require_reader
from graphql_schema.context import Context
from graphql_schema.errors import QueueError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_line, line_key
from graphql_schema.orders.types import Order, OrderLine


@strawberry.enum
class DelayDecision(Enum):
    ACCEPT = "ACCEPT"
    CANCEL = "CANCEL"


@strawberry.input
class RespondToDelayInput:
    order_line_id: strawberry.ID
    decision: DelayDecision
    token: str | None = strawberry.field(
        default=None, description="The order token, when the customer answers on a storefront."
    )


@strawberry.type
class RespondToDelayPayload:
    order: Order | None
    line: OrderLine | None
    user_errors: list[QueueError]


async def respond_to_delay(
    info: Info[Context, Any], input: RespondToDelayInput
) -> RespondToDelayPayload:
    actor = await require_reader(info, input.token)
    line_id = line_key(input.order_line_id)
    result = await queue.respond_to_delay(
        info.context.services, actor, line_id, input.decision.value, input.token
    )
    if result.value is None:
        return RespondToDelayPayload(
            order=None, line=None, user_errors=user_errors(QueueError, input_errors(result.errors))
        )
    order, line = await changed_line(info, result.value.order_id, line_id)
    return RespondToDelayPayload(order=order, line=line, user_errors=[])


FIELD = strawberry.mutation(
    resolver=respond_to_delay,
    description="The customer's answer to a delay beyond the store's threshold: ACCEPT keeps "
    "the line; CANCEL cancels it and refunds or voids its payments.",
)
