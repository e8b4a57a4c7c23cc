"""discardIntake: close a failed payload that will never be an order (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.intake import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError
from graphql_schema.intake.mutations.intake_retry import answer, not_found
from graphql_schema.intake.types import IntakeMessage, intake_message_id


@strawberry.input
class DiscardIntakeInput:
    id: strawberry.ID = strawberry.field(description="An IntakeMessage ID.")
    reason: str


@strawberry.type
class DiscardIntakePayload:
    message: IntakeMessage | None
    user_errors: list[IntakeError]


async def discard_intake(
    info: Info[Context, Any], input: DiscardIntakeInput
) -> DiscardIntakePayload:
    actor = await require_ops(info)
    number = intake_message_id(input.id)
    if number is None:
        message, errors = not_found()
    else:
        message, errors = answer(
            await admin.discard(info.context.services, actor, number, input.reason)
        )
    return DiscardIntakePayload(message=message, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=discard_intake,
    description="Close an intake payload that will never be an order (a test, a duplicate "
    "under another id, cancelled by the channel), with the reason: it leaves the failures "
    "list; the ledger keeps who and why.",
)
