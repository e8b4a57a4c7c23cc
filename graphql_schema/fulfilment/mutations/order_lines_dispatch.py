"""dispatchOrderLines: ship what can ship; stock leaves, what is due is captured (ops and the
order's channel)."""

from __future__ import annotations

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
class DispatchOrderLinesInput:
    order_id: strawberry.ID
    line_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Default: every line that can ship now."
    )
    location: str | None = strawberry.field(
        default=None, description="Default: the location with the most stock of each SKU."
    )
    carrier: str | None = strawberry.field(
        default=None, description="Who carries the parcel (shown in the dispatch e-mail)."
    )
    tracking_number: str | None = None
    tracking_url: str | None = strawberry.field(
        default=None, description="Where the customer follows the parcel (http or https)."
    )


@strawberry.type
class DispatchOrderLinesPayload:
    order: Order | None
    user_errors: list[FulfilmentError]


async def dispatch_order_lines(
    info: Info[Context, Any], input: DispatchOrderLinesInput
) -> DispatchOrderLinesPayload:
    actor = await require_order_manager(info)
    order_id = order_key(input.order_id)
    result: Result[Any] = (
        Result(errors=no_order("orderId", FulfilmentErrorCode.NOT_FOUND))
        if order_id is None
        else await fulfilment.dispatch(
            info.context.services,
            actor,
            order_id,
            line_keys(input.line_ids),
            input.location,
            fulfilment.Parcel(input.carrier, input.tracking_number, input.tracking_url),
        )
    )
    return DispatchOrderLinesPayload(
        order=await changed_order(info, order_id) if result.ok and order_id else None,
        user_errors=user_errors(FulfilmentError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=dispatch_order_lines,
    description="Ship lines that can ship (READY, or fully allocated and released): stock "
    "leaves, units leave their pools, deposits' balances and authorizations are captured.",
)
