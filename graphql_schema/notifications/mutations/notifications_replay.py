"""replayNotifications: send again every message matching a filter (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.notifications import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.enums import NotificationStatus, NotificationTemplate
from graphql_schema.errors import NotificationError, input_errors, user_errors
from graphql_schema.notifications.types import Notification
from graphql_schema.orders.types import order_uuid
from graphql_schema.relay import split_global_id


@strawberry.input(description="Which messages to send again.")
class ReplayNotificationsFilterInput:
    statuses: list[NotificationStatus] = strawberry.field(
        default_factory=lambda: [NotificationStatus.DEAD],
        description="DEAD by default; SENT ones too when a customer lost their mail.",
    )
    template: NotificationTemplate | None = None
    order_id: strawberry.ID | None = None


@strawberry.input
class ReplayNotificationsInput:
    filter: ReplayNotificationsFilterInput
    limit: int = strawberry.field(default=100, description="At most this many (1 to 1000).")


@strawberry.type
class ReplayNotificationsPayload:
    notifications: list[Notification]
    user_errors: list[NotificationError]


async def replay_notifications(
    info: Info[Context, Any], input: ReplayNotificationsInput
) -> ReplayNotificationsPayload:
    actor = await require_ops(info)
    flt = input.filter
    order = None
    if flt.order_id is not None:
        parts = split_global_id(flt.order_id)
        order = order_uuid(parts[1]) if parts and parts[0] == "Order" else None
        if order is None:
            return ReplayNotificationsPayload(notifications=[], user_errors=[])
    result = await admin.replay(
        info.context.services,
        actor,
        [s.value for s in flt.statuses],
        flt.template.value if flt.template else None,
        order,
        input.limit,
    )
    if result.value is None:
        return ReplayNotificationsPayload(
            notifications=[],
            user_errors=user_errors(NotificationError, input_errors(result.errors)),
        )
    return ReplayNotificationsPayload(
        notifications=[Notification.from_row(r) for r in result.value], user_errors=[]
    )


FIELD = strawberry.mutation(
    resolver=replay_notifications,
    description="Send again every message matching the filter (after an outage: the DEAD "
    "ones), each with its own Message-ID kept.",
)
