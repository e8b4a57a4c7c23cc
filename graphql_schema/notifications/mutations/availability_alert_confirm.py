"""confirmAvailabilityAlert: the link in the confirmation e-mail (no key needed: the signed,
single-use link is the proof)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.notifications import alerts
from graphql_schema.context import Context
from graphql_schema.errors import NotificationError, input_errors, user_errors
from graphql_schema.notifications.alert_types import AvailabilityAlert


@strawberry.input
class ConfirmAvailabilityAlertInput:
    token: str = strawberry.field(description="The token of the confirmation link.")


@strawberry.type
class ConfirmAvailabilityAlertPayload:
    alert: AvailabilityAlert | None = strawberry.field(description="The CONFIRMED alert.")
    user_errors: list[NotificationError]


async def confirm_availability_alert(
    info: Info[Context, Any], input: ConfirmAvailabilityAlertInput
) -> ConfirmAvailabilityAlertPayload:
    result = await alerts.confirm_alert(info.context.services, input.token)
    if result.value is None:
        return ConfirmAvailabilityAlertPayload(
            alert=None, user_errors=user_errors(NotificationError, input_errors(result.errors))
        )
    return ConfirmAvailabilityAlertPayload(
        alert=AvailabilityAlert.from_view(result.value), user_errors=[]
    )


FIELD = strawberry.mutation(
    resolver=confirm_availability_alert,
    description="Confirm a 'notify me' alert with the link of its e-mail (double opt-in): it "
    "joins the product's queue. The link works once (LINK_USED after) and expires "
    "(LINK_EXPIRED).",
)
