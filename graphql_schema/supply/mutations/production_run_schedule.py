"""scheduleProductionRun: units per day from its start (ops)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import supply
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import SupplyError, user_errors
from graphql_schema.supply.mutations.common import changed_supply
from graphql_schema.supply.types import Supply


@strawberry.input
class ScheduleProductionRunInput:
    sku: str
    start_on: date
    units_per_day: int
    run_days: int
    location: str
    reference: str | None = None


@strawberry.type
class ScheduleProductionRunPayload:
    supply: Supply | None
    user_errors: list[SupplyError]


async def schedule_production_run(
    info: Info[Context, Any], input: ScheduleProductionRunInput
) -> ScheduleProductionRunPayload:
    actor = await require_ops(info)
    result = await supply.schedule_production_run(
        info.context.services,
        actor,
        supply.ProductionRunInput(
            sku=input.sku,
            start_on=input.start_on,
            units_per_day=input.units_per_day,
            run_days=input.run_days,
            location=input.location,
            reference=input.reference,
        ),
    )
    return ScheduleProductionRunPayload(
        supply=changed_supply(info, result.value),
        user_errors=user_errors(SupplyError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=schedule_production_run,
    description="Schedule a production run: units per day from its start.",
)
