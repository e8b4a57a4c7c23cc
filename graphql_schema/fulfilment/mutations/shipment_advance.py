"""advanceShipment: the next warehouse step, PICKING → PACKED → AWAITING_SHIPMENT (ops and
the shipment's channel)."""

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
class AdvanceShipmentInput:
    id: strawberry.ID


@strawberry.type
class AdvanceShipmentPayload:
    shipment: Shipment | None
    user_errors: list[FulfilmentError]


async def advance_shipment(
    info: Info[Context, Any], input: AdvanceShipmentInput
) -> AdvanceShipmentPayload:
    services = info.context.services
    shipment, errors = await run(
        info, input.id, lambda actor, sid: shipments.advance(services, actor, sid)
    )
    return AdvanceShipmentPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=advance_shipment,
    description="Move a shipment to its next warehouse step: PICKING → PACKED → "
    "AWAITING_SHIPMENT (INVALID_TRANSITION from any other step).",
)
