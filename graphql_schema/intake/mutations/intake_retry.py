"""retryIntake: try one failed payload again now (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.error_codes import IntakeErrorCode
from app.services.intake import admin
from app.services.results import ServiceError
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError, input_errors, user_errors
from graphql_schema.intake.types import IntakeMessage, intake_message_id


@strawberry.input
class RetryIntakeInput:
    id: strawberry.ID = strawberry.field(description="An IntakeMessage ID.")


@strawberry.type
class RetryIntakePayload:
    message: IntakeMessage | None
    user_errors: list[IntakeError]


def not_found() -> tuple[None, list[IntakeError]]:
    error = ServiceError(("input", "id"), IntakeErrorCode.NOT_FOUND, "No such intake message.")
    return None, user_errors(IntakeError, [error])


def answer(result: Any) -> tuple[IntakeMessage | None, list[IntakeError]]:
    if result.value is None:
        return None, user_errors(IntakeError, input_errors(result.errors))
    return IntakeMessage.from_row(result.value), []


async def retry_intake(info: Info[Context, Any], input: RetryIntakeInput) -> RetryIntakePayload:
    actor = await require_ops(info)
    number = intake_message_id(input.id)
    if number is None:
        message, errors = not_found()
    else:
        message, errors = answer(await admin.retry(info.context.services, actor, number))
    return RetryIntakePayload(message=message, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=retry_intake,
    description="Try a failed (INVALID, DEAD) or waiting (RETRYING) intake payload again now, "
    "with a fresh count of attempts, once its cause is fixed (a SKU mapped, a rule changed, "
    "stock added): the message shows that attempt's outcome. One that placement refused "
    "before is placed under a new idempotency key; one that may have been placed is not "
    "placed twice.",
)
