"""requestAvailabilityAlert: "notify me" on a sold-out product page (no key needed; the
customer confirms from the e-mail before any alert is sent)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.notifications import alerts
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.errors import NotificationError, input_errors, user_errors
from graphql_schema.notifications.alert_types import AvailabilityAlert


@strawberry.input
class RequestAvailabilityAlertInput:
    sku: str
    email: str = strawberry.field(description="Where the confirmation and the alert go.")
    channel: str | None = strawberry.field(
        default=None,
        description="The channel whose availability counts (none: the default view, as the "
        "product page without a channel).",
    )


@strawberry.type
class RequestAvailabilityAlertPayload:
    alert: AvailabilityAlert | None = strawberry.field(
        description="The PENDING alert (a repeat: the open alert already there, and no second "
        "e-mail)."
    )
    user_errors: list[NotificationError]


async def request_availability_alert(
    info: Info[Context, Any], input: RequestAvailabilityAlertInput
) -> RequestAvailabilityAlertPayload:
    actor = await current_actor(info)
    result = await alerts.request_alert(
        info.context.services, actor, input.sku, input.email, input.channel
    )
    if result.value is None:
        return RequestAvailabilityAlertPayload(
            alert=None, user_errors=user_errors(NotificationError, input_errors(result.errors))
        )
    return RequestAvailabilityAlertPayload(
        alert=AvailabilityAlert.from_view(result.value), user_errors=[]
    )


FIELD = strawberry.mutation(
    resolver=request_availability_alert,
    description="Ask to be told when a SOLD_OUT product can be ordered again (NOT_SOLD_OUT "
    "when it can be now: show the buy button). The customer gets an e-mail with a link to "
    "confirm (`confirmAvailabilityAlert`); only confirmed alerts are sent, in sign-up order, "
    f"and at most {alerts.MAX_OPEN_ALERTS} may be open per address.",
)
