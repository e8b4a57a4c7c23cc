"""unsubscribeFromReminders: the link in a reminder switches reminders off (no key needed:
the signed link is the proof)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.notifications import admin
from graphql_schema.context import Context
from graphql_schema.errors import NotificationError, input_errors, user_errors


@strawberry.input
class UnsubscribeFromRemindersInput:
    token: str = strawberry.field(description="The token of the unsubscribe link.")


@strawberry.type
class UnsubscribeFromRemindersPayload:
    email: str | None = strawberry.field(description="The address that gets no more reminders.")
    user_errors: list[NotificationError]


async def unsubscribe_from_reminders(
    info: Info[Context, Any], input: UnsubscribeFromRemindersInput
) -> UnsubscribeFromRemindersPayload:
    result = await admin.unsubscribe(info.context.services, input.token)
    if result.value is None:
        return UnsubscribeFromRemindersPayload(
            email=None, user_errors=user_errors(NotificationError, input_errors(result.errors))
        )
    return UnsubscribeFromRemindersPayload(email=result.value, user_errors=[])


FIELD = strawberry.mutation(
    resolver=unsubscribe_from_reminders,
    description="Switch delivery reminders off for the address in an unsubscribe link. "
    "Messages about the order itself (confirmation, delays, dispatch) are always sent.",
)
