""" "Notify me": the ``AvailabilityAlert`` type and its status (never the alert's address)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.services.notifications import alerts
from app.services.notifications.alerts import AlertView, AvailabilityAlertStatus
from graphql_schema.auth import current_actor
from graphql_schema.context import Context
from graphql_schema.enums import AvailabilityState
from graphql_schema.node import Node, register
from graphql_schema.orders.types import line_number as positive_id
from graphql_schema.relay import global_id

strawberry.enum(
    AvailabilityAlertStatus,
    name="AvailabilityAlertStatus",
    description="Where a 'notify me' alert is: PENDING (waiting for the customer to confirm "
    "it from the e-mail), CONFIRMED (in the SKU's queue, in sign-up order), NOTIFIED (its "
    "alert went out), CANCELLED.",
)


@strawberry.type(
    description="A 'notify me' sign-up for a sold-out product: sent, in sign-up order, once "
    "the customer confirmed it and the product can be ordered again (in stock, pre-order or "
    "backorder)."
)
class AvailabilityAlert(Node):
    sku: str
    status: AvailabilityAlertStatus
    opened_state: AvailabilityState | None = strawberry.field(
        description="What opened when its alert went out (NOTIFIED alerts)."
    )
    created_at: datetime = strawberry.field(description="When the customer signed up.")
    confirmed_at: datetime | None
    notified_at: datetime | None

    @classmethod
    def from_view(cls, view: AlertView) -> AvailabilityAlert:
        return cls(
            id=global_id("AvailabilityAlert", str(view.id)),
            sku=view.sku,
            status=view.status,
            opened_state=AvailabilityState(view.opened_state) if view.opened_state else None,
            created_at=view.created_at,
            confirmed_at=view.confirmed_at,
            notified_at=view.notified_at,
        )


async def _alert_node(info: Info[Context, Any], key: str) -> AvailabilityAlert | None:
    number = positive_id(key)
    if number is None:
        return None
    found = await alerts.by_ids(info.context.services, await current_actor(info), [number])
    view = found.get(number)
    return AvailabilityAlert.from_view(view) if view else None


register("AvailabilityAlert", _alert_node)
