"""dispatchShipment: a packed shipment leaves with its carrier; stock leaves, what is due is
captured (ops and the shipment's channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipment_dispatch
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError
from graphql_schema.fulfilment.mutations.shipment_common import run
from graphql_schema.fulfilment.types import Shipment


@strawberry.input
class DispatchShipmentInput:
    id: strawberry.ID
    carrier: str = strawberry.field(description="Who carries the parcel.")
    tracking_number: str
    tracking_url: str | None = strawberry.field(
        default=None, description="Where the customer follows the parcel (http or https)."
    )
    location: str | None = strawberry.field(
        default=None, description="Default: the location with the most stock of each SKU."
    )


@strawberry.type
class DispatchShipmentPayload:
    shipment: Shipment | None = strawberry.field(
        description="The shipment now: DISPATCHED, or ON_HOLD (PAYMENT_FAILED) when the "
        "capture was declined."
    )
    user_errors: list[FulfilmentError]


async def dispatch_shipment(
    info: Info[Context, Any], input: DispatchShipmentInput
) -> DispatchShipmentPayload:
    services = info.context.services
    parcel = shipment_dispatch.Parcel(input.carrier, input.tracking_number, input.tracking_url)
    shipment, errors = await run(
        info,
        input.id,
        lambda actor, sid: shipment_dispatch.dispatch_shipment(
            services, actor, sid, parcel, input.location
        ),
    )
    return DispatchShipmentPayload(shipment=shipment, user_errors=errors)


FIELD = strawberry.mutation(
    resolver=dispatch_shipment,
    description="Dispatch a shipment AWAITING_SHIPMENT: stock leaves, units leave their "
    "pools, what is still due is captured, the customer gets the dispatch e-mail with the "
    "tracking link. A declined capture changes nothing but putting the shipment ON_HOLD "
    "(PAYMENT_FAILED), with a PAYMENT_DECLINED error.",
)
