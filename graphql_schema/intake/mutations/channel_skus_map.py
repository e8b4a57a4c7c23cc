"""mapChannelSkus: a channel's own SKU codes mapped to ours (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services.intake import admin
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import IntakeError, input_errors, user_errors


@strawberry.input
class ChannelSkuMappingInput:
    external_sku: str = strawberry.field(description="The channel's code.")
    sku: str | None = strawberry.field(description="Ours; null removes the mapping.")


@strawberry.input
class MapChannelSkusInput:
    channel: str
    mappings: list[ChannelSkuMappingInput]


@strawberry.type
class MapChannelSkusPayload:
    mapped: int = strawberry.field(description="How many mappings were set or removed.")
    user_errors: list[IntakeError]


async def map_channel_skus(
    info: Info[Context, Any], input: MapChannelSkusInput
) -> MapChannelSkusPayload:
    actor = await require_ops(info)
    pairs = [(m.external_sku, m.sku) for m in input.mappings]
    result = await admin.map_skus(info.context.services, actor, input.channel, pairs)
    if result.value is None:
        return MapChannelSkusPayload(
            mapped=0, user_errors=user_errors(IntakeError, input_errors(result.errors))
        )
    return MapChannelSkusPayload(mapped=result.value, user_errors=[])


FIELD = strawberry.mutation(
    resolver=map_channel_skus,
    description="Map a channel's SKU codes to ours (up to 1000 at once): a MARKETPLACE "
    "channel's items are read through this map; an unmapped code refuses the order with "
    "UNMAPPED_SKU (replay it after mapping).",
)
