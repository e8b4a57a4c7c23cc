"""updateSupplyEta: a slip or a pull-in, with its reason; promises follow (ops)."""

from __future__ import annotations

from datetime import date
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
class UpdateSupplyEtaInput:
    id: strawberry.ID
    expected_on: date
    reason: str = strawberry.field(
        description="Why; customers read it in the delay e-mail when their window moves "
        "later, so write it for them."
    )


@strawberry.type
class UpdateSupplyEtaPayload:
    supply: Supply | None
    user_errors: list[SupplyError]


async def update_supply_eta(
    info: Info[Context, Any], input: UpdateSupplyEtaInput
) -> UpdateSupplyEtaPayload:
    actor = await require_ops(info)
    supply_id = supply_key(input.id)
    result: Result[Any] = (
        Result(errors=no_supply("id"))
        if supply_id is None
        else await supply.update_supply_eta(
            info.context.services, actor, supply_id, input.expected_on, input.reason
        )
    )
    return UpdateSupplyEtaPayload(
        supply=changed_supply(info, result.value),
        user_errors=user_errors(SupplyError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=update_supply_eta,
    description="Move a supply's expected date (a slip or a pull-in) with a reason; the "
    "waiting lines are re-promised and told when their window moves later.",
)
