"""releaseShipment: a held shipment goes back to the step it was held at (ops and the
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
class ReleaseShipmentInput:
    id: strawberry.ID


@strawberry.type
class ReleaseShipmentPayload:
    shipment: Shipment | None
    user_errors: list[FulfilmentError]


async def release_shipment(
    info: Info[Context, Any], input: ReleaseShipmentInput
) -> ReleaseShipmentPayload:
    services = info.context.services
    shipment, errors = await run(
        info, input.id, lambda actor, sid: shipments.release(services, actor, sid)
    )
    return ReleaseShipmentPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=release_shipment,
    description="Release a shipment on hold back to the step it was held at.",
)
