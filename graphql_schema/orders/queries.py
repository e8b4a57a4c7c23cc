"""Order queries: ``order``, ``orderByNumber``, ``orders`` (the ops PreOrder/Backorder tabs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.services import policy
from app.services.orders import reads
from app.services.orders.reads import OrderFilter
from graphql_schema.auth import require, require_reader
from graphql_schema.context import Context
from graphql_schema.errors import PublicError
from graphql_schema.orders.types import LineState, Order, OrderStatus
from graphql_schema.relay import (
    Connection,
    check_page_size,
    decode_cursor,
    make_connection,
    parse_global_id,
)


@strawberry.input(description="The ops views: the PreOrder tab is state: PRE_ORDER, and so on.")
class OrderFilterInput:
    state: LineState | None = None
    status: OrderStatus | None = None
    tag: str | None = None
    channel: str | None = None
    sku: str | None = None
    placed_from: datetime | None = None
    placed_to: datetime | None = None


def order_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(parse_global_id("Order", value))
    except (PublicError, ValueError):
        return None


async def readable_order(
    info: Info[Context, Any], order_id: uuid.UUID | None, token: str | None
) -> Order | None:
    """The order when the caller may read it (``policy.may_read_order``), else None, the same
    answer as for an order that does not exist."""
    actor = await require_reader(info, token)
    if order_id is None:
        return None
    row = await info.context.loaders.order_by_id.load(order_id)
    if row is None or not policy.may_read_order(
        actor, row["channel_code"], reads.token_matches(row, token)
    ):
        return None
    return Order.from_row(row)


@strawberry.type
class OrderQueries:
    @strawberry.field(description="One order by id; a storefront passes the order token.")
    async def order(
        self, info: Info[Context, Any], id: strawberry.ID, token: str | None = None
    ) -> Order | None:
        return await readable_order(info, order_uuid(id), token)

    @strawberry.field(description="One order by its number, e.g. PO-2026-000123.")
    async def order_by_number(
        self, info: Info[Context, Any], number: str, token: str | None = None
    ) -> Order | None:
        await require_reader(info, token)
        order_id = await reads.order_id_by_number(info.context.services, number)
        return await readable_order(info, order_id, token)

    @strawberry.field(description="Orders newest first (ops: all; a channel key: its own).")
    async def orders(
        self,
        info: Info[Context, Any],
        first: int | None = 20,
        after: str | None = None,
        filter: OrderFilterInput | None = None,
    ) -> Connection[Order]:
        actor = await require(
            info,
            policy.may_list_orders,
            "Order lists need the 'ops' scope or the scope of exactly one channel.",
        )
        channel_only = policy.order_list_channel(actor)
        size = check_page_size(first)
        cursor = decode_cursor("order", after)
        after_key = None
        if cursor is not None:
            stamp, _, raw_id = cursor.partition("|")
            try:
                after_key = (datetime.fromisoformat(stamp), uuid.UUID(raw_id))
            except ValueError:
                raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
        flt = filter or OrderFilterInput()
        rows = await reads.list_orders(
            info.context.services,
            OrderFilter(
                state=flt.state.value if flt.state else None,
                status=flt.status.value if flt.status else None,
                tag=flt.tag,
                channel=flt.channel,
                sku=flt.sku,
                placed_from=flt.placed_from,
                placed_to=flt.placed_to,
            ),
            size + 1,
            after_key,
            channel_only,
        )
        for row in rows:
            info.context.loaders.order_by_id.prime(row["id"], row)
        return make_connection(
            [Order.from_row(r) for r in rows],
            size,
            key=lambda o: f"{o.placed_at.isoformat()}|{o._db_id}",
            kind="order",
            has_previous=after_key is not None,
        )
