"""Shared resolver bodies for availability and pools (used by Query and by Product)."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.services import availability as availability_service
from graphql_schema.context import Context
from graphql_schema.inventory.types import Availability, InventoryPool, PoolKind, pools_of


async def availability_for(
    context: Context,
    sku: str,
    quantity: int = 1,
    channel: str | None = None,
    region: str | None = None,
    carrier_service: str | None = None,
) -> Availability:
    loaders = context.loaders
    record = await loaders.record_by_sku.load(sku)
    reference = await loaders.reference()
    result = await availability_service.product_availability(
        context.services, record, sku, quantity, channel, region, reference, carrier_service
    )
    if result.value is None:
        return Availability.rejected(sku, quantity, result.errors)
    return Availability.from_answer(result.value)


async def pools_for(
    info: Info[Context, Any], sku: str, kind: PoolKind | None = None
) -> list[InventoryPool]:
    record = await info.context.loaders.record_by_sku.load(sku)
    if record is None:
        return []
    return pools_of(record, info.context.services.today(), kind)
