"""cancelSupply: open supply cancelled with a reason; promises follow (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import supply
from app.services.results import Result
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import SupplyError, user_errors
from graphql_schema.supply.mutations.common import changed_supply, no_supply, supply_key
from graphql_schema.supply.types import Supply


@strawberry.input
class CancelSupplyInput:
    id: strawberry.ID
    reason: str = strawberry.field(
        description="Why; customers read it in the delay e-mail when their window moves "
        "later, so write it for them."
    )


@strawberry.type
class CancelSupplyPayload:
    supply: Supply | None
    user_errors: list[SupplyError]


async def cancel_supply(info: Info[Context, Any], input: CancelSupplyInput) -> CancelSupplyPayload:
    actor = await require_ops(info)
    supply_id = supply_key(input.id)
    result: Result[Any] = (
        Result(errors=no_supply("id"))
        if supply_id is None
        else await supply.cancel_supply(info.context.services, actor, supply_id, input.reason)
    )
    return CancelSupplyPayload(
        supply=changed_supply(info, result.value),
        user_errors=user_errors(SupplyError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=cancel_supply, description="Cancel open supply with a reason; promises follow."
)
