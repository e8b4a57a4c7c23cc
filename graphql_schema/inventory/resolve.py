"""Shared resolver bodies for availability and pools (used by Query and by Product)."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from app.services import availability as availability_service
from graphql_schema.context import Context
from graphql_schema.errors import argument_error
from graphql_schema.inventory.types import Availability, InventoryPool, pools_of


async def availability_for(
    context: Context,
    sku: str,
    quantity: int = 1,
    channel: str | None = None,
    region: str | None = None,
    carrier_service: str | None = None,
) -> Availability:
    """The PDP answer; a bad argument (an unknown SKU, channel, region or carrier service, a
    quantity out of range) is the field's error, with the argument in ``extensions.field``."""
    loaders = context.loaders
    record = await loaders.record_by_sku.load(sku)
    reference = await loaders.reference()
    result = await availability_service.product_availability(
        context.services, record, sku, quantity, channel, region, reference, carrier_service
    )
    if result.value is None or record is None:
        raise argument_error(result.errors)
    return Availability.from_answer(result.value, record.currency)


async def pools_for(info: Info[Context, Any], sku: str, kind: Any = None) -> list[InventoryPool]:
    record = await info.context.loaders.record_by_sku.load(sku)
    if record is None:
        return []
    return pools_of(record, info.context.services.today(), kind)
