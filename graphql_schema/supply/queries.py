"""Supply queries: supply records, available-to-promise, promise accuracy, a line's estimate."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import shipping
from app.services import supply as supply_service
from app.services.orders import reads
from graphql_schema.auth import require_internal, require_reader
from graphql_schema.context import Context
from graphql_schema.errors import argument_error
from graphql_schema.inventory.types import DeliveryEstimate
from graphql_schema.orders.mutations.changed import line_key
from graphql_schema.orders.types import OrderLine, readable_order_row
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_int_cursor,
    make_connection,
)
from graphql_schema.supply.types import (
    AvailableToPromise,
    CarrierService,
    PromiseAccuracy,
    PromiseDate,
    Supply,
    SupplyStatus,
)


@strawberry.type
class SupplyQueries:
    @strawberry.field(description="Inbound supply (ops and channel keys), oldest first.")
    async def supply(
        self,
        info: Info[Context, Any],
        sku: str | None = None,
        status: SupplyStatus | None = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[Supply]:
        await require_internal(info)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        after_id = decode_int_cursor("supply", after)
        state = status.value if status else None
        rows = await supply_service.supply_page(services, sku, size + 1, after_id, state)

        async def count() -> int:
            return await supply_service.count_supply(services, sku, state)

        return make_connection(
            [Supply.from_row(r) for r in rows],
            size,
            key=lambda s: str(s._db_id),
            kind="supply",
            has_previous=after_id is not None,
            count=count,
        )

    @strawberry.field(
        description="What can still be promised to new demand by when: cumulative quantities "
        "from on-hand stock, open supply and the demand already waiting (ops and channel "
        "keys). An unknown SKU is this field's error."
    )
    async def available_to_promise(
        self, info: Info[Context, Any], sku: str, channel: str | None = None
    ) -> AvailableToPromise | None:
        # the open supply schedule and channel holds show through: internal, like ``supply``
        await require_internal(info)
        result = await supply_service.atp(info.context.services, sku, channel)
        if result.value is None:
            raise argument_error(result.errors)
        return AvailableToPromise(
            sku=sku,
            channel=channel,
            entries=[PromiseDate(date=e.on, quantity=e.quantity) for e in result.value],
        )

    @strawberry.field(
        description="Promise accuracy of delivered lines against their first promise, for a "
        "SKU or overall (ops and channel keys)."
    )
    async def promise_accuracy(
        self, info: Info[Context, Any], sku: str | None = None
    ) -> PromiseAccuracy:
        await require_internal(info)
        acc = await reads.accuracy(info.context.services, sku)
        return PromiseAccuracy(
            sku=sku,
            delivered_lines=acc.delivered_lines,
            on_time_lines=acc.on_time_lines,
            average_deviation_percent=acc.average_deviation_percent,
            target_percent=acc.target_percent,
            meets_target=acc.meets_target,
        )

    @strawberry.field(description="Carrier services with their transit days, by region.")
    async def carrier_services(
        self, info: Info[Context, Any], region: str | None = None
    ) -> list[CarrierService]:
        rows = await shipping.list_carrier_services(info.context.services, region)
        return [CarrierService.from_row(r) for r in rows]

    @strawberry.field(description="A waiting line's current delivery window.")
    async def delivery_estimate(
        self, info: Info[Context, Any], order_line_id: strawberry.ID, token: str | None = None
    ) -> DeliveryEstimate | None:
        await require_reader(info, token)
        line_id = line_key(order_line_id)
        order_id = (
            await info.context.loaders.order_id_by_line.load(line_id) if line_id > 0 else None
        )
        row = await readable_order_row(info, order_id, token)
        if row is None:
            return None
        for line in await info.context.loaders.lines_by_order.load(order_id):
            if line["id"] == line_id:
                found: DeliveryEstimate | None = await OrderLine.from_row(
                    line, row["currency"]
                ).delivery_estimate(info)
                return found
        return None
