"""renewExpiringAuthorizations: re-authorize waiting lines before their authorization lapses
(ops; the scheduler runs it too)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import strawberry
from strawberry.types import Info

from app.services.error_codes import OrderErrorCode
from app.services.orders import payments
from app.services.results import ServiceError
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import OrderError, user_errors

MAX_HOURS = 24 * 30


@strawberry.input
class RenewExpiringAuthorizationsInput:
    within_hours: int = strawberry.field(
        default=24, description=f"Authorizations expiring within this many hours (1-{MAX_HOURS})."
    )


@strawberry.type
class RenewExpiringAuthorizationsPayload:
    renewed: int
    user_errors: list[OrderError]


async def renew_expiring_authorizations(
    info: Info[Context, Any], input: RenewExpiringAuthorizationsInput
) -> RenewExpiringAuthorizationsPayload:
    actor = await require_ops(info)
    if not 0 < input.within_hours <= MAX_HOURS:
        error = ServiceError(
            ("input", "withinHours"), OrderErrorCode.INVALID, f"Between 1 and {MAX_HOURS} hours."
        )
        return RenewExpiringAuthorizationsPayload(
            renewed=0, user_errors=user_errors(OrderError, [error])
        )
    result = await payments.renew_authorizations(
        info.context.services, actor, timedelta(hours=input.within_hours)
    )
    return RenewExpiringAuthorizationsPayload(renewed=result.value or 0, user_errors=[])


FIELD = strawberry.mutation(
    resolver=renew_expiring_authorizations,
    description="Re-authorize waiting lines whose card authorization expires soon (the "
    "scheduler runs this too); voids the old authorization.",
)
