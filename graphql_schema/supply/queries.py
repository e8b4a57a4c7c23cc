"""Supply queries: supply records, available-to-promise, promise accuracy, a line's estimate."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import shipping
from app.services import supply as supply_service
from app.services.orders import reads
from graphql_schema.auth import require_internal, require_reader
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.inventory.types import DeliveryEstimate, to_user_errors
from graphql_schema.orders.queries import readable_order
from graphql_schema.orders.types import OrderLine
from graphql_schema.relay import (
    MAX_PAGE,
    Connection,
    Edge,
    PageInfo,
    decode_cursor,
    encode_cursor,
    parse_global_id,
)
from graphql_schema.supply.types import (
    AvailableToPromise,
    CarrierService,
    PromiseAccuracy,
    PromiseDate,
    Supply,
    SupplyStatus,
)


def line_db_id(value: str) -> int | None:
    try:
        line_id = int(parse_global_id("OrderLine", value))
    except (ValueError, PublicError):
        return None
    return line_id if 0 < line_id < 2**63 else None


@strawberry.type
class SupplyQueries:
    @strawberry.field(description="Inbound supply (ops and channel keys), oldest first.")
    async def supply(
        self,
        info: Info[Context, Any],
        sku: str | None = None,
        status: SupplyStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[Supply]:
        await require_internal(info)
        if not 0 < first <= MAX_PAGE:
            raise PublicError(f"first must be between 1 and {MAX_PAGE}.", "INVALID_PAGE")
        cursor = decode_cursor("supply", after)
        # ASCII digits only ("²".isdigit() too) and within bigint, else a bad cursor
        digits = cursor is not None and cursor.isascii() and cursor.isdigit()
        after_id = int(cursor) if digits and cursor and len(cursor) < 19 else None
        if cursor is not None and after_id is None:
            raise PublicError("Invalid cursor.", "INVALID_CURSOR")
        rows = await supply_service.supply_page(
            info.context.services, sku, first + 1, after_id, status.value if status else None
        )
        page = rows[:first]
        edges = [
            Edge(cursor=encode_cursor("supply", str(r["id"])), node=Supply.from_row(r))
            for r in page
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first,
                has_previous_page=after_id is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="What can still be promised to new demand by when: cumulative quantities "
        "from on-hand stock, open supply and the demand already waiting (ops and channel keys)."
    )
    async def available_to_promise(
        self, info: Info[Context, Any], sku: str, channel: str | None = None
    ) -> AvailableToPromise:
        # the open supply schedule and channel holds show through: internal, like ``supply``
        await require_internal(info)
        result = await supply_service.atp(info.context.services, sku, channel)
        return AvailableToPromise(
            sku=sku,
            channel=channel,
            entries=[PromiseDate(date=e.on, quantity=e.quantity) for e in result.value or []],
            user_errors=to_user_errors(result.errors),
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
        line_id = line_db_id(order_line_id)
        order_id = (
            await reads.order_id_of_line(info.context.services, line_id)
            if line_id is not None
            else None
        )
        if order_id is None:
            return None
        order = await readable_order(info, order_id, token)
        if order is None:
            return None
        rows = await info.context.loaders.lines_by_order.load(order_id)
        for row in rows:
            if row["id"] == line_id:
                line = OrderLine.from_row(row, order.total.currency)
                estimate: DeliveryEstimate | None = await line.delivery_estimate(info)
                return estimate
        return None
