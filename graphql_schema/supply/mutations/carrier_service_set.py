"""setCarrierService: a carrier service of a region and its transit days (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipping
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import ShippingError, user_errors
from graphql_schema.supply.types import CarrierService


@strawberry.input
class SetCarrierServiceInput:
    region: str
    code: str
    name: str
    transit_min_days: int
    transit_max_days: int


@strawberry.type
class SetCarrierServicePayload:
    carrier_service: CarrierService | None
    user_errors: list[ShippingError]


async def set_carrier_service(
    info: Info[Context, Any], input: SetCarrierServiceInput
) -> SetCarrierServicePayload:
    actor = await require_ops(info)
    result = await shipping.set_carrier_service(
        info.context.services,
        actor,
        input.region,
        input.code,
        input.name,
        input.transit_min_days,
        input.transit_max_days,
    )
    return SetCarrierServicePayload(
        carrier_service=CarrierService.from_row(result.value) if result.value else None,
        user_errors=user_errors(ShippingError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=set_carrier_service,
    description="Create or change a carrier service and its transit days.",
)
