"""cancelShipment: undo a shipment before dispatch; its lines wait for a new one (ops and the
shipment's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipments
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError
from graphql_schema.fulfilment.mutations.shipment_common import run
from graphql_schema.fulfilment.types import Shipment


@strawberry.input
class CancelShipmentInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.type
class CancelShipmentPayload:
    shipment: Shipment | None
    user_errors: list[FulfilmentError]


async def cancel_shipment(
    info: Info[Context, Any], input: CancelShipmentInput
) -> CancelShipmentPayload:
    services = info.context.services
    shipment, errors = await run(
        info, input.id, lambda actor, sid: shipments.cancel(services, actor, sid, input.reason)
    )
    return CancelShipmentPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=cancel_shipment,
    description="Cancel a shipment before dispatch: its lines wait for the next opening "
    "(the OPEN_SHIPMENTS job, or the next allocation of their SKU).",
)
