"""What the order mutations answer with: the order (and line) as they are now."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.types import Info

from app.services.error_codes import OrderErrorCode
from app.services.results import ServiceError
from graphql_schema.context import Context
from graphql_schema.orders.types import Order, OrderLine, line_number, order_uuid
from graphql_schema.relay import split_global_id


async def changed_order(info: Info[Context, Any], order_id: uuid.UUID) -> Order | None:
    """The order after a change: the request's loaders forget what they read of it."""
    info.context.loaders.orders_changed()
    row = await info.context.loaders.order_by_id.load(order_id)
    return Order.from_row(row) if row else None


async def changed_line(
    info: Info[Context, Any], order_id: uuid.UUID, line_id: int
) -> tuple[Order | None, OrderLine | None]:
    """The order and one of its lines after a change."""
    order = await changed_order(info, order_id)
    if order is None:
        return None, None
    for row in await info.context.loaders.lines_by_order.load(order_id):
        if row["id"] == line_id:
            return order, OrderLine.from_row(row, order._currency)
    return order, None


def order_key(global_id: str) -> uuid.UUID | None:
    """The order a global ``Order`` ID names; None for anything else (answered NOT_FOUND)."""
    parts = split_global_id(global_id)
    return order_uuid(parts[1]) if parts and parts[0] == "Order" else None


def line_key(global_id: str) -> int:
    """The line an ``OrderLine`` global ID names; -1 for anything else (NOT_FOUND)."""
    parts = split_global_id(global_id)
    number = line_number(parts[1]) if parts and parts[0] == "OrderLine" else None
    return -1 if number is None else number


def no_order(field: str, code: Any = OrderErrorCode.NOT_FOUND) -> list[ServiceError]:
    return [ServiceError(("input", field), code, "No such order.")]
