"""confirmDelivery: the date shipped lines arrived, for promise accuracy (ops and the order's
channel)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import fulfilment
from app.services.error_codes import FulfilmentErrorCode
from app.services.results import Result
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError, input_errors, user_errors
from graphql_schema.fulfilment.mutations.line_ids import line_keys
from graphql_schema.orders.mutations.changed import changed_order, no_order, order_key
from graphql_schema.orders.types import Order


@strawberry.input
class ConfirmDeliveryInput:
    order_id: strawberry.ID
    line_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Default: every shipped, undelivered line."
    )
    delivered_on: date


@strawberry.type
class ConfirmDeliveryPayload:
    order: Order | None
    user_errors: list[FulfilmentError]


async def confirm_delivery(
    info: Info[Context, Any], input: ConfirmDeliveryInput
) -> ConfirmDeliveryPayload:
    actor = await require_order_manager(info)
    order_id = order_key(input.order_id)
    result: Result[Any] = (
        Result(errors=no_order("orderId", FulfilmentErrorCode.NOT_FOUND))
        if order_id is None
        else await fulfilment.confirm_delivery(
            info.context.services, actor, order_id, line_keys(input.line_ids), input.delivered_on
        )
    )
    return ConfirmDeliveryPayload(
        order=await changed_order(info, order_id) if result.ok and order_id else None,
        user_errors=user_errors(FulfilmentError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=confirm_delivery,
    description="Record the delivery date of shipped lines (it feeds promise accuracy).",
)
