"""Shipment queries: ``shipment(id)`` and ``shipments(filter, first, after)`` (ops: all; a
channel key: its channel's)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import policy, shipments
from graphql_schema.auth import require
from graphql_schema.context import Context
from graphql_schema.enums import FulfilmentKind, ShipmentStatus, ShipmentUrgency
from graphql_schema.fulfilment.types import Shipment, readable_shipment, shipment_key
from graphql_schema.orders.mutations.changed import order_key
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_int_cursor,
    make_connection,
)


@strawberry.input(description="Which shipments: every condition given must hold.")
class ShipmentFilterInput:
    status: ShipmentStatus | None = None
    kind: FulfilmentKind | None = None
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="Shipments holding lines of this order."
    )
    urgency: ShipmentUrgency | None = strawberry.field(
        default=None, description="Shipments still in the warehouse with this urgency now."
    )


@strawberry.type
class FulfilmentQueries:
    @strawberry.field(
        description="One shipment by id (ops and its channel's key); null when there is none."
    )
    async def shipment(self, info: Info[Context, Any], id: strawberry.ID) -> Shipment | None:
        await require(
            info, policy.may_manage_orders, "Shipments need the 'ops' or a channel scope."
        )
        return await readable_shipment(info, shipment_key(id))

    @strawberry.field(description="Shipments newest first (ops: all; a channel key: its own).")
    async def shipments(
        self,
        info: Info[Context, Any],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: ShipmentFilterInput | None = None,
    ) -> Connection[Shipment]:
        actor = await require(
            info,
            policy.may_list_orders,
            "Shipment lists need the 'ops' scope or the scope of exactly one channel.",
        )
        channel_only = policy.order_list_channel(actor)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        before_id = decode_int_cursor("shipment", after)
        flt = filter or ShipmentFilterInput()
        order_id = None
        if flt.order_id is not None:
            order_id = order_key(flt.order_id)
            if order_id is None:  # names no order: no shipment holds its lines
                return make_connection([], size, str, "shipment", before_id is not None, _zero)
        found = shipments.shipment_filter(
            services,
            flt.status.value if flt.status else None,
            flt.kind.value if flt.kind else None,
            order_id,
            flt.urgency,
        )
        rows = await shipments.list_shipments(services, found, size + 1, before_id, channel_only)
        for row in rows:
            info.context.loaders.shipment_by_id.prime(int(row["id"]), row)

        async def count() -> int:
            return await shipments.count_shipments(services, found, channel_only)

        return make_connection(
            [Shipment.from_row(r) for r in rows],
            size,
            key=lambda s: str(s._db_id),
            kind="shipment",
            has_previous=before_id is not None,
            count=count,
        )


async def _zero() -> int:
    return 0
