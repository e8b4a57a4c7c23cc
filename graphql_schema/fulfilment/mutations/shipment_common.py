"""What the shipment mutations share: the shipment an input names, and the answer (the
shipment as it is now, and the use case's errors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types import Info

from app.services.error_codes import FulfilmentErrorCode
from app.services.results import Actor, Result, ServiceError
from graphql_schema.auth import require_order_manager
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError, input_errors, user_errors
from graphql_schema.fulfilment.types import Shipment, changed_shipment, shipment_key

NO_SHIPMENT = [ServiceError(("input", "id"), FulfilmentErrorCode.NOT_FOUND, "No such shipment.")]


async def run(
    info: Info[Context, Any],
    global_id: str,
    call: Callable[[Actor, int], Awaitable[Result[int]]],
) -> tuple[Shipment | None, list[FulfilmentError]]:
    """Check the caller (ops and channel keys; another channel's shipment is NOT_FOUND), run
    the use case on the shipment ``global_id`` names, and answer with the shipment as it is
    now (also after a refusal that changed it, e.g. on hold after a declined capture)."""
    actor = await require_order_manager(info)
    shipment_id = shipment_key(global_id)
    result: Result[int] = (
        Result(errors=NO_SHIPMENT) if shipment_id is None else await call(actor, shipment_id)
    )
    shipment = await changed_shipment(info, result.value) if result.value is not None else None
    return shipment, user_errors(FulfilmentError, input_errors(result.errors))
