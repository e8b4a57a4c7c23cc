"""setChannelLimits: how many units a sales channel's orders may take (ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import channels
from app.services.channels import ChannelLimits as ChannelLimitsView
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import CatalogError, user_errors


@strawberry.type(
    description="A sales channel's unit limits. Orders of storefront and channel keys above "
    "them are refused with LIMIT_EXCEEDED; ops keys are not bound."
)
class ChannelLimits:
    channel: str
    max_units_per_line: int = strawberry.field(
        description="In force: units one order line may ask for (the channel's own limit, "
        "else OMS_MAX_UNITS_PER_LINE)."
    )
    max_units_per_customer_sku: int = strawberry.field(
        description="In force: units of one SKU one customer (e-mail) may have on open "
        "orders (not cancelled, not shipped) on the channel, the new order included (the "
        "channel's own limit, else OMS_MAX_UNITS_PER_CUSTOMER_SKU)."
    )
    own_max_units_per_line: int | None = strawberry.field(
        description="The channel's own per-line limit; null: the default applies."
    )
    own_max_units_per_customer_sku: int | None = strawberry.field(
        description="The channel's own per-customer limit; null: the default applies."
    )

    @classmethod
    def from_view(cls, view: ChannelLimitsView) -> ChannelLimits:
        return cls(
            channel=view.channel,
            max_units_per_line=view.per_line,
            max_units_per_customer_sku=view.per_customer_sku,
            own_max_units_per_line=view.own_per_line,
            own_max_units_per_customer_sku=view.own_per_customer_sku,
        )


@strawberry.input(description="Replaces both limits of a channel; null = the default.")
class SetChannelLimitsInput:
    channel: str
    max_units_per_line: int | None = None
    max_units_per_customer_sku: int | None = None


@strawberry.type
class SetChannelLimitsPayload:
    limits: ChannelLimits | None
    user_errors: list[CatalogError]


async def set_channel_limits(
    info: Info[Context, Any], input: SetChannelLimitsInput
) -> SetChannelLimitsPayload:
    actor = await require_ops(info)
    result = await channels.set_channel_limits(
        info.context.services,
        actor,
        input.channel,
        input.max_units_per_line,
        input.max_units_per_customer_sku,
    )
    return SetChannelLimitsPayload(
        limits=ChannelLimits.from_view(result.value) if result.value else None,
        user_errors=user_errors(CatalogError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=set_channel_limits,
    description="Set a sales channel's unit limits: per order line, and per customer and SKU "
    "over open orders (ops; in the event ledger).",
)
