"""receiveGoods: a goods receipt; units go FIFO to the waiting lines before anything re-opens
as READY stock (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import supply
from app.services.results import Result
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import SupplyError, user_errors
from graphql_schema.supply.mutations.common import no_supply, supply_key
from graphql_schema.supply.types import GoodsReceipt


@strawberry.input
class ReceiveGoodsInput:
    sku: str
    quantity: int
    location: str
    reference: str = strawberry.field(description="The goods receipt (GRN) number.")
    supply_id: strawberry.ID | None = strawberry.field(
        default=None, description="The purchase order or production run it is booked against."
    )


@strawberry.type
class ReceiveGoodsPayload:
    receipt: GoodsReceipt | None
    user_errors: list[SupplyError]


async def receive_goods(info: Info[Context, Any], input: ReceiveGoodsInput) -> ReceiveGoodsPayload:
    actor = await require_ops(info)
    supply_id = None if input.supply_id is None else supply_key(input.supply_id)
    result: Result[Any]
    if input.supply_id is not None and supply_id is None:
        result = Result(errors=no_supply("supplyId"))
    else:
        result = await supply.receive_goods(
            info.context.services,
            actor,
            supply.ReceiptInput(
                sku=input.sku,
                quantity=input.quantity,
                location=input.location,
                reference=input.reference,
                supply_id=supply_id,
            ),
        )
    info.context.loaders.orders_changed()
    return ReceiveGoodsPayload(
        receipt=GoodsReceipt.from_receipt(result.value) if result.value else None,
        user_errors=user_errors(SupplyError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=receive_goods,
    description="Book a goods receipt: units go FIFO to waiting backorders and released "
    "pre-orders (ring-fenced) before anything re-opens as READY stock.",
)
