"""setChannelFulfilment: a sales channel's dispatch SLA, daily cut-off and auto-consolidation
(ops)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from app.services import channels
from app.services.channels import ChannelFulfilment as ChannelFulfilmentView
from graphql_schema.auth import require_ops
from graphql_schema.context import Context
from graphql_schema.errors import FulfilmentError, user_errors


@strawberry.type(
    description="How a sales channel's shipments are worked: the dispatch deadline of a "
    "shipment is slaHours after it could first be worked, counted from the next day when it "
    "came after the cut-off (store time)."
)
class ChannelFulfilment:
    channel: str
    sla_hours: int = strawberry.field(description="Hours from ready to dispatched.")
    cutoff_time: str = strawberry.field(
        description="In force, as HH:MM (store time): the channel's own cut-off, else "
        "OMS_DEFAULT_CUTOFF_TIME."
    )
    own_cutoff_time: str | None = strawberry.field(
        description="The channel's own cut-off; null: the store's applies."
    )
    auto_consolidate: bool = strawberry.field(
        description="One customer's pre-order and backorder lines released together ship as "
        "one shipment."
    )

    @classmethod
    def from_view(cls, view: ChannelFulfilmentView) -> ChannelFulfilment:
        own = view.own_cutoff_time
        return cls(
            channel=view.channel,
            sla_hours=view.sla_hours,
            cutoff_time=view.cutoff_time.strftime("%H:%M"),
            own_cutoff_time=own.strftime("%H:%M") if own is not None else None,
            auto_consolidate=view.auto_consolidate,
        )


@strawberry.input(description="Replaces a channel's fulfilment settings.")
class SetChannelFulfilmentInput:
    channel: str
    sla_hours: int = strawberry.field(description="1 to 720.")
    cutoff_time: str | None = strawberry.field(
        default=None,
        description="HH:MM, store time (00:00 to 23:59); null: the store's "
        "(OMS_DEFAULT_CUTOFF_TIME).",
    )
    auto_consolidate: bool = False


@strawberry.type
class SetChannelFulfilmentPayload:
    fulfilment: ChannelFulfilment | None
    user_errors: list[FulfilmentError]


async def set_channel_fulfilment(
    info: Info[Context, Any], input: SetChannelFulfilmentInput
) -> SetChannelFulfilmentPayload:
    actor = await require_ops(info)
    result = await channels.set_channel_fulfilment(
        info.context.services,
        actor,
        input.channel,
        input.sla_hours,
        input.cutoff_time,
        input.auto_consolidate,
    )
    return SetChannelFulfilmentPayload(
        fulfilment=ChannelFulfilment.from_view(result.value) if result.value else None,
        user_errors=user_errors(FulfilmentError, result.errors),
    )


FIELD = strawberry.mutation(
    resolver=set_channel_fulfilment,
    description="Set a sales channel's dispatch SLA, daily cut-off and auto-consolidation "
    "(ops; in the event ledger). Shipments opened from then on follow them.",
)
