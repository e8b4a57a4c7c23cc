"""respondToDelay: the customer's answer to a delay beyond the store's threshold (the
customer with the order token or the link of the delay e-mail, ops, or the order's channel)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import queue
from app.services.error_codes import QueueErrorCode
from app.services.results import ServiceError
from graphql_schema.auth import current_actor, require_reader
from graphql_schema.context import Context
from graphql_schema.errors import QueueError, input_errors, user_errors
from graphql_schema.orders.mutations.changed import changed_line, line_key
from graphql_schema.orders.types import Order, OrderLine


@strawberry.enum
class DelayDecision(Enum):
    ACCEPT = "ACCEPT"
    CANCEL = "CANCEL"


@strawberry.input(
    description="Either `orderLineId` and `decision` (with the order token, or a key), or the "
    "`linkToken` of the accept or cancel link in the delay e-mail (single use)."
)
class RespondToDelayInput:
    order_line_id: strawberry.ID | None = None
    decision: DelayDecision | None = None
    token: str | None = strawberry.field(
        default=None, description="The order token, when the customer answers on a storefront."
    )
    link_token: str | None = strawberry.field(
        default=None,
        description="The token of the accept or cancel link in the delay e-mail: it names the "
        "line and the answer, expires, and works once.",
    )


@strawberry.type
class RespondToDelayPayload:
    order: Order | None
    line: OrderLine | None
    user_errors: list[QueueError]


async def respond_to_delay(
    info: Info[Context, Any], input: RespondToDelayInput
) -> RespondToDelayPayload:
    services = info.context.services
    decision = input.decision.value if input.decision else None
    if input.link_token is not None:
        actor = await current_actor(info)
        result = await queue.respond_by_link(services, actor, input.link_token, decision)
    else:
        actor = await require_reader(info, input.token)
        if input.order_line_id is None or decision is None:
            missing = "orderLineId" if input.order_line_id is None else "decision"
            error = ServiceError(
                ("input", missing),
                QueueErrorCode.INVALID,
                "Give orderLineId and decision, or the linkToken of the e-mail's link.",
            )
            return RespondToDelayPayload(
                order=None, line=None, user_errors=user_errors(QueueError, [error])
            )
        line_id = line_key(input.order_line_id)
        result = await queue.respond_to_delay(services, actor, line_id, decision, input.token)
    if result.value is None:
        return RespondToDelayPayload(
            order=None, line=None, user_errors=user_errors(QueueError, input_errors(result.errors))
        )
    order, line = await changed_line(info, result.value.order_id, result.value.line_id or 0)
    return RespondToDelayPayload(order=order, line=line, user_errors=[])


FIELD = strawberry.mutation(
    resolver=respond_to_delay,
    description="The customer's answer to a delay beyond the store's threshold: ACCEPT keeps "
    "the line; CANCEL cancels it and refunds or voids its payments.",
)
