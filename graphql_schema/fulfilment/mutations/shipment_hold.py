"""holdShipment: stop a shipment before dispatch, with a reason (ops and the shipment's
channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipments
from graphql_schema.context import Context
from graphql_schema.enums import HoldReason
from graphql_schema.errors import FulfilmentError
from graphql_schema.fulfilment.mutations.shipment_common import run
from graphql_schema.fulfilment.types import Shipment


@strawberry.input
class HoldShipmentInput:
    id: strawberry.ID
    reason: HoldReason
    note: str | None = strawberry.field(default=None, description="What ops should know.")


@strawberry.type
class HoldShipmentPayload:
    shipment: Shipment | None
    user_errors: list[FulfilmentError]


async def hold_shipment(info: Info[Context, Any], input: HoldShipmentInput) -> HoldShipmentPayload:
    services = info.context.services
    shipment, errors = await run(
        info,
        input.id,
        lambda actor, sid: shipments.hold(services, actor, sid, input.reason.value, input.note),
    )
    return HoldShipmentPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=hold_shipment,
    description="Put a shipment ON_HOLD from any step before dispatch; releaseShipment "
    "takes it back to that step.",
)
