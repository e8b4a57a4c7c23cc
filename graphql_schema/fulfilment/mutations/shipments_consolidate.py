"""consolidateShipments: merge one customer's waiting pre-order and backorder shipments into
one, all or nothing (ops and the orders' channel)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import consolidation
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError, user_errors
from graphql_schema.fulfilment.types import Shipment, changed_shipment
from graphql_schema.orders.mutations.changed import order_key


@strawberry.input(
    description="Either orderIds, or customerEmail and sku (one customer's orders with a "
    "waiting line of that SKU)."
)
class ConsolidateShipmentsInput:
    order_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Orders of one customer (at most 50)."
    )
    customer_email: str | None = None
    sku: str | None = strawberry.field(
        default=None, description="With customerEmail: the shipments holding this SKU."
    )


@strawberry.type
class ConsolidateShipmentsPayload:
    shipment: Shipment | None = strawberry.field(description="The one the others merged into.")
    shipments_saved: int = strawberry.field(description="Shipments merged away (cancelled).")
    user_errors: list[FulfilmentError]


async def consolidate_shipments(
    info: Info[Context, Any], input: ConsolidateShipmentsInput
) -> ConsolidateShipmentsPayload:
    actor = await require_order_manager(info)
    order_ids = None if input.order_ids is None else [order_key(i) for i in input.order_ids]
    result = await consolidation.consolidate(
        info.context.services, actor, order_ids, input.customer_email, input.sku
    )
    done = result.value
    return ConsolidateShipmentsPayload(
        shipment=await changed_shipment(info, done.shipment_id) if done else None,
        shipments_saved=done.shipments_saved if done else 0,
        user_errors=user_errors(FulfilmentError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=consolidate_shipments,
    description="Merge one customer's waiting pre-order and backorder shipments (and released "
    "lines in no shipment yet) to one address by one carrier service into one shipment: the "
    "one with the earliest dispatch deadline, which keeps it. All or nothing: a shipment "
    "already packed, a line not allocated in full, another address, carrier service, "
    "channel or customer is a userError with its reason, and nothing changes.",
)
