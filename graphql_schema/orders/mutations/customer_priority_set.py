"""setCustomerPriority: a priority customer's orders from trusted channels get PRIORITY (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.orders import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import OrderError, input_errors, user_errors


@strawberry.input
class SetCustomerPriorityInput:
    email: str
    priority: bool


@strawberry.type
class SetCustomerPriorityPayload:
    email: str
    priority: bool | None
    user_errors: list[OrderError]


async def set_customer_priority(
    info: Info[Context, Any], input: SetCustomerPriorityInput
) -> SetCustomerPriorityPayload:
    actor = await require_ops(info)
    email = input.email.strip().lower()
    result = await admin.set_customer_priority(info.context.services, actor, email, input.priority)
    return SetCustomerPriorityPayload(
        email=email,
        priority=result.value,
        user_errors=user_errors(OrderError, input_errors(result.errors)),
    )


FIELD = strawberry.mutation(
    resolver=set_customer_priority,
    description="Mark a customer as priority: their orders get PRIORITY.",
)
