"""Queue and fulfilment mutations: pause/resume (keeping the queue place), the customer's
answer to a delay, dispatch (capturing what is due) and delivery."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import fulfilment
from app.services import queue as queue_service
from graphql_schema.auth import require_order_manager, require_reader
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.inventory.types import to_user_errors
from graphql_schema.orders.mutations import _changed, _no_order
from graphql_schema.orders.queries import order_uuid
from graphql_schema.orders.types import OrderPayload
from graphql_schema.relay import parse_global_id


@strawberry.enum
class DelayDecision(Enum):
    ACCEPT = "ACCEPT"
    CANCEL = "CANCEL"


@strawberry.input
class OrderLineRefInput:
    order_id: strawberry.ID
    line_id: strawberry.ID


@strawberry.input
class RespondToDelayInput:
    order_line_id: strawberry.ID
    decision: DelayDecision
    token: str | None = strawberry.field(
        default=None, description="The order token, when the customer answers on a storefront."
    )


@strawberry.input
class DispatchOrderLinesInput:
    order_id: strawberry.ID
    line_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Default: every line that can ship now."
    )
    location: str | None = strawberry.field(
        default=None, description="Default: the location with the most stock of each SKU."
    )


@strawberry.input
class ConfirmDeliveryInput:
    order_id: strawberry.ID
    line_ids: list[strawberry.ID] | None = None
    delivered_on: date


def _line_id(value: str) -> int:
    try:
        number = int(parse_global_id("OrderLine", value))
    except (ValueError, PublicError):
        return -1
    return number if 0 < number < 2**63 else -1


def _line_ids(values: list[strawberry.ID] | None) -> list[int] | None:
    return None if values is None else [_line_id(v) for v in values]


@strawberry.type
class QueueMutations:
    @strawberry.mutation(
        description="Pause every waiting line of an order: skipped by allocation, its place "
        "in the queue kept; ring-fenced units go to the next in line."
    )
    async def pause_order(self, info: Info[Context, Any], id: strawberry.ID) -> OrderPayload:
        return await _pause(info, id, None, True)

    @strawberry.mutation(description="Resume an order's paused lines at their original places.")
    async def resume_order(self, info: Info[Context, Any], id: strawberry.ID) -> OrderPayload:
        return await _pause(info, id, None, False)

    @strawberry.mutation(description="Pause one waiting line.")
    async def pause_order_line(
        self, info: Info[Context, Any], input: OrderLineRefInput
    ) -> OrderPayload:
        return await _pause(info, input.order_id, input.line_id, True)

    @strawberry.mutation(description="Resume one paused line at its original place.")
    async def resume_order_line(
        self, info: Info[Context, Any], input: OrderLineRefInput
    ) -> OrderPayload:
        return await _pause(info, input.order_id, input.line_id, False)

    @strawberry.mutation(
        description="The customer's answer to a delay beyond the store's threshold: ACCEPT "
        "keeps the line; CANCEL cancels it and refunds or voids its payments."
    )
    async def respond_to_delay(
        self, info: Info[Context, Any], input: RespondToDelayInput
    ) -> OrderPayload:
        actor = await require_reader(info, input.token)
        line_id = _line_id(input.order_line_id)
        result = await queue_service.respond_to_delay(
            info.context.services,
            actor,
            line_id,
            input.decision.value,
            input.token,
        )
        if result.value is None:
            return OrderPayload(order=None, user_errors=to_user_errors(result.errors))
        return await _changed(info, result, result.value.order_id)

    @strawberry.mutation(
        description="Ship lines that can ship (READY, or fully allocated and released): stock "
        "leaves, units leave their pools, deposits' balances and authorizations are captured."
    )
    async def dispatch_order_lines(
        self, info: Info[Context, Any], input: DispatchOrderLinesInput
    ) -> OrderPayload:
        actor = await require_order_manager(info)
        order_id = order_uuid(input.order_id)
        if order_id is None:
            return _no_order("orderId")
        result = await fulfilment.dispatch(
            info.context.services, actor, order_id, _line_ids(input.line_ids), input.location
        )
        return await _changed(info, result, order_id)

    @strawberry.mutation(description="Record the delivery date of shipped lines (for the KPI).")
    async def confirm_delivery(
        self, info: Info[Context, Any], input: ConfirmDeliveryInput
    ) -> OrderPayload:
        actor = await require_order_manager(info)
        order_id = order_uuid(input.order_id)
        if order_id is None:
            return _no_order("orderId")
        result = await fulfilment.confirm_delivery(
            info.context.services, actor, order_id, _line_ids(input.line_ids), input.delivered_on
        )
        return await _changed(info, result, order_id)


async def _pause(
    info: Info[Context, Any], order_gid: str, line_gid: str | None, paused: bool
) -> OrderPayload:
    actor = await require_order_manager(info)
    order_id = order_uuid(order_gid)
    if order_id is None:
        return _no_order("orderId" if line_gid else "id")
    line_id = _line_id(line_gid) if line_gid is not None else None
    result = await queue_service.set_paused(info.context.services, actor, order_id, line_id, paused)
    return await _changed(info, result, order_id)
