"""markShipmentDelivered: the date a dispatched shipment arrived, for promise accuracy (ops and
the shipment's channel)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipments
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError
from graphql_schema.fulfilment.mutations.shipment_common import run
from graphql_schema.fulfilment.types import Shipment


@strawberry.input
class MarkShipmentDeliveredInput:
    id: strawberry.ID
    delivered_on: date


@strawberry.type
class MarkShipmentDeliveredPayload:
    shipment: Shipment | None
    user_errors: list[FulfilmentError]


async def mark_shipment_delivered(
    info: Info[Context, Any], input: MarkShipmentDeliveredInput
) -> MarkShipmentDeliveredPayload:
    services = info.context.services
    shipment, errors = await run(
        info,
        input.id,
        lambda actor, sid: shipments.mark_delivered(services, actor, sid, input.delivered_on),
    )
    return MarkShipmentDeliveredPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=mark_shipment_delivered,
    description="Record that a DISPATCHED shipment arrived (DELIVERED): its lines' delivery "
    "date feeds promise accuracy.",
)
