"""retryNotification: send a DEAD or UNCONFIRMED message again now (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.error_codes import NotificationErrorCode
from app.services.notifications import admin
from app.services.results import ServiceError
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import NotificationError, input_errors, user_errors
from graphql_schema.notifications.types import Notification, notification_id


@strawberry.input
class RetryNotificationInput:
    id: strawberry.ID = strawberry.field(description="A Notification ID.")


@strawberry.type
class RetryNotificationPayload:
    notification: Notification | None
    user_errors: list[NotificationError]


async def retry_notification(
    info: Info[Context, Any], input: RetryNotificationInput
) -> RetryNotificationPayload:
    actor = await require_ops(info)
    number = notification_id(input.id)
    if number is None:
        error = ServiceError(("input", "id"), NotificationErrorCode.NOT_FOUND, "No such message.")
        return RetryNotificationPayload(
            notification=None, user_errors=user_errors(NotificationError, [error])
        )
    result = await admin.retry(info.context.services, actor, number)
    if result.value is None:
        return RetryNotificationPayload(
            notification=None,
            user_errors=user_errors(NotificationError, input_errors(result.errors)),
        )
    return RetryNotificationPayload(
        notification=Notification.from_row(result.value), user_errors=[]
    )


FIELD = strawberry.mutation(
    resolver=retry_notification,
    description="Send a DEAD or UNCONFIRMED message again now, with the same Message-ID "
    "(an UNCONFIRMED one may have reached the customer: mail systems spot the duplicate).",
)
