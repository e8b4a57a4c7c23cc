"""What pauseOrder, resumeOrder, pauseOrderLine and resumeOrderLine share."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.services import queue
from app.services.error_codes import QueueErrorCode
from app.services.results import Changed, Result
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.orders.mutations.changed import line_key, no_order, order_key


async def set_paused(
    info: Info[Context, Any], order_gid: str, line_gid: str | None, paused: bool
) -> tuple[Any, int | None, Result[Changed]]:
    """``(order id, line id, result)`` of pausing or resuming an order or one of its lines."""
    actor = await require_order_manager(info)
    order_id = order_key(order_gid)
    line_id = line_key(line_gid) if line_gid is not None else None
    if order_id is None:
        field = "orderId" if line_gid is not None else "id"
        return None, line_id, Result(errors=no_order(field, QueueErrorCode.NOT_FOUND))
    result = await queue.set_paused(info.context.services, actor, order_id, line_id, paused)
    return order_id, line_id, result
