"""The warehouse's work list: ``fulfilmentQueue`` (one kind's open shipments by dispatch
deadline) and ``fulfilmentCounts`` (open, on time, at risk, breached and held, per kind).
Ops see every channel's; a key of exactly one channel sees its own channel's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.services import fulfilment_queue, policy
from app.services.results import Actor
from graphql_schema.auth import require
from graphql_schema.context import Context
from graphql_schema.enums import FulfilmentKind, ShipmentUrgency
from graphql_schema.errors import PublicError
from graphql_schema.fulfilment.types import Shipment
from graphql_schema.relay import (
    AFTER,
    FIRST,
    Connection,
    check_page_size,
    decode_cursor,
    make_connection,
)

CURSOR = "work"


@strawberry.type(
    description="A work list's open shipments: each is on time, at risk or breached (held "
    "ones too: a held shipment keeps its deadline); onHold of them are held."
)
class FulfilmentCount:
    kind: FulfilmentKind
    open: int
    on_time: int
    at_risk: int = strawberry.field(description="Within OMS_SHIPMENT_RISK_HOURS of the deadline.")
    breached: int = strawberry.field(description="Past the deadline, still in the warehouse.")
    on_hold: int


async def _reader(info: Info[Context, Any]) -> Actor:
    return await require(
        info,
        policy.may_list_orders,
        "The work list needs the 'ops' scope or the scope of exactly one channel.",
    )


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    value = decode_cursor(CURSOR, cursor)
    if value is None:
        return None
    stamp, _, raw_id = value.partition("|")
    try:
        deadline = datetime.fromisoformat(stamp)
        deadline.astimezone(UTC)  # one the database can compare (else OverflowError)
    except (ValueError, OverflowError):
        raise PublicError("Invalid cursor.", "INVALID_CURSOR") from None
    if deadline.tzinfo is None or not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19):
        raise PublicError("Invalid cursor.", "INVALID_CURSOR")
    return deadline, int(raw_id)


@strawberry.type
class FulfilmentQueueQueries:
    @strawberry.field(
        description="The warehouse's work list of one kind: open shipments (PICKING, PACKED, "
        "AWAITING_SHIPMENT, and ON_HOLD ones, shown by their status) by dispatch deadline, "
        "then id. READY work is a list of its own, so pre-orders released at a launch never "
        "push it back. Ops: every channel's; a channel key: its own channel's."
    )
    async def fulfilment_queue(
        self,
        info: Info[Context, Any],
        kind: FulfilmentKind,
        urgency: Annotated[
            list[ShipmentUrgency] | None,
            strawberry.argument(description="Only shipments this urgent (null: all)."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[Shipment]:
        actor = await _reader(info)
        services = info.context.services
        size = check_page_size(first, services.settings.max_page_size)
        after_key = _after(after)
        selection = fulfilment_queue.select(
            services, kind, urgency, policy.order_list_channel(actor)
        )
        rows = await fulfilment_queue.page(services, selection, after_key, size + 1)
        for row in rows:
            info.context.loaders.shipment_by_id.prime(int(row["id"]), row)

        async def count() -> int:
            return await fulfilment_queue.count(services, selection)

        return make_connection(
            [Shipment.from_row(r) for r in rows],
            size,
            key=lambda s: f"{s.dispatch_deadline.isoformat()}|{s._db_id}",
            kind=CURSOR,
            has_previous=after_key is not None,
            count=count,
        )

    @strawberry.field(
        description="Per work list (READY, PRE_ORDER, BACKORDER): open shipments, how many "
        "are on time, at risk, breached and on hold (ops: every channel's; a channel key: its "
        "own channel's)."
    )
    async def fulfilment_counts(self, info: Info[Context, Any]) -> list[FulfilmentCount]:
        actor = await _reader(info)
        found = await fulfilment_queue.counts(
            info.context.services, policy.order_list_channel(actor)
        )
        return [
            FulfilmentCount(
                kind=c.kind,
                open=c.open,
                on_time=c.on_time,
                at_risk=c.at_risk,
                breached=c.breached,
                on_hold=c.on_hold,
            )
            for c in found
        ]
