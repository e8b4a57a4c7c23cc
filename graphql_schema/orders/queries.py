"""Order queries: ``order``, ``orderByNumber``, ``orders`` (the ops PreOrder/Backorder tabs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.orders import reads
from app.services.orders.reads import OrderFilter
from graphql_schema.auth import require, require_reader
from graphql_schema.context import Context
from graphql_schema.enums import LineState, OrderStatus
from graphql_schema.errors import PublicError, argument_error
from graphql_schema.orders.types import Order, order_uuid, readable_order_row
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_cursor,
    make_connection,
    parse_global_id,
)

TOKEN = "The order token shown at placement: lets a storefront or a customer read the order."


@strawberry.input(description="The ops views: the PreOrder tab is state: PRE_ORDER, and so on.")
class OrderFilterInput:
    state: LineState | None = None
    status: OrderStatus | None = None
    tag: str | None = None
    channel: str | None = None
    sku: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None


def order_id_of(global_id: str) -> uuid.UUID | None:
    try:
        return order_uuid(parse_global_id("Order", global_id))
    except PublicError:
        return None


async def readable_order(
    info: Info[Context, Any], order_id: uuid.UUID | None, token: str | None
) -> Order | None:
    row = await readable_order_row(info, order_id, token)
    return Order.from_row(row) if row else None


@strawberry.type
class OrderQueries:
    @strawberry.field(description="One order by id; a storefront passes the order token.")
    async def order(
        self,
        info: Info[Context, Any],
        id: strawberry.ID,
        token: Annotated[str | None, strawberry.argument(description=TOKEN)] = None,
    ) -> Order | None:
        await require_reader(info, token)
        return await readable_order(info, order_id_of(id), token)

    @strawberry.field(description="One order by its number, e.g. PO-2026-000123.")
    async def order_by_number(
        self,
        info: Info[Context, Any],
        number: str,
        token: Annotated[str | None, strawberry.argument(description=TOKEN)] = None,
    ) -> Order | None:
        await require_reader(info, token)
        order_id = await reads.order_id_by_number(info.context.services, number)
        return await readable_order(info, order_id, token)

    @strawberry.field(description="Orders newest first (ops: all; a channel key: its own).")
    async def orders(
        self,
        info: Info[Context, Any],
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        filter: OrderFilterInput | None = None,
    ) -> Connection[Order]:
        actor = await require(
            info,
            policy.may_list_orders,
            "Order lists need the 'ops' scope or the scope of exactly one channel.",
        )
        channel_only = policy.order_list_channel(actor)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        cursor = decode_cursor("order", after)
        after_key = None
        if cursor is not None:
            stamp, _, raw_id = cursor.partition("|")
            try:
                placed_at = datetime.fromisoformat(stamp)
                placed_at.astimezone(UTC)  # one the database can compare (else OverflowError)
                after_key = (placed_at, uuid.UUID(raw_id))
            except (ValueError, OverflowError):
                raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
        flt = filter or OrderFilterInput()
        order_filter = OrderFilter(
            state=flt.state.value if flt.state else None,
            status=flt.status.value if flt.status else None,
            tag=flt.tag,
            channel=flt.channel,
            sku=flt.sku,
            placed_from=flt.placed_from,
            placed_to=flt.placed_to,
        )
        if errors := reads.filter_errors(services, order_filter):
            raise argument_error(errors)
        rows = await reads.list_orders(services, order_filter, size + 1, after_key, channel_only)
        for row in rows:
            info.context.loaders.order_by_id.prime(row["id"], row)

        async def count() -> int:
            return await reads.count_orders(services, order_filter, channel_only)

        return make_connection(
            [Order.from_row(r) for r in rows],
            size,
            key=lambda o: f"{o.placed_at.isoformat()}|{o._db_id}",
            kind="order",
            has_previous=after_key is not None,
            count=count,
        )
